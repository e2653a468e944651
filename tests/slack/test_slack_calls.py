"""A runbook started from Slack calls another whose approval is prompted in Slack: the child
run posts its own prompt, a lead's click approves the child, and the parent goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_engine.server.serve import Server
from runbook_engine.slack.prompts import APPROVE
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import ALICE, BOB, SlackPlayer, button_value, prompt_of, texts
from tests.slack.test_slack_e2e import only_run, wait_status

RELEASE = """\
apiVersion: runbook/v1
name: release
version: 1
notify: {channel: "#ops"}
permissions:
  run: [U0ALICE]
steps:
  - id: deploy
    call: {runbook: deploy, with: {service: api}}
  - {id: done, action: log, with: {message: released}}
"""


@pytest.fixture
def slack_env(slack_env: Path) -> Path:
    (slack_env / "runbooks" / "release.yaml").write_text(RELEASE)
    return slack_env


def test_the_childs_prompt_approves_the_child_and_the_parent_finishes(
    server: Server, player: SlackPlayer, fake: FakeSlack
) -> None:
    status, body, _ = player.command("run release")
    assert status == 200, body
    fake.wait_for(lambda f: server.store.list_runs(runbook="deploy"))
    parent = only_run(server, "release")
    child = only_run(server, "deploy")
    wait_status(server, child.id, "waiting_approval")
    prompt = fake.wait_for(lambda f: prompt_of(f, child.id))
    assert "Deploy api?" in texts(prompt.blocks)

    # the requester of the parent is the requester of the child: no self-approval there either
    assert child.requester == parent.requester
    status, _, _ = player.click(
        prompt.channel, prompt.ts, APPROVE, button_value(prompt, APPROVE), user=ALICE
    )
    assert status == 200
    status, _, _ = player.click(
        prompt.channel, prompt.ts, APPROVE, button_value(prompt, APPROVE), user=BOB
    )
    assert status == 200
    wait_status(server, child.id, "succeeded")
    wait_status(server, parent.id, "succeeded")
    decided = [
        e.data["user"] for e in server.store.events(child.id) if e.type == "approval.decided"
    ]
    assert len(decided) == 1  # only the lead's click counted
