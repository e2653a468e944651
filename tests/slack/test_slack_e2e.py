"""End to end over real HTTP: Slack's signed requests into ``runbook serve``'s app, and the app's
Web API calls into the fake Slack, through the real ``WebClient``."""

from __future__ import annotations

import json
import time
from typing import Any

from runbook_engine.server.serve import Server
from runbook_engine.slack.prompts import APPROVE, REJECT
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
    run_message_of,
    texts,
)


def only_run(server: Server, runbook: str) -> Any:
    runs = server.store.list_runs(runbook=runbook)
    assert len(runs) == 1, runs
    return runs[0]


def wait_status(server: Server, run_id: str, status: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = server.store.get_run(run_id)
        if record is not None and record.status == status:
            return
        time.sleep(0.02)
    record = server.store.get_run(run_id)
    raise AssertionError(f"run {run_id} is {record.status if record else None}, not {status}")


def start_deploy(player: SlackPlayer, server: Server, fake: FakeSlack) -> tuple[str, Any]:
    status, body, took = player.command("run deploy service=api")
    assert status == 200, body
    assert took < 3
    fake.wait_for(lambda f: server.store.list_runs(runbook="deploy"))
    run = only_run(server, "deploy")
    wait_status(server, run.id, "waiting_approval")
    prompt = fake.wait_for(lambda f: prompt_of(f, run.id))
    return run.id, prompt


def test_slash_run_approve_click_finishes_run(
    server: Server, player: SlackPlayer, fake: FakeSlack
) -> None:
    run_id, prompt = start_deploy(player, server, fake)
    assert "Deploy api?" in texts(prompt.blocks)
    assert any("Starting *deploy*@1" in t for t in ephemerals(fake, ALICE))

    status, _, took = player.click(
        prompt.channel, prompt.ts, APPROVE, button_value(prompt, APPROVE), user=BOB
    )
    assert status == 200 and took < 3
    wait_status(server, run_id, "succeeded")
    assert server.notifier is not None
    assert server.notifier.flush(10)

    final = run_message_of(fake, run_id)
    assert final is not None and final.channel == fake.channel_id("#ops")
    shown = texts(final.blocks)
    assert "succeeded" in shown and "`apply`" in shown and "approved by <@U0BOB>" in shown
    prompt_now = fake.message(prompt.channel, prompt.ts)
    assert prompt_now is not None
    assert "approved by <@U0BOB>" in texts(prompt_now.blocks)
    assert not any(b["type"] == "actions" for b in prompt_now.blocks)  # buttons gone
    # one run message, updated in place; its location is recorded on the run
    assert (
        len(
            [
                m
                for m in fake.messages("#ops")
                if m.thread_ts is None and f"run `{run_id}`" in texts(m.blocks)
            ]
        )
        == 2
    )  # the run message + prompt
    events = server.store.events(run_id)
    anchors = [e.data for e in events if e.type == "slack.message"]
    assert anchors == [{"channel": final.channel, "ts": final.ts}]
    decided = [e.data for e in events if e.type == "approval.decided"]
    assert decided == [{"step": "approve", "user": BOB, "decision": "approve", "reason": ""}]
    # the secret default never reached Slack
    assert not any("s3cr3t-t0ken" in json.dumps(c.params) for c in fake.calls())


def test_non_approver_and_requester_are_refused(
    server: Server, player: SlackPlayer, fake: FakeSlack
) -> None:
    run_id, prompt = start_deploy(player, server, fake)
    value = button_value(prompt, APPROVE)
    for user in (EVE, ALICE):
        status, _, _ = player.click(prompt.channel, prompt.ts, APPROVE, value, user=user)
        assert status == 200

        def answered(f: FakeSlack, u: str = user) -> bool:
            return bool(ephemerals(f, u)[-1:]) and "approv" in ephemerals(f, u)[-1]

        fake.wait_for(answered)
    assert "not an approver" in ephemerals(fake, EVE)[-1]
    assert "cannot approve" in ephemerals(fake, ALICE)[-1]
    time.sleep(0.3)
    assert not [e for e in server.store.events(run_id) if e.type == "approval.decided"]
    assert server.store.get_run(run_id).status == "waiting_approval"  # type: ignore[union-attr]

    # Reject by a lead: the modal asks for a reason, then the run rolls back
    player.click(prompt.channel, prompt.ts, REJECT, value, user=CAROL)
    opened = fake.wait_for(lambda f: f.calls("views.open"))
    view = opened[-1].params["view"]
    status, body, _ = player.submit(
        view, {"reason": {"value": {"type": "plain_text_input", "value": ""}}}, user=CAROL
    )
    assert status == 200 and json.loads(body)["response_action"] == "errors"
    player.submit(
        view,
        {"reason": {"value": {"type": "plain_text_input", "value": "not during the sale"}}},
        user=CAROL,
    )
    wait_status(server, run_id, "rejected")
    assert server.notifier is not None
    assert server.notifier.flush(10)
    prompt_now = fake.message(prompt.channel, prompt.ts)
    assert prompt_now is not None
    assert "rejected by <@U0CAROL>" in texts(prompt_now.blocks)
    assert "not during the sale" in texts(prompt_now.blocks)


def test_forged_stale_and_unsigned_requests_are_401(
    server: Server, player: SlackPlayer, fake: FakeSlack, caplog: Any
) -> None:
    body = player.command_body("run quick")
    forged = SlackPlayer(server.url, fake, secret="not-the-secret")
    assert forged.post(body)[0] == 401
    assert player.post(body, sign=False)[0] == 401
    assert player.post(body, timestamp=int(time.time()) - 6 * 60)[0] == 401
    time.sleep(0.3)
    assert server.store.list_runs() == []
    assert "signature does not match" in caplog.text
    assert "old (more than 300s" in caplog.text


def test_retried_delivery_starts_no_second_run(
    server: Server, player: SlackPlayer, fake: FakeSlack
) -> None:
    body = player.command_body("run quick")
    assert player.post(body)[0] == 200
    assert (
        player.post(
            body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        )[0]
        == 200
    )
    assert player.post(body)[0] == 200  # the same request replayed without the header
    fake.wait_for(lambda f: server.store.list_runs())
    run = only_run(server, "quick")
    wait_status(server, run.id, "succeeded")
    time.sleep(0.3)
    assert len(server.store.list_runs()) == 1


def test_run_permission_refused_with_a_clear_message(
    server: Server, player: SlackPlayer, fake: FakeSlack
) -> None:
    assert player.command("run deploy service=api", user=EVE)[0] == 200
    fake.wait_for(lambda f: ephemerals(f, EVE))
    assert "may not run deploy" in ephemerals(fake, EVE)[0]
    assert server.store.list_runs() == []
    # a member of the deployers Slack user group may
    fake.add_usergroup("S0DEPLOY", "deployers", [EVE])
    assert server.interactions is not None
    server.interactions.groups.ttl = 0
    player.command("run deploy service=api", user=EVE)
    fake.wait_for(lambda f: server.store.list_runs())
