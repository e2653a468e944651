"""Which runbooks an alert starts (or whose runs it cancels), and with which parameters.

A trigger matches an alert of its source (for a webhook: of its NAME) when every matcher holds.
A label the alert does not have is the empty string, as in Alertmanager: ``severity: page``
never matches an alert without ``severity``, while ``severity: ""`` or ``severity: "~.*"``
does. The first trigger of a runbook that matches decides; the runbook's other triggers are
not looked at for that alert (all of them would give the same run id).

Parameters are rendered from the alert by the sandboxed, bounded templates of every runbook
(``alert`` is the only name), then checked against the runbook's declarations. A render or a
parameter that fails is an error of that match only: other alerts and other runbooks go on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from runbook_engine.errors import ParameterError, TemplateError
from runbook_engine.spec.loader import LoadedRunbook
from runbook_engine.spec.matchers import regex_matches
from runbook_engine.spec.models import Matcher, Trigger
from runbook_engine.spec.params import redact_params, resolve_params
from runbook_engine.spec.trigger_checks import ALERT
from runbook_engine.templating import render
from runbook_engine.triggers.alert import Alert
from runbook_engine.triggers.dedupe import alert_run_id

#: seconds the templates of one trigger may take for one alert, all parameters together
RENDER_SECONDS = 2.0

Action = Literal["start", "cancel"]


@dataclass(frozen=True)
class Match:
    """A runbook an alert starts (``start``) or whose run it cancels (``cancel``).

    ``params``: the typed parameters of the run to start (``None`` on ``error``, and for a
    cancel); ``error``: why this alert cannot start this runbook."""

    loaded: LoadedRunbook
    index: int
    trigger: Trigger
    alert: Alert
    action: Action
    run_id: str
    params: dict[str, Any] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        runbook = self.loaded.runbook
        return {
            "runbook": runbook.name,
            "version": runbook.version,
            "trigger": self.index,
            "source": self.trigger.source,
            "fingerprint": self.alert.fingerprint,
            "status": self.alert.status,
            "action": self.action,
            "run_id": self.run_id,
            "params": redact_params(runbook, self.params) if self.params is not None else None,
            "error": self.error,
        }


def matcher_holds(matcher: Matcher, value: str) -> bool:
    if matcher.regex is not None:
        return regex_matches(matcher.regex, value)
    return value == matcher.equals


def trigger_matches(trigger: Trigger, alert: Alert) -> bool:
    if trigger.source != alert.source:
        return False
    if trigger.webhook is not None and trigger.webhook.name != alert.hook:
        return False
    return all(
        matcher_holds(matcher, alert.labels.get(label, ""))
        for label, matcher in trigger.spec.match.items()
    )


def render_params(loaded: LoadedRunbook, index: int, alert: Alert) -> dict[str, Any]:
    """The typed parameters trigger ``index`` gives for ``alert``; ``TemplateError`` or
    ``ParameterError`` when they cannot be had."""
    trigger = loaded.runbook.triggers[index]
    field = f"triggers[{index}].{trigger.source}.params"
    given = render(
        dict(trigger.spec.params), {ALERT: alert.context()}, field=field, timeout=RENDER_SECONDS
    )
    # from_text=False: a template may give a native value ({{ 3 }}) as well as a label's text
    return resolve_params(loaded.runbook, given, from_text=False)


def match_alert(loaded: LoadedRunbook, alert: Alert) -> Match | None:
    """What ``alert`` does to ``loaded``: start it, cancel its run, or nothing (None)."""
    for index, trigger in enumerate(loaded.runbook.triggers):
        if not trigger_matches(trigger, alert):
            continue
        run_id = alert_run_id(loaded.runbook.name, alert)
        if alert.status == "resolved":
            if trigger.spec.on_resolved != "cancel":
                return None
            return Match(loaded, index, trigger, alert, "cancel", run_id)
        try:
            params = render_params(loaded, index, alert)
        except (TemplateError, ParameterError) as exc:
            return Match(loaded, index, trigger, alert, "start", run_id, error=str(exc))
        return Match(loaded, index, trigger, alert, "start", run_id, params=params)
    return None


def match_alerts(runbooks: Iterable[LoadedRunbook], alerts: Iterable[Alert]) -> list[Match]:
    """Every match of every alert, alerts in order, runbooks in the order given."""
    books = list(runbooks)
    out: list[Match] = []
    for alert in alerts:
        for loaded in books:
            found = match_alert(loaded, alert)
            if found is not None:
                out.append(found)
    return out
