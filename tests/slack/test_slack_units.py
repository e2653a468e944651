"""The small pieces: the fake Slack itself, signature checks, command parsing, the executor's
one-driver-per-run rule and the draining store."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from runbook_engine.auth.slack_identity import SlackIdentities
from runbook_engine.core.state import RunState
from runbook_engine.server.draining import DrainableStore, Draining
from runbook_engine.server.executor import RunExecutor
from runbook_engine.service import RunOutcome
from runbook_engine.slack.commands import HELP, CommandError, parse
from runbook_engine.slack.messages import mention
from runbook_engine.slack.verify import refusal
from runbook_engine.testing.fake_slack import FakeSlack


def test_fake_answers_like_slack(fake: FakeSlack) -> None:
    client = WebClient(token=fake.token, base_url=fake.api_url)
    assert client.auth_test()["user_id"] == fake.bot_user_id
    posted = client.chat_postMessage(channel="#ops", text="hi", blocks=[{"type": "divider"}])
    assert posted["ok"] and posted["channel"] == fake.channel_id("#ops")
    assert posted["message"]["text"] == "hi"
    updated = client.chat_update(channel=posted["channel"], ts=posted["ts"], text="bye")
    assert updated["ts"] == posted["ts"]
    assert fake.message("#ops", posted["ts"]).text == "bye"  # type: ignore[union-attr]
    with pytest.raises(SlackApiError) as missing:
        client.chat_update(channel=posted["channel"], ts="1.2", text="x")
    assert missing.value.response["error"] == "message_not_found"
    assert client.chat_postEphemeral(channel="C1", user="U1", text="psst")["ok"]
    assert client.views_open(trigger_id="t", view={"type": "modal"})["view"]["id"]
    fake.add_usergroup("S0X", "x", ["U1"])
    assert client.usergroups_users_list(usergroup="S0X")["users"] == ["U1"]
    assert client.usergroups_list()["usergroups"][-1]["handle"] == "x"
    fake.add_user("U1", "ann")
    assert client.users_info(user="U1")["user"]["name"] == "ann"
    with pytest.raises(SlackApiError):
        WebClient(token="xoxb-wrong", base_url=fake.api_url).auth_test()
    assert [c.method for c in fake.calls()][:2] == ["auth.test", "chat.postMessage"]


def test_fake_rate_limits_on_request(fake: FakeSlack) -> None:
    client = WebClient(token=fake.token, base_url=fake.api_url)
    fake.fail_next(2, retry_after=7, method="chat.postMessage")
    client.auth_test()  # another method is not affected
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="#a", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="#a", text="x")
    assert client.chat_postMessage(channel="#a", text="x")["ok"]
    assert [c.status for c in fake.calls("chat.postMessage")] == [429, 429, 200]


def test_signatures() -> None:
    body = b"token=x&text=run+quick"
    now = int(time.time())
    good = SignatureVerifier("s3").generate_signature(timestamp=str(now), body=body.decode())
    assert good is not None
    headers = {"x-slack-request-timestamp": str(now), "x-slack-signature": good}
    assert refusal("s3", headers, body) is None
    assert refusal("other", headers, body) == "signature does not match"
    assert refusal("s3", headers, body + b"&user_id=U0EVE") == "signature does not match"
    assert "missing" in (refusal("s3", {}, body) or "")
    assert "malformed" in (
        refusal("s3", {**headers, "x-slack-request-timestamp": "x1"}, body) or ""
    )
    assert "old" in (refusal("s3", headers, body, now=now + 301) or "")


def test_command_parsing() -> None:
    assert parse("").verb == "help"
    cmd = parse("run deploy service=api reason=\u201cdisk full\u201d")
    assert cmd.args == ("deploy", "service=api", "reason=disk full")
    assert parse("reject abc not now").rest == "abc not now"
    for bad in ("frob", "run", "approve", "reject abc", 'run "x'):
        with pytest.raises(CommandError):
            parse(bad)
    assert "/runbook run NAME" in HELP


def test_executor_drives_a_run_once_and_serves_late_requests(tmp_path: Path) -> None:
    calls: list[str] = []
    gate = threading.Event()

    class FakeEngine:
        def resume(self, run_id: str, **kw: object) -> RunOutcome:
            calls.append(run_id)
            gate.wait(5)
            return RunOutcome(run_id, "waiting_approval", RunState())

    executor = RunExecutor(FakeEngine())  # type: ignore[arg-type]
    executor.resume("r1")
    executor.resume("r1")  # while driving: remembered, not a second driver
    executor.resume("r1")
    time.sleep(0.1)
    assert calls == ["r1"] and executor.driving() == {"r1"}
    gate.set()
    assert executor.wait_idle(5)
    assert calls == ["r1", "r1"]  # the late request was served once, after the first drive


def test_draining_store_refuses_new_steps_only(tmp_path: Path) -> None:
    store = DrainableStore.open_drainable(str(tmp_path / "d.db"))
    try:
        store.create_run("r1", runbook="x", version=1, digest="d", params={}, requester="u")
        store.append_event("r1", "step.started", {"step": "a"})
        store.drain()
        # a parallel sibling may still start while another step is in flight
        store.append_event("r1", "step.started", {"step": "b"})
        store.append_event("r1", "step.succeeded", {"step": "a"})
        store.append_event("r1", "step.succeeded", {"step": "b"})
        with pytest.raises(Draining):
            store.append_event("r1", "step.started", {"step": "c"})
        store.append_event("r1", "run.needs_attention", {})  # anything else is recorded
        assert [e.type for e in store.events("r1")][-1] == "run.needs_attention"
    finally:
        store.close()


def test_a_slack_user_is_the_person_their_profile_email_names(fake: FakeSlack) -> None:
    client = WebClient(token=fake.token, base_url=fake.api_url)
    fake.add_user("U0ANN", "ann", email="ann@example.com")
    identities = SlackIdentities(users_info=client.users_info)
    ann = identities.principal("U0ANN")
    assert (ann.name, ann.via) == ("ann@example.com", "slack:U0ANN")
    # Slack knows no such user: the id stays the name, as before
    assert identities.principal("U0NOBODY").name == "U0NOBODY"


def test_mentions_need_a_slack_user_id() -> None:
    assert mention("U0ANN") == "<@U0ANN>"
    # a requester or approver known by another name is shown as text, never a broken mention
    assert mention("ann@example.com") == "ann@example.com"
    assert mention("<@U0X>") == "&lt;@U0X&gt;"
