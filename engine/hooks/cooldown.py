"""``cooldown``: after a run of a runbook for an alert, a new firing of the same alert (same
source and fingerprint, a new start) starts no other run of it for that long.

The last run is looked up in the store, where each run an alert started records the alert
(``run.created``), so every serve process on the store sees the others' runs. Looked up once
per runbook and request, then kept up to date as the request starts runs, so a payload of a
thousand alerts costs one query per runbook, not one per alert."""

from __future__ import annotations

from datetime import datetime, timedelta

from runbook_engine.service import Engine
from runbook_engine.triggers.alert import Alert
from runbook_engine.triggers.match import Match

#: recent runs of a runbook read at most; a runbook started more often has bigger problems
RECENT = 1000

Key = tuple[str, str, str]


def alert_key(alert: Alert | dict[str, object]) -> Key:
    if isinstance(alert, Alert):
        return alert.source, alert.hook, alert.fingerprint
    return str(alert.get("source", "")), str(alert.get("hook", "")), str(alert.get("fingerprint"))


class Cooldowns:
    """The cooldowns of one request."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._last: dict[tuple[str, float], dict[Key, datetime]] = {}

    def _recent(self, runbook: str, seconds: float, now: datetime) -> dict[Key, datetime]:
        found = self._last.get((runbook, seconds))
        if found is not None:
            return found
        found = {}
        since = now - timedelta(seconds=seconds)
        for record in self.engine.store.list_runs(runbook=runbook, since=since, limit=RECENT):
            trigger = self.engine.trigger_of(record)
            alert = trigger.get("alert") if trigger else None
            if isinstance(alert, dict):
                key = alert_key(alert)
                found[key] = max(found.get(key, record.created_at), record.created_at)
        self._last[(runbook, seconds)] = found
        return found

    def cooling(self, match: Match, now: datetime) -> datetime | None:
        """When the run that keeps ``match`` from starting one started, if one does."""
        seconds = match.trigger.spec.cooldown
        if not seconds:
            return None
        last = self._recent(match.loaded.runbook.name, seconds, now).get(alert_key(match.alert))
        if last is not None and now - last < timedelta(seconds=seconds):
            return last
        return None

    def started(self, match: Match, now: datetime) -> None:
        for (runbook, _), recent in self._last.items():
            if runbook == match.loaded.runbook.name:
                recent[alert_key(match.alert)] = now
