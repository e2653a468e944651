"""An alert as the engine sees it, whatever sent it: Alertmanager, PagerDuty, SNS, a webhook.

Each source's parser (``alertmanager``, ``pagerduty``, ``sns``, ``webhook``; ``parse`` picks
one) turns a notification into ``Alert`` values; matching and run ids only ever see these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from runbook_engine.errors import RunbookError

Source = Literal["alertmanager", "pagerduty", "sns", "webhook"]
SOURCES: tuple[Source, ...] = ("alertmanager", "pagerduty", "sns", "webhook")
Status = Literal["firing", "resolved"]


class PayloadError(RunbookError):
    """A notification that is not of its source's documented shape; ``field`` names where."""

    def __init__(self, source: str, field: str, message: str) -> None:
        self.source = source
        self.field = field
        where = f" {field}:" if field else ""
        super().__init__(f"{source} payload:{where} {message}")


@dataclass(frozen=True)
class Alert:
    """One alert of one notification.

    ``fingerprint`` identifies the alert across notifications (the same alert firing again
    later has the same fingerprint and a new ``starts_at``). ``labels`` are what triggers
    match; ``annotations`` are only read by templates. ``hook`` is the NAME of a generic
    webhook's ``/hooks/webhook/NAME`` (empty for the other sources)."""

    source: Source
    fingerprint: str
    status: Status
    starts_at: datetime | None
    ends_at: datetime | None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    generator_url: str = ""
    summary: str = ""
    hook: str = ""

    def context(self) -> dict[str, Any]:
        """What a trigger's templates see as ``alert``: JSON data (times as ISO 8601 text)."""
        return {
            "source": self.source,
            "fingerprint": self.fingerprint,
            "status": self.status,
            "starts_at": self.starts_at.isoformat() if self.starts_at else None,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "generator_url": self.generator_url,
            "summary": self.summary,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.context(), "hook": self.hook}
