"""PagerDuty's v3 webhooks: one event per delivery, ``event.event_type`` saying what happened.

Only the events that start or end an incident are alerts: ``incident.triggered`` and
``incident.reopened`` fire, ``incident.resolved`` resolves; every other event (acknowledged,
annotated, escalated, a service's events...) gives no alert. The incident's id is the
fingerprint; ``created_at`` is when it started (a reopened incident starts again when it was
reopened, so it is a firing of its own).

The labels a trigger can match (those the incident has):

    event_type         incident.triggered, incident.reopened, incident.resolved
    incident_id        PGR0VU2
    incident_number    2
    incident_key       the incident's de-duplication key
    title              A little bump in the road
    status             triggered, resolved
    urgency            high, low
    priority           P1 (the priority's summary)
    service            API Service (the service's summary)
    service_id         PF9KMXH
    escalation_policy  Default (the policy's summary)
    teams              Engineering,Platform (the teams' summaries, comma-separated)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbook_engine.triggers.alert import Alert, Status
from runbook_engine.triggers.fields import Fields

#: event type: the status of the alert it is
EVENTS: dict[str, Status] = {
    "incident.triggered": "firing",
    "incident.reopened": "firing",
    "incident.resolved": "resolved",
}


def _summary(f: Fields, data: Mapping[str, Any], key: str) -> str:
    """The ``summary`` of a reference (``service``, ``priority``...), when there is one."""
    ref = data.get(key)
    if ref is None:
        return ""
    return f.text(f.obj(ref, f"event.data.{key}"), "summary", f"event.data.{key}", required=False)


def parse_pagerduty(body: Any) -> list[Alert]:
    f = Fields("pagerduty")
    event = f.obj(f.get(f.obj(body, ""), "event", ""), "event")
    event_type = f.text(event, "event_type", "event")
    status = EVENTS.get(event_type)
    if status is None or event.get("resource_type", "incident") != "incident":
        return []
    data = f.obj(f.get(event, "data", "event"), "event.data")
    incident = f.text(data, "id", "event.data")
    if not incident:
        raise f.error("event.data.id", "expected the incident's id, got empty text")
    occurred = f.time(event, "occurred_at", "event", required=False)
    created = f.time(data, "created_at", "event.data", required=False)
    starts = occurred if event_type == "incident.reopened" else created or occurred
    if starts is None:
        raise f.error("event.data.created_at", "missing (and no event.occurred_at either)")
    number = data.get("number")
    teams = data.get("teams") or []
    labels = {
        "event_type": event_type,
        "incident_id": incident,
        "incident_number": str(number) if isinstance(number, int) else "",
        "incident_key": f.text(data, "incident_key", "event.data", required=False),
        "title": f.text(data, "title", "event.data", required=False),
        "status": f.text(data, "status", "event.data", required=False),
        "urgency": f.text(data, "urgency", "event.data", required=False),
        "priority": _summary(f, data, "priority"),
        "service": _summary(f, data, "service"),
        "service_id": _id(f, data, "service"),
        "escalation_policy": _summary(f, data, "escalation_policy"),
        "teams": ",".join(
            f.text(
                f.obj(t, f"event.data.teams[{i}]"),
                "summary",
                f"event.data.teams[{i}]",
                required=False,
            )
            for i, t in enumerate(f.items(teams, "event.data.teams"))
        ),
    }
    agent = event.get("agent")
    annotations = {
        "agent": f.text(f.obj(agent, "event.agent"), "summary", "event.agent", required=False)
        if agent is not None
        else "",
        "resolve_reason": _text_or_summary(data.get("resolve_reason")),
        "event_id": f.text(event, "id", "event", required=False),
    }
    return [
        Alert(
            source="pagerduty",
            fingerprint=incident,
            status=status,
            starts_at=starts,
            ends_at=occurred if status == "resolved" else None,
            # an absent field is an absent label, so a matcher on it behaves as on Alertmanager
            labels={k: v for k, v in labels.items() if v},
            annotations={k: v for k, v in annotations.items() if v},
            generator_url=f.text(data, "html_url", "event.data", required=False),
            summary=labels["title"],
        )
    ]


def _id(f: Fields, data: Mapping[str, Any], key: str) -> str:
    ref = data.get(key)
    if ref is None:
        return ""
    return f.text(f.obj(ref, f"event.data.{key}"), "id", f"event.data.{key}", required=False)


def _text_or_summary(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("summary"), str):
        return str(value["summary"])
    return ""
