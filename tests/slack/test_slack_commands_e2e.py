"""``/runbook`` subcommands, the parameter modal and approval timeouts, over real HTTP."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest

from runbook_engine.errors import RunbookError
from runbook_engine.server.serve import ServeOptions, Server
from runbook_engine.service import Engine
from runbook_engine.slack.interactions import slack_run_id
from runbook_engine.slack.prompts import APPROVE
from runbook_engine.slack.settings import SlackSettings
from runbook_engine.store import Store
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import (
    ALICE,
    BOB,
    CAROL,
    EVE,
    SlackPlayer,
    button_value,
    ephemerals,
    prompt_of,
    texts,
)
from tests.slack.test_slack_e2e import only_run, start_deploy, wait_status

TIMEOUT = """\
apiVersion: runbook/v1
name: timed
version: 1
notify: {channel: "#ops"}
permissions: {approve: ["U0BOB"]}
steps:
  - id: wait
    approval: {message: "go?", timeout: 1s, on_timeout: approve}
  - {id: done, action: log, with: {message: done}}
"""


def said(fake: FakeSlack, user: str, words: str) -> str:
    return str(fake.wait_for(lambda f: next((t for t in ephemerals(f, user) if words in t), "")))


def test_help_list_status(server: Server, player: SlackPlayer, fake: FakeSlack) -> None:
    for text in ("", "help"):
        status, _, took = player.command(text)
        assert status == 200 and took < 3
    assert "/runbook run NAME" in said(fake, ALICE, "commands")
    player.command("list", user=EVE)
    listing = said(fake, EVE, "quick")
    assert ":lock: *deploy*@1" in listing and "(needs service)" in listing
    assert "*quick*@1" in listing and ":lock: *quick*" not in listing
    player.command("status")
    assert "No runs yet" in said(fake, ALICE, "No runs")
    player.command("frobnicate")
    assert "unknown command" in said(fake, ALICE, "unknown")
    player.command("run ../runbooks/quick.yaml")  # Slack runs catalog runbooks, never files
    assert "not a path" in said(fake, ALICE, "not a path")

    run_id, _ = start_deploy(player, server, fake)
    player.command("status")
    assert f"`{run_id}` *deploy*@1 waiting approval" in said(fake, ALICE, "waiting approval")
    player.command(f"status {run_id}")
    detail = fake.wait_for(lambda f: [c for c in f.calls("response_url") if c.params.get("blocks")])
    assert "`approve`  waiting for approval" in texts(detail[-1].params["blocks"])


def test_modal_asks_for_missing_parameters(
    server: Server, player: SlackPlayer, fake: FakeSlack
) -> None:
    trigger = player.trigger()
    player.command("run deploy", trigger=trigger)
    opened = fake.wait_for(lambda f: f.calls("views.open"))
    view = opened[0].params["view"]
    assert opened[0].params["trigger_id"] == trigger
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == [
        "param:service",
        "param:token",
    ]
    bad = {"param:service": {"value": {"type": "plain_text_input", "value": "NOT valid"}}}
    status, body, _ = player.submit(view, bad, user=ALICE)
    answer = json.loads(body)
    assert status == 200 and answer["response_action"] == "errors"
    assert "param:service" in answer["errors"]
    assert server.store.list_runs() == []

    good = {"param:service": {"value": {"type": "plain_text_input", "value": "web"}}}
    assert player.submit(view, good, user=ALICE)[0] == 200
    assert player.submit(view, good, user=ALICE)[0] == 200  # a double click: still one run
    run = fake.wait_for(lambda f: server.store.list_runs())[0]
    assert run.id == slack_run_id(trigger)
    assert run.params["service"] == "web" and run.params["token"] == "***"
    wait_status(server, run.id, "waiting_approval")
    assert len(server.store.list_runs()) == 1


def test_approve_reject_cancel_commands(
    server: Server, player: SlackPlayer, fake: FakeSlack
) -> None:
    run_id, _ = start_deploy(player, server, fake)
    player.command(f"approve {run_id}", user=EVE)
    assert "not an approver" in said(fake, EVE, "approver")
    player.command(f"reject {run_id}", user=BOB)
    assert "needs a reason" in said(fake, BOB, "reason")
    player.command(f"cancel {run_id}", user=EVE)
    assert "may not cancel runs of deploy" in said(fake, EVE, "may not")
    player.command(f"approve {run_id[:6]} looks good", user=BOB)
    assert "You approved step `approve`" in said(fake, BOB, "You approved")
    wait_status(server, run_id, "succeeded")

    second = player.trigger()
    player.command("run deploy service=db", trigger=second)
    other = slack_run_id(second)
    wait_status(server, other, "waiting_approval")
    player.command(f"cancel {other} wrong service")
    assert "Cancel requested" in said(fake, ALICE, "Cancel requested")
    wait_status(server, other, "cancelled")


def test_approval_timeout_applies_on_timeout(
    server: Server, player: SlackPlayer, fake: FakeSlack, slack_env: Path
) -> None:
    (slack_env / "runbooks" / "timed.yaml").write_text(TIMEOUT)
    player.command("run timed")
    run = fake.wait_for(lambda f: server.store.list_runs())[0]
    wait_status(server, run.id, "succeeded", timeout=8)
    events = [e.type for e in server.store.events(run.id)]
    assert "approval.timed_out" in events
    assert server.notifier is not None
    assert server.notifier.flush(10)
    prompt = prompt_of(fake, run.id)
    assert prompt is not None and "timed out" in texts(prompt.blocks)
    assert only_run(server, "timed").status == "succeeded"


GATE = """\
apiVersion: runbook/v1
name: gate
version: 1
notify: {channel: "#ops"}
permissions: {approve: ["U0BOB"]}
steps:
  - id: ok
    approval: {message: "ok?"}
  - {id: done, action: log, with: {message: done}}
