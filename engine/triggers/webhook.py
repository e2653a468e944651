"""The generic webhook's body: an alert in the engine's own terms, for senders of any kind.

    {"fingerprint": "deploy-42",          # optional: default, a hash of the labels
     "status": "firing",                  # or "resolved"; default firing
     "starts_at": "2024-05-01T12:00:00Z", # optional: default, when it was received
     "ends_at": null,                     # optional
     "labels": {"service": "api"},        # text (numbers and booleans become text)
     "annotations": {"summary": "..."},   # optional
     "generator_url": "https://...",      # optional
     "summary": "API deploy failed"}      # optional: default, annotations.summary

or several at once: ``{"alerts": [{...}, {...}]}``. Other keys are ignored. Without
``starts_at`` every delivery is a firing of its own, so a sender that retries should send it
(or the trigger should have a ``cooldown``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from runbook_engine.triggers.alert import Alert
from runbook_engine.triggers.alertmanager import label_fingerprint
from runbook_engine.triggers.fields import Fields


def parse_webhook(body: Any, *, hook: str, received_at: datetime) -> list[Alert]:
    f = Fields(f"webhook {hook}" if hook else "webhook")
    top = f.obj(body, "")
    if "alerts" in top:
        items = [
            (f"alerts[{i}]", f.obj(raw, f"alerts[{i}]"))
            for i, raw in enumerate(f.items(top["alerts"], "alerts"))
        ]
    else:
        items = [("", top)]
    alerts: list[Alert] = []
    for path, item in items:
        status = f.text(item, "status", path, required=False) or "firing"
        if status not in ("firing", "resolved"):
            where = f"{path}.status" if path else "status"
            raise f.error(where, f"expected firing or resolved, got {status[:40]!r}")
        labels = f.labels(item, "labels", path)
        annotations = f.labels(item, "annotations", path)
        fingerprint = f.text(item, "fingerprint", path, required=False)
        if not fingerprint:
            if not labels:
                where = f"{path}.fingerprint" if path else "fingerprint"
                raise f.error(where, "missing, and there are no labels to derive it from")
            fingerprint = label_fingerprint(labels)
        starts = f.time(item, "starts_at", path, required=False)
        alerts.append(
            Alert(
                source="webhook",
                fingerprint=fingerprint,
                status="firing" if status == "firing" else "resolved",
                starts_at=starts or received_at,
                ends_at=f.time(item, "ends_at", path, required=False),
                labels=labels,
                annotations=annotations,
                generator_url=f.text(item, "generator_url", path, required=False),
                summary=f.text(item, "summary", path, required=False)
                or annotations.get("summary", ""),
                hook=hook,
            )
        )
    return alerts
