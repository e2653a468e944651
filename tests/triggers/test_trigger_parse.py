"""Notifications of each source, in their documented shapes, into alerts; and refusals that
name the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from runbook_engine.triggers.alert import PayloadError
from runbook_engine.triggers.parse import MAX_BODY, parse_payload
from tests.triggers._runbooks import payload

RECEIVED = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def body(name: str) -> Any:
    return json.loads(payload(name))


def refused(source: str, data: Any, *, hook: str = "") -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse_payload(source, data, hook=hook, received_at=RECEIVED)
    return info.value


# ------------------------------------------------------------------ Alertmanager


def test_a_grouped_alertmanager_notification_is_one_alert_per_alert() -> None:
    firing, resolved, other = parse_payload("alertmanager", payload("alertmanager-group.json"))
    assert firing.source == "alertmanager"
    assert firing.status == "firing"
    assert firing.fingerprint == "4d2c9a71b3e0f6a1"
    # nanoseconds are cut to microseconds, the same way every time
    assert firing.starts_at == datetime(2024, 5, 1, 12, 0, 5, 123456, tzinfo=UTC)
    assert firing.ends_at is None  # Go's zero time: not ended
    assert firing.labels["instance"] == "web-1:9100"
    assert firing.annotations["summary"] == "/var on web-1 is 95% full"
    assert firing.summary == "/var on web-1 is 95% full"
    assert firing.generator_url.startswith("http://prometheus.example.org:9090/graph?")
    assert resolved.status == "resolved"
    assert resolved.starts_at == datetime(2024, 5, 1, 11, 40, 5, 500000, tzinfo=UTC)
    assert resolved.ends_at == datetime(2024, 5, 1, 12, 2, 5, 500000, tzinfo=UTC)
    assert other.starts_at == datetime(2024, 5, 1, 9, 58, 35, 20000, tzinfo=UTC)  # +02:00


def test_an_alert_without_a_fingerprint_gets_one_from_its_labels() -> None:
    data = body("alertmanager-group.json")
    for item in data["alerts"]:
        del item["fingerprint"]
    first = parse_payload("alertmanager", data)[0]
    again = parse_payload("alertmanager", data)[0]
    assert first.fingerprint == again.fingerprint and len(first.fingerprint) == 16


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d.update(version="3"), "version", "expected '4'"),
        (lambda d: d.pop("version"), "version", "missing"),
        (lambda d: d.pop("alerts"), "alerts", "missing"),
        (lambda d: d.update(alerts={}), "alerts", "expected a list"),
        (lambda d: d["alerts"][1].update(status="pending"), "alerts[1].status", "firing or"),
        (lambda d: d["alerts"][2].pop("labels"), "alerts[2].labels", "missing"),
        (lambda d: d["alerts"][0]["labels"].update(n={}), "alerts[0].labels.n", "expected text"),
        (lambda d: d["alerts"][0].pop("startsAt"), "alerts[0].startsAt", "missing"),
        (lambda d: d["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt", "RFC 3339"),
        (lambda d: d["alerts"].append(7), "alerts[3]", "expected an object, got a number"),
    ],
)
def test_a_malformed_alertmanager_notification_names_the_field(
    change: Any, field: str, message: str
) -> None:
    data = body("alertmanager-group.json")
    change(data)
    error = refused("alertmanager", data)
    assert error.field == field and message in str(error)
    assert str(error).startswith(f"alertmanager payload: {field}:")


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"null"])
def test_a_body_that_is_not_a_json_object(raw: bytes) -> None:
    error = refused("alertmanager", raw)
    assert "not JSON" in str(error) or "expected an object" in str(error)


def test_a_body_past_the_limit() -> None:
    assert "larger than" in str(refused("webhook", b" " * (MAX_BODY + 1), hook="x"))


def test_an_unknown_source() -> None:
    assert "unknown source" in str(refused("nagios", b"{}"))


# ------------------------------------------------------------------ PagerDuty


def test_a_triggered_pagerduty_incident() -> None:
    [alert] = parse_payload("pagerduty", payload("pagerduty-triggered.json"))
    assert alert.source == "pagerduty"
    assert alert.status == "firing"
    assert alert.fingerprint == "PGR0VU2"
    assert alert.starts_at == datetime(2024, 5, 1, 12, 0, 6, tzinfo=UTC)
    assert alert.ends_at is None
    assert dict(alert.labels) == {
        "event_type": "incident.triggered",
        "incident_id": "PGR0VU2",
        "incident_number": "2",
        "incident_key": "d3640fbd41094207a1c11e58e46b1662",
        "title": "Checkout latency above 2s",
        "status": "triggered",
        "urgency": "high",
        "priority": "P1",
        "service": "API Service",
        "service_id": "PF9KMXH",
        "escalation_policy": "Default",
        "teams": "Engineering",
    }
    assert alert.summary == "Checkout latency above 2s"
    assert alert.generator_url == "https://acme.pagerduty.com/incidents/PGR0VU2"


def test_a_resolved_pagerduty_incident_keeps_its_start() -> None:
    [fired] = parse_payload("pagerduty", payload("pagerduty-triggered.json"))
    [alert] = parse_payload("pagerduty", payload("pagerduty-resolved.json"))
    assert alert.status == "resolved"
    assert alert.starts_at == fired.starts_at
    assert alert.ends_at == datetime(2024, 5, 1, 12, 31, 40, 2000, tzinfo=UTC)


def test_a_reopened_incident_is_a_new_firing() -> None:
    data = body("pagerduty-triggered.json")
    data["event"]["event_type"] = "incident.reopened"
    [alert] = parse_payload("pagerduty", data)
    assert alert.status == "firing"
    assert alert.starts_at == datetime(2024, 5, 1, 12, 0, 7, 169000, tzinfo=UTC)


@pytest.mark.parametrize(
    "event_type", ["incident.acknowledged", "incident.annotated", "service.updated"]
)
def test_pagerduty_events_that_are_no_alert(event_type: str) -> None:
    data = body("pagerduty-triggered.json")
    data["event"]["event_type"] = event_type
    assert parse_payload("pagerduty", data) == []


def test_a_pagerduty_incident_without_priority_has_no_priority_label() -> None:
    data = body("pagerduty-triggered.json")
    data["event"]["data"]["priority"] = None
    [alert] = parse_payload("pagerduty", data)
    assert "priority" not in alert.labels


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("event"), "event"),
        (lambda d: d["event"].pop("event_type"), "event.event_type"),
        (lambda d: d["event"].pop("data"), "event.data"),
        (lambda d: d["event"]["data"].pop("id"), "event.data.id"),
        (lambda d: d["event"]["data"].update(service="API"), "event.data.service"),
        (lambda d: d["event"]["data"].update(created_at=5), "event.data.created_at"),
    ],
)
def test_a_malformed_pagerduty_event_names_the_field(change: Any, field: str) -> None:
    data = body("pagerduty-triggered.json")
    change(data)
    assert refused("pagerduty", data).field == field


# ------------------------------------------------------------------ SNS


def test_a_cloudwatch_alarm_through_sns() -> None:
    [alert] = parse_payload("sns", payload("sns-alarm.json"))
    assert alert.source == "sns"
    assert alert.status == "firing"
    assert alert.fingerprint == "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api-high-5xx"
    assert alert.starts_at == datetime(2024, 5, 1, 12, 0, 10, 511000, tzinfo=UTC)
    assert alert.labels["alarm_name"] == "api-high-5xx"
    assert alert.labels["state"] == "ALARM"
    assert alert.labels["old_state"] == "OK"
    assert alert.labels["account_id"] == "123456789012"
    assert alert.labels["region"] == "EU (Ireland)"
    assert alert.labels["metric_name"] == "HTTPCode_Target_5XX_Count"
    assert alert.labels["namespace"] == "AWS/ApplicationELB"
    assert alert.labels["dimension_LoadBalancer"] == "app/api/50dc6c495c0c9188"
    assert alert.labels["topic_arn"] == "arn:aws:sns:eu-west-1:123456789012:runbooks"
    assert alert.annotations["description"] == "More than 5% of API responses are 5xx"
    assert alert.summary == 'ALARM: "api-high-5xx" in EU (Ireland)'


def test_a_cloudwatch_alarm_back_to_ok_is_resolved() -> None:
    [alert] = parse_payload("sns", payload("sns-ok.json"))
    assert alert.status == "resolved"
    assert alert.starts_at is None
    assert alert.ends_at == datetime(2024, 5, 1, 12, 20, 10, 700000, tzinfo=UTC)


def test_insufficient_data_is_no_alert() -> None:
    data = body("sns-alarm.json")
    message = json.loads(data["Message"])
    message["NewStateValue"] = "INSUFFICIENT_DATA"
    data["Message"] = json.dumps(message)
    assert parse_payload("sns", data) == []


def test_a_text_message_through_sns() -> None:
    [alert] = parse_payload("sns", payload("sns-text.json"))
    assert alert.status == "firing"
    assert alert.fingerprint == "d2a4d6f0-55b0-5c3e-9f0b-2f3c0e8a1b77"
    assert alert.starts_at == datetime(2024, 5, 1, 3, 10, tzinfo=UTC)
    assert dict(alert.labels) == {
        "topic_arn": "arn:aws:sns:eu-west-1:123456789012:runbooks",
        "subject": "backup failed",
    }
    assert alert.annotations["message"].startswith("Backup of db-1 failed")


def test_a_subscription_confirmation_is_not_a_notification() -> None:
    data = body("sns-text.json")
    data["Type"] = "SubscriptionConfirmation"
    error = refused("sns", data)
    assert error.field == "Type" and "not an alert" in str(error)


def test_a_malformed_alarm_names_the_field() -> None:
    data = body("sns-alarm.json")
    message = json.loads(data["Message"])
    message["Trigger"]["Dimensions"][0].pop("value")
    data["Message"] = json.dumps(message)
    assert refused("sns", data).field == "Message.Trigger.Dimensions[0].value"


# ------------------------------------------------------------------ generic webhook


def test_a_generic_webhook_with_two_alerts() -> None:
    first, second = parse_payload(
        "webhook", payload("webhook.json"), hook="deploys", received_at=RECEIVED
    )
    assert first.source == "webhook" and first.hook == "deploys"
    assert first.fingerprint == "deploy-api-42"
    assert first.starts_at == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert first.labels["attempt"] == "2"  # a number becomes its JSON text
    assert first.summary == "API deploy failed on api-prod-1"
    assert first.generator_url == "https://ci.example.org/builds/42"
    # the defaults: firing, a fingerprint from the labels, started when received
    assert second.status == "firing"
    assert len(second.fingerprint) == 16
    assert second.starts_at == RECEIVED


def test_a_generic_webhook_with_one_alert() -> None:
    [alert] = parse_payload(
        "webhook", b'{"status": "resolved", "fingerprint": "f1"}', hook="x", received_at=RECEIVED
    )
    assert alert.status == "resolved" and alert.labels == {}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"status": "firing"}, "fingerprint"),
        ({"status": "open", "fingerprint": "f"}, "status"),
        ({"alerts": [{"labels": {"a": ["b"]}}]}, "alerts[0].labels.a"),
        ({"alerts": [{"labels": {"a": "b"}, "starts_at": "noon"}]}, "alerts[0].starts_at"),
    ],
)
def test_a_malformed_webhook_body_names_the_field(raw: Any, field: str) -> None:
    error = refused("webhook", raw, hook="deploys")
    assert error.field == field and str(error).startswith("webhook deploys payload:")
