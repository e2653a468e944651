"""The "Re-run from here" button on a failed run's message, end to end: signed clicks into
``runbook serve``'s app, the fake Slack API through the real ``WebClient``, the re-run made
through the engine like from any door."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.server.serve import Server
from runbook_engine.slack.messages import RERUN
from runbook_engine.slack.settings import SlackSettings
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import (
    ALICE,
    EVE,
    FAST,
    SlackPlayer,
    button_value,
    ephemerals,
    run_message_of,
    texts,
)

FLAKY = """\
apiVersion: runbook/v1
name: flaky
version: 1
notify: {{channel: "#ops"}}
permissions: {{run: [U0ALICE]}}
parameters:
  {extra}
steps:
  - id: prepare
    action: shell.command
    with: {{command: "echo x >> {marks}/prepared-{name}; echo ready"}}
    outputs: {{word: "{{{{ result.stdout | trim }}}}"}}
  - id: apply
    action: shell.command
    with: {{command: "test -e {marks}/go && echo {{{{ steps.prepare.outputs.word }}}}"}}
"""


@pytest.fixture
def server(slack_env: Path) -> Iterator[Server]:
    books = slack_env / "runbooks"
    plain = FLAKY.format(extra="size: {type: integer, default: 1}", marks=slack_env, name="flaky")
    (books / "flaky.yaml").write_text(plain)
    secretive = FLAKY.format(
        extra="token: {type: string, secret: true}", marks=slack_env, name="secretive"
    ).replace("name: flaky", "name: secretive")
    (books / "secretive.yaml").write_text(secretive)
    srv = Server(SlackSettings.from_env(), FAST)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def finished(server: Server, fake: FakeSlack, runbook: str, *, count: int = 1) -> Any:
    """The newest run of ``runbook`` once there are ``count`` and it has finished."""

    def probe(_: FakeSlack) -> Any:
        runs = server.store.list_runs(runbook=runbook)
        done = len(runs) >= count and runs[0].status in ("failed", "succeeded")
        return runs[0] if done else None

    found = fake.wait_for(probe)
    assert server.notifier is not None and server.notifier.flush(10)
    return found


def with_button(fake: FakeSlack, run_id: str) -> Any:
    def probe(f: FakeSlack) -> Any:
        msg = run_message_of(f, run_id)
        has = msg is not None and any(b["type"] == "actions" for b in msg.blocks)
        return msg if has else None

    return fake.wait_for(probe)


def test_rerun_from_here_reruns_the_failed_step_and_posts_the_new_run(
    server: Server, player: SlackPlayer, fake: FakeSlack, slack_env: Path
) -> None:
    status, _, _ = player.command("run flaky size=3", user=ALICE)
    assert status == 200
    original = finished(server, fake, "flaky")
    assert original.status == "failed"
    msg = with_button(fake, original.id)
    value = button_value(msg, RERUN)
    assert '"step":"apply"' in value
    (slack_env / "go").touch()

    status, _, took = player.click(msg.channel, msg.ts, RERUN, value, user=ALICE)
    assert status == 200 and took < 3
    rerun = finished(server, fake, "flaky", count=2)
    assert rerun.id != original.id and rerun.status == "succeeded"
    assert rerun.params["size"] == 3  # the original's parameters
    assert (slack_env / "prepared-flaky").read_text() == "x\n"  # carried over, not run again
    link = server.engine.rerun_of(rerun)
    assert link == {"run": original.id, "from": "apply", "failed_hosts": False}
    posted = fake.wait_for(lambda f: run_message_of(f, rerun.id))
    assert posted.channel == fake.channel_id("#ops")
    shown = texts(posted.blocks)
    assert f"re-run of {original.id} (from apply)" in shown and "succeeded" in shown
    assert not any(b["type"] == "actions" for b in posted.blocks)  # it succeeded: no button
    told = fake.wait_for(lambda f: [t for t in ephemerals(f, ALICE) if "Re-running" in t])
    assert f"as run `{rerun.id}`" in told[0]


def test_who_may_not_run_it_is_refused_as_a_start_is(
    server: Server, player: SlackPlayer, fake: FakeSlack
) -> None:
    player.command("run flaky", user=ALICE)
    original = finished(server, fake, "flaky")
    msg = with_button(fake, original.id)
    player.command("run flaky", user=EVE)
    refused_start = fake.wait_for(lambda f: ephemerals(f, EVE))
    status, _, _ = player.click(msg.channel, msg.ts, RERUN, button_value(msg, RERUN), user=EVE)
    assert status == 200
    both = fake.wait_for(lambda f: ephemerals(f, EVE) if len(ephemerals(f, EVE)) >= 2 else None)
    assert "may not run" in refused_start[0]
    assert both[1] == refused_start[0]
    time.sleep(0.3)  # a run it started would be recorded by now
    assert len(server.store.list_runs(runbook="flaky")) == 1
    entries = [(e.action, e.outcome, e.target) for e in server.store.audit_since()]
    assert ("rerun", "refused", original.id) in entries


def test_a_runbook_with_secret_parameters_is_rerun_from_the_cli(
    server: Server, player: SlackPlayer, fake: FakeSlack
) -> None:
    player.command("run secretive token=hunter2-not-stored", user=ALICE)
    original = finished(server, fake, "secretive")
    assert original.status == "failed"
    msg = with_button(fake, original.id)
    player.click(msg.channel, msg.ts, RERUN, button_value(msg, RERUN), user=ALICE)
    told = fake.wait_for(lambda f: [t for t in ephemerals(f, ALICE) if ":lock:" in t])
    assert f"`runbook rerun {original.id} --from apply -p token=-`" in told[0]
    assert len(server.store.list_runs(runbook="secretive")) == 1
