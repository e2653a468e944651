"""A thousand alerts in one notification: accepted at once, recorded at once, driven three
at a time (``max_concurrent: 3``)."""

from __future__ import annotations

import json
import time

from tests.hooks.serving import FLOOD_SECRET, Serving, results, wait_for
from tests.hooks.test_hooks_webhook import signed

COUNT = 1000


def test_a_thousand_alerts_are_accepted_quickly_and_run_three_at_a_time(
    serving: Serving,
) -> None:
    alerts = [
        {"fingerprint": f"f{i}", "starts_at": "2024-05-01T12:00:00Z", "labels": {"n": str(i)}}
        for i in range(COUNT)
    ]
    body = json.dumps({"alerts": alerts}).encode()
    began = time.monotonic()
    answer = serving.post("/hooks/webhook/flood", body, serving.bearer(signed(FLOOD_SECRET, body)))
    took = time.monotonic() - began
    found = results(answer)
    assert took < 5.0, f"{took:.1f}s"  # Alertmanager gives up after 10s
    assert {r["result"] for r in found} == {"queued"}
    assert len(found) == COUNT
    runs = serving.runs("flood")
    assert len(runs) == COUNT

    def waiting() -> list[str]:
        busy = [r.id for r in serving.runs("flood") if r.status == "waiting_approval"]
        return busy if len(busy) == 3 else []

    wait_for("three runs at the approval", waiting)
    time.sleep(1.0)  # the queue has had turns to start more, and must not have
    statuses = [r.status for r in serving.runs("flood")]
    assert statuses.count("waiting_approval") == 3
    assert statuses.count("pending") == COUNT - 3
    # the repeat of the whole notification starts nothing
    again = results(
        serving.post("/hooks/webhook/flood", body, serving.bearer(signed(FLOOD_SECRET, body)))
    )
    assert {r["result"] for r in again} == {"duplicate"}

    # resolving a queued alert cancels its pending run at once; resolving a waiting one
    # cancels it and frees its place for the next queued run
    by_n = {r.params["n"]: r for r in serving.runs("flood")}
    queued = next(n for n, r in by_n.items() if r.status == "pending")
    running = next(n for n, r in by_n.items() if r.status == "waiting_approval")
    resolved = json.dumps(
        {
            "alerts": [
                {**alerts[int(n)], "status": "resolved", "ends_at": "2024-05-01T13:00:00Z"}
                for n in (queued, running)
            ]
        }
    ).encode()
    answer = serving.post(
        "/hooks/webhook/flood", resolved, serving.bearer(signed(FLOOD_SECRET, resolved))
    )
    assert {r["result"] for r in results(answer)} == {"cancelled"}
    serving.wait_status(by_n[queued].id, "cancelled")
    serving.wait_status(by_n[running].id, "cancelled")

    def three_again() -> bool:
        statuses = [r.status for r in serving.runs("flood")]
        return statuses.count("waiting_approval") == 3 and statuses.count("cancelled") == 2

    wait_for("the freed place taken by the next queued run", three_again)
