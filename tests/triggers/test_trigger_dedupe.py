"""The run id of a firing: the same for every notification of it, new for a new firing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from runbook_engine.triggers.dedupe import alert_run_id, firing_key
from runbook_engine.triggers.parse import parse_payload
from tests.triggers._runbooks import payload


def test_a_repeated_notification_gives_the_same_ids() -> None:
    once = parse_payload("alertmanager", payload("alertmanager-group.json"))
    again = json.loads(payload("alertmanager-group.json"))
    # Alertmanager's repeat_interval: the same alerts, a later notification
    again["alerts"][0]["annotations"]["summary"] = "/var on web-1 is 96% full"
    twice = parse_payload("alertmanager", again)
    assert [alert_run_id("disk", a) for a in once] == [alert_run_id("disk", a) for a in twice]
    assert len({alert_run_id("disk", a) for a in once}) == 3


def test_the_id_is_a_run_id_of_twelve_characters() -> None:
    [alert] = parse_payload("pagerduty", payload("pagerduty-triggered.json"))
    run_id = alert_run_id("api-triage", alert)
    assert len(run_id) == 12 and run_id.startswith("a") and run_id.isalnum()
    assert run_id == alert_run_id("api-triage", alert)


def test_a_new_start_is_a_new_firing() -> None:
    [alert] = parse_payload("alertmanager", payload("alertmanager-group.json"))[:1]
    assert alert.starts_at is not None
    later = replace(alert, starts_at=alert.starts_at + timedelta(hours=2))
    assert alert_run_id("disk", later) != alert_run_id("disk", alert)


def test_the_same_instant_in_another_zone_is_the_same_firing() -> None:
    [alert] = parse_payload("alertmanager", payload("alertmanager-group.json"))[:1]
    assert alert.starts_at is not None
    shifted = replace(alert, starts_at=alert.starts_at.astimezone(timezone(timedelta(hours=2))))
    assert alert_run_id("disk", shifted) == alert_run_id("disk", alert)


def test_runbook_source_and_fingerprint_each_count() -> None:
    [incident] = parse_payload("pagerduty", payload("pagerduty-triggered.json"))
    ids = {
        alert_run_id("a", incident),
        alert_run_id("b", incident),
        alert_run_id("a", replace(incident, fingerprint="PX")),
        alert_run_id("a", replace(incident, source="webhook", hook="pd")),
        alert_run_id("a", replace(incident, source="webhook", hook="other")),
    }
    assert len(ids) == 5


def test_a_resolved_pagerduty_incident_names_its_firing() -> None:
    [fired] = parse_payload("pagerduty", payload("pagerduty-triggered.json"))
    [ended] = parse_payload("pagerduty", payload("pagerduty-resolved.json"))
    assert alert_run_id("api", ended) == alert_run_id("api", fired)


def test_the_key_is_readable() -> None:
    [alert] = parse_payload("sns", payload("sns-alarm.json"))
    assert firing_key("api", alert) == (
        "api|sns|arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api-high-5xx|"
        + datetime(2024, 5, 1, 12, 0, 10, 511000, tzinfo=UTC).isoformat()
    )
