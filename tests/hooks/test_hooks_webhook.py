"""The generic webhook: a trigger token and X-Runbook-Signature (t=TS,v1=HMAC of "TS." and the
body), exactly as docs/alerts.md tells a sender to sign."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from tests.hooks.serving import WEBHOOK_SECRET, Serving, results, wait_for


def signed(secret: str, body: bytes, at: int | None = None) -> dict[str, str]:
    """The header as the documentation spells it out, computed here without the engine."""
    ts = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Runbook-Signature": f"t={ts},v1={mac}", "Content-Type": "application/json"}


def deploy_alert(fingerprint: str, starts_at: str, service: str = "api") -> bytes:
    return json.dumps(
        {
            "fingerprint": fingerprint,
            "starts_at": starts_at,
            "labels": {"service": service},
            "summary": "deploy failed",
            "generator_url": "https://ci.example.com/42",
        }
    ).encode()


def test_a_signed_alert_starts_one_run_and_its_repeat_none(serving: Serving) -> None:
    body = deploy_alert("dep-1", "2024-05-01T12:00:00Z")
    headers = serving.bearer(signed(WEBHOOK_SECRET, body))
    [first] = results(serving.post("/hooks/webhook/deploy", body, headers))
    assert first["result"] == "started", first
    run_id = first["run_id"]
    serving.wait_status(run_id, "succeeded")
    [again] = results(serving.post("/hooks/webhook/deploy", body, headers))
    assert again["result"] == "duplicate"
    assert [r.id for r in serving.runs("deploy-check")] == [run_id]
    record = serving.store.get_run(run_id)
    assert record is not None and record.requester == "alertmanager"
    # the alert travels with the run: the templates read it, the API shows it
    logged = [e for e in serving.store.events(run_id) if e.type == "step.output"]
    assert any("deploy failed on api" in json.dumps(e.data) for e in logged), logged
    created = serving.store.events(run_id, limit=1)[0]
    alert = created.data["trigger"]["alert"]
    assert alert["fingerprint"] == "dep-1" and alert["labels"] == {"service": "api"}
    assert alert["generator_url"] == "https://ci.example.com/42"
    assert alert["starts_at"] == "2024-05-01T12:00:00+00:00"


def test_a_new_firing_within_the_cooldown_starts_nothing(serving: Serving) -> None:
    body = deploy_alert("dep-2", "2024-05-01T12:00:00Z", service="web")
    [first] = results(
        serving.post("/hooks/webhook/deploy", body, serving.bearer(signed(WEBHOOK_SECRET, body)))
    )
    assert first["result"] == "started"
    later = deploy_alert("dep-2", "2024-05-01T12:05:00Z", service="web")
    [second] = results(
        serving.post("/hooks/webhook/deploy", later, serving.bearer(signed(WEBHOOK_SECRET, later)))
    )
    assert second["result"] == "cooldown", second
    assert second["run_id"] != first["run_id"]
    assert serving.store.get_run(second["run_id"]) is None


def test_bad_signatures_and_tokens_are_refused_and_start_nothing(serving: Serving) -> None:
    body = deploy_alert("dep-bad", "2024-05-01T12:00:00Z", service="bad")
    good = signed(WEBHOOK_SECRET, body)
    cases = {
        "no token": good,
        "a wrong token": {**good, "Authorization": "Bearer rbk_nope"},
        "no signature": serving.bearer({"Content-Type": "application/json"}),
        "a wrong secret": serving.bearer(signed("not-the-secret", body)),
        "an old timestamp": serving.bearer(signed(WEBHOOK_SECRET, body, int(time.time()) - 301)),
        "another body": serving.bearer(signed(WEBHOOK_SECRET, body + b" ")),
    }
    for why, headers in cases.items():
        answer = serving.post("/hooks/webhook/deploy", body, headers)
        assert answer.status_code == 401, (why, answer.text)
        assert answer.headers["content-type"] == "application/problem+json", why
    # a webhook without a secret configured is refused too, whatever is sent
    answer = serving.post("/hooks/webhook/nosecret", body, serving.bearer(good))
    assert answer.status_code == 401
    # a token of another role is refused at the door
    view = serving.server.store
    from runbook_engine.auth.tokens import create_token

    viewer = create_token(view, "viewer", roles=["view"]).secret
    answer = serving.post(
        "/hooks/webhook/deploy", body, {**good, "Authorization": f"Bearer {viewer}"}
    )
    assert answer.status_code == 403, answer.text
    assert not [r for r in serving.runs("deploy-check") if r.params.get("service") == "bad"]


def test_refusals_count_against_the_address(serving: Serving) -> None:
    limiter = serving.server.authenticator.limiter
    before = limiter.retry_after("127.0.0.1")
    assert before is None
    bucket_before = limiter._bucket("127.0.0.1", limiter.clock()).tokens
    body = b"{}"
    answer = httpx.post(serving.url + "/hooks/pagerduty", content=body, timeout=10)
    assert answer.status_code == 401
    assert limiter._bucket("127.0.0.1", limiter.clock()).tokens < bucket_before
    wait_for("the bucket to refill", lambda: limiter.retry_after("127.0.0.1") is None)


def test_runbook_show_prints_the_alert(serving: Serving) -> None:
    from click.testing import CliRunner

    from runbook_engine.cli import main

    body = deploy_alert("dep-show", "2024-05-02T08:00:00Z", service="shown")
    [started] = results(
        serving.post("/hooks/webhook/deploy", body, serving.bearer(signed(WEBHOOK_SECRET, body)))
    )
    serving.wait_status(started["run_id"], "succeeded")
    shown = CliRunner().invoke(main, ["show", started["run_id"]], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    [line] = [x for x in shown.output.splitlines() if x.startswith("  alert:")]
    assert "webhook dep-show at 2024-05-02T08:00:00+00:00" in line
    assert "service=shown" in line and "https://ci.example.com/42" in line