"""


def test_a_decision_from_the_cli_updates_slack(
    server: Server, player: SlackPlayer, fake: FakeSlack, slack_env: Path
) -> None:
    (slack_env / "runbooks" / "gate.yaml").write_text(GATE)
    player.command("run gate")
    run = fake.wait_for(lambda f: server.store.list_runs())[0]
    wait_status(server, run.id, "waiting_approval")
    fake.wait_for(lambda f: prompt_of(f, run.id))
    # what `runbook approve RUN --as U0BOB` does: its own engine decides and drives the run
    cli = Engine(store=Store.open(str(slack_env / "runbook.db")))
    try:
        cli.decide(run.id, user=BOB, approve=True)
        assert cli.resume(run.id, by=BOB, wait_for_approval=False).status == "succeeded"
    finally:
        cli.store.close()

    def shows_success(f: FakeSlack) -> bool:
        main = [m for m in f.messages("#ops") if m.thread_ts is None]
        return any("gate@1* — succeeded" in texts(m.blocks) for m in main)

    fake.wait_for(shows_success)
    prompt = prompt_of(fake, run.id)
    assert "approved by <@U0BOB>" in texts(prompt.blocks)


TWO = """\
apiVersion: runbook/v1
name: two
version: 1
notify: {channel: "#ops"}
permissions: {approve: ["@sre-leads"]}
steps:
  - id: both
    approval: {message: "two leads?", required: 2}
  - {id: done, action: log, with: {message: done}}
"""


def test_two_approvals_needed(
    server: Server, player: SlackPlayer, fake: FakeSlack, slack_env: Path
) -> None:
    (slack_env / "runbooks" / "two.yaml").write_text(TWO)
    player.command("run two")
    run = fake.wait_for(lambda f: server.store.list_runs())[0]
    wait_status(server, run.id, "waiting_approval")
    prompt = fake.wait_for(lambda f: prompt_of(f, run.id))
    value = button_value(prompt, APPROVE)
    player.click(prompt.channel, prompt.ts, APPROVE, value, user=BOB)
    fake.wait_for(
        lambda f: "1 of 2 approvals" in texts(f.message(prompt.channel, prompt.ts).blocks)  # type: ignore[union-attr]  # posted above
    )
    player.click(prompt.channel, prompt.ts, APPROVE, value, user=BOB)  # the same lead again
    assert "already decided" in said(fake, BOB, "already decided")
    assert server.store.get_run(run.id).status == "waiting_approval"  # type: ignore[union-attr]
    player.click(prompt.channel, prompt.ts, APPROVE, value, user=CAROL)
    wait_status(server, run.id, "succeeded")
    assert server.notifier is not None
    assert server.notifier.flush(10)
    shown = texts(fake.message(prompt.channel, prompt.ts).blocks)  # type: ignore[union-attr]
    assert "2 of 2 approvals" in shown and "<@U0BOB>" in shown and "<@U0CAROL>" in shown


def test_health_and_start_up_errors(server: Server, slack_env: Path) -> None:
    with urllib.request.urlopen(server.url + "/healthz", timeout=5) as answer:
        assert json.loads(answer.read())["ok"] is True
    host, port = server.http.address
    with pytest.raises(RunbookError, match="cannot listen"):
        Server(SlackSettings.from_env(), ServeOptions(host=host, port=port))
    bad = SlackSettings.from_env({**os.environ, "SLACK_BOT_TOKEN": "xoxb-wrong"})
    with pytest.raises(RunbookError, match="refused SLACK_BOT_TOKEN"):
        Server(bad, ServeOptions(port=0))
    with pytest.raises(RunbookError, match="SLACK_SIGNING_SECRET"):
        SlackSettings.from_env({"SLACK_BOT_TOKEN": "x"})
