"""The run id of a firing: the same firing gives the same id wherever it is seen.

A firing is (runbook, source, fingerprint, start). Alertmanager sends a firing again and
again (every ``repeat_interval``, from each member of a cluster, on retries) and PagerDuty and
SNS retry deliveries; each of those computes the same id here, and the store refuses to create
a second run with an id it has (as with schedule ticks, ``schedule.tick_run_id``, and Slack
requests, ``slack.interactions.slack_run_id``). The same alert firing again later has a new
start, so a new id.

A resolved alert that keeps its start (Alertmanager's, PagerDuty's) gives the id of the run
its firing started, which is the run ``on_resolved: cancel`` cancels.
"""

from __future__ import annotations

import hashlib
from datetime import UTC

from runbook_engine.triggers.alert import Alert

#: first character of a run id started by an alert ("s": a schedule tick)
PREFIX = "a"


def firing_key(runbook: str, alert: Alert) -> str:
    """The text the run id is a hash of; the webhook's name is part of its source, since
    two webhooks are two senders whose fingerprints may well collide."""
    source = f"{alert.source}:{alert.hook}" if alert.hook else alert.source
    start = alert.starts_at.astimezone(UTC).isoformat() if alert.starts_at else ""
    return f"{runbook}|{source}|{alert.fingerprint}|{start}"


def alert_run_id(runbook: str, alert: Alert) -> str:
    """12 characters, like every other run id."""
    key = firing_key(runbook, alert)
    return PREFIX + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:11]
