"""PagerDuty v3 webhooks: X-PagerDuty-Signature, v1= an HMAC-SHA256 of the raw body with the
subscription's secret (RUNBOOK_PAGERDUTY_SECRET); several may be listed while it rotates."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from tests.hooks.serving import PAGERDUTY_SECRET, Serving, results

PAYLOADS = Path(__file__).resolve().parents[1] / "triggers" / "payloads"


def pd_headers(body: bytes, *secrets: str) -> dict[str, str]:
    sigs = ",".join("v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets)
    return {"X-PagerDuty-Signature": sigs, "Content-Type": "application/json"}


def test_a_signed_incident_starts_one_run(serving: Serving) -> None:
    body = (PAYLOADS / "pagerduty-triggered.json").read_bytes()
    # the old secret first, as during a rotation: one signature that matches is enough
    [started] = results(
        serving.post("/hooks/pagerduty", body, pd_headers(body, "old-secret", PAGERDUTY_SECRET))
    )
    assert started["result"] == "started", started
    serving.wait_status(started["run_id"], "succeeded")
    record = serving.store.get_run(started["run_id"])
    assert record is not None and record.requester == "pagerduty"
    assert record.params == {"title": "Checkout latency above 2s"}
    [again] = results(serving.post("/hooks/pagerduty", body, pd_headers(body, PAGERDUTY_SECRET)))
    assert again["result"] == "duplicate"


def test_unsigned_or_badly_signed_deliveries_are_refused(serving: Serving) -> None:
    data = json.loads((PAYLOADS / "pagerduty-triggered.json").read_text())
    data["event"]["data"]["id"] = "PFORGED"
    body = json.dumps(data).encode()
    for headers in (
        {},
        pd_headers(body, "wrong"),
        pd_headers(body + b"\n", PAGERDUTY_SECRET),
        {"X-PagerDuty-Signature": "v0=abc"},
    ):
        answer = serving.post("/hooks/pagerduty", body, headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["status"] == 401
    assert all("PFORGED" not in json.dumps(r.params) for r in serving.runs("page"))
    assert len(serving.runs("page")) <= 1
