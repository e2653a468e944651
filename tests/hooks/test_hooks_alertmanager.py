"""The real Alertmanager notifying a running serve: a group of three firing alerts starts
three runs, its repeats start nothing more, and resolving the alerts cancels the runs still
waiting for their approval (``on_resolved: cancel``)."""

from __future__ import annotations

import json

import httpx

from tests.hooks.alertmanager import alertmanager, resolved, started
from tests.hooks.serving import TRIGGER_USER, Serving, wait_for

ALERTS = [
    started(
        {
            "labels": {"alertname": "DiskFull", "instance": f"web-{i}", "severity": "page"},
            "annotations": {"summary": f"disk full on web-{i}"},
            "generatorURL": f"http://prometheus.example.com/graph?g0.expr=disk{i}",
        }
    )
    for i in (1, 2, 3)
]


def test_alertmanager_groups_repeats_and_resolves(serving: Serving) -> None:
    receiver = serving.url + "/hooks/alertmanager"
    with alertmanager(serving.root, receiver, serving.token) as am:
        am.post(ALERTS)

        def three_waiting() -> list[str]:
            runs = serving.runs("disk")
            ok = len(runs) == 3 and all(r.status == "waiting_approval" for r in runs)
            return [r.id for r in runs] if ok else []

        run_ids = wait_for("a run per firing alert", three_waiting, timeout=20)
        assert am.failed() == 0
        hosts = sorted(str(r.params["host"]) for r in serving.runs("disk"))
        assert hosts == ["web-1", "web-2", "web-3"]
        assert {r.requester for r in serving.runs("disk")} == {TRIGGER_USER}

        # the alert travels with the run: in its first event, its templates, the API
        first = serving.store.events(run_ids[0], limit=1)[0]
        alert = first.data["trigger"]["alert"]
        assert alert["source"] == "alertmanager"
        assert alert["labels"]["alertname"] == "DiskFull"
        assert alert["generator_url"].startswith("http://prometheus.example.com/graph")
        assert alert["fingerprint"] and alert["starts_at"]
        logged = json.dumps([e.data for e in serving.store.events(run_ids[0])])
        assert f"alert {alert['fingerprint']}" in logged
        api = httpx.get(
            serving.url + f"/api/v1/runs/{run_ids[0]}",
            headers={"Authorization": f"Bearer {serving.admin_token}"},
            timeout=10,
        )
        assert api.status_code == 200, api.text
        assert api.json()["trigger"]["alert"]["fingerprint"] == alert["fingerprint"]

        # repeats (repeat_interval 2s) arrive, and start nothing
        sent = am.notifications()
        wait_for("two more notifications", lambda: am.notifications() >= sent + 2, timeout=20)
        assert sorted(r.id for r in serving.runs("disk")) == sorted(run_ids)
        assert am.failed() == 0

        # resolved: each waiting run is cancelled
        am.post([resolved(a) for a in ALERTS])
        for run_id in run_ids:
            serving.wait_status(run_id, "cancelled", timeout=20)
        assert len(serving.runs("disk")) == 3
        assert am.failed() == 0
