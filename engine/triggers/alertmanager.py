"""Prometheus Alertmanager's webhook notification (``webhook_config``, payload version 4).

One notification is a group of alerts (``groupKey``); each alert of it becomes one ``Alert``
with the fingerprint and ``startsAt`` Alertmanager gave it, so the same firing sent again
(``repeat_interval``, a retry, a second Alertmanager of a cluster) is the same firing. A
resolved alert keeps its ``startsAt``: it names the firing it ends."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from runbook_engine.triggers.alert import Alert, Status
from runbook_engine.triggers.fields import Fields

VERSION = "4"
_STATUSES: tuple[Status, ...] = ("firing", "resolved")


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """A fingerprint from the label set, for alerts sent without one (older senders)."""
    text = json.dumps(dict(sorted(labels.items())), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_alertmanager(body: Any) -> list[Alert]:
    f = Fields("alertmanager")
    top = f.obj(body, "")
    version = f.text(top, "version", "")
    if version != VERSION:
        raise f.error("version", f"expected {VERSION!r} (payload version 4), got {version[:40]!r}")
    alerts: list[Alert] = []
    for i, raw in enumerate(f.items(f.get(top, "alerts", ""), "alerts")):
        path = f"alerts[{i}]"
        item = f.obj(raw, path)
        status = f.text(item, "status", path)
        if status not in _STATUSES:
            raise f.error(f"{path}.status", f"expected firing or resolved, got {status[:40]!r}")
        labels = f.labels(item, "labels", path)
        if "labels" not in item:
            raise f.error(f"{path}.labels", "missing")
        annotations = f.labels(item, "annotations", path)
        fingerprint = f.text(item, "fingerprint", path, required=False) or label_fingerprint(labels)
        alerts.append(
            Alert(
                source="alertmanager",
                fingerprint=fingerprint,
                status="firing" if status == "firing" else "resolved",
                starts_at=f.time(item, "startsAt", path),
                ends_at=f.time(item, "endsAt", path, required=False),
                labels=labels,
                annotations=annotations,
                generator_url=f.text(item, "generatorURL", path, required=False),
                summary=annotations.get("summary") or labels.get("alertname", ""),
            )
        )
    return alerts
