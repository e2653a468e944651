"""Which triggers match an alert, and the parameters they render from it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from runbook_engine.errors import TemplateError
from runbook_engine.spec import load_text
from runbook_engine.spec.matchers import MAX_VALUE
from runbook_engine.triggers.alert import Alert
from runbook_engine.triggers.dedupe import alert_run_id
from runbook_engine.triggers.match import match_alert, match_alerts, render_params
from runbook_engine.triggers.parse import parse_payload
from tests.triggers._runbooks import api, disk, payload

START = datetime(2024, 5, 1, 12, tzinfo=UTC)


def alert(**labels: str) -> Alert:
    base = {"alertname": "DiskFull", "instance": "web-1:9100", "severity": "page"}
    return Alert(
        source="alertmanager",
        fingerprint="f1",
        status="firing",
        starts_at=START,
        ends_at=None,
        labels={k: v for k, v in {**base, **labels}.items() if v != "-"},
        annotations={"summary": "disk full"},
    )


def test_equality_and_regex_matchers_all_hold() -> None:
    found = match_alert(disk(), alert(mountpoint="/var"))
    assert found is not None
    assert found.action == "start" and found.index == 0 and found.error is None
    assert found.params == {
        "host": "web-1",
        "mount": "/var",
        "percent": 90,
        "reason": "disk full (f1)",
    }
    assert found.run_id == alert_run_id("disk-cleanup", found.alert)


@pytest.mark.parametrize(
    "labels",
    [
        {"alertname": "DiskAlmostFull"},  # equality
        {"severity": "Page"},  # equality is exact, case included
        {"instance": "cache-1:9100"},  # regex
        {"instance": "web-1:9100x"},  # anchored at the end
        {"instance": "my-web-1:9100"},  # anchored at the start
    ],
)
def test_a_matcher_that_does_not_hold(labels: dict[str, str]) -> None:
    assert match_alert(disk(), alert(mountpoint="/", **labels)) is None


def test_a_missing_label_is_the_empty_string() -> None:
    assert match_alert(disk(), alert(severity="-", mountpoint="/")) is None
    doc = """\
apiVersion: runbook/v1
name: any-team
version: 1
triggers:
  - alertmanager: {match: {alertname: DiskFull, team: "~.*"}}
  - alertmanager: {match: {alertname: DiskFull, team: ""}}
steps:
  - {id: a, action: log, with: {message: hi}}
"""
    loaded = load_text(doc, "x.yaml")
    found = match_alert(loaded, alert())
    assert found is not None and found.index == 0  # the first matching trigger decides
    assert match_alert(loaded, alert(team="sre")) is not None
    assert match_alert(loaded, alert(alertname="Other")) is None


def test_a_regex_never_runs_on_an_overlong_value() -> None:
    long = "web-" + "1" * MAX_VALUE + ":9100"
    assert match_alert(disk(), alert(instance=long, mountpoint="/")) is None


def test_a_trigger_only_sees_alerts_of_its_source() -> None:
    other = replace(alert(mountpoint="/"), source="webhook", hook="disk")
    found = match_alert(disk(), other)
    assert found is not None and found.index == 1  # the webhook trigger, by name
    assert match_alert(disk(), replace(other, hook="other")) is None
    assert match_alert(disk(), replace(other, source="sns", hook="")) is None


def test_a_resolved_alert_cancels_the_run_its_firing_started() -> None:
    fired = match_alert(disk(), alert(mountpoint="/"))
    ended = match_alert(disk(), replace(alert(mountpoint="/"), status="resolved"))
    assert fired is not None and ended is not None
    assert ended.action == "cancel" and ended.params is None
    assert ended.run_id == fired.run_id


def test_a_resolved_alert_is_ignored_by_default() -> None:
    webhook = replace(alert(host="web-3"), source="webhook", hook="disk", status="resolved")
    assert match_alert(disk(), webhook) is None


def test_a_grouped_notification_matches_alert_by_alert() -> None:
    alerts = parse_payload("alertmanager", payload("alertmanager-group.json"))
    found = match_alerts([disk(), api()], alerts)
    assert [(m.alert.fingerprint, m.action) for m in found] == [
        ("4d2c9a71b3e0f6a1", "start"),
        ("9b1f03c4e5d6a7b8", "cancel"),
        ("0c4be7a92f1d3e55", "start"),
    ]
    assert found[2].params is not None and found[2].params["host"] == "db-1"


def test_pagerduty_and_sns_labels_match() -> None:
    [incident] = parse_payload("pagerduty", payload("pagerduty-triggered.json"))
    [alarm] = parse_payload("sns", payload("sns-alarm.json"))
    [ok] = parse_payload("sns", payload("sns-ok.json"))
    first, second = match_alerts([disk(), api()], [incident, alarm])
    assert first.params == {"service": "API Service", "incident": "PGR0VU2", "token": None}
    assert second.index == 1 and second.params is not None
    assert second.params["service"] == "app/api/50dc6c495c0c9188"
    # the OK message has state OK: the trigger's state: ALARM does not hold
    assert match_alerts([api()], [ok]) == []
    # a secret parameter is masked in what is shown
    assert second.as_dict()["params"]["token"] == "***"


def test_a_parameter_that_does_not_fit_is_an_error_of_that_alert_only() -> None:
    bad = alert(instance="db-1:9100", mountpoint="/")
    bad = replace(bad, labels={**bad.labels, "instance": "web-1:9100"}, annotations={})
    good = alert(mountpoint="/")
    first, second = match_alerts([disk()], [bad, good])
    assert first.error is not None and "annotations" in first.error and first.params is None
    assert second.error is None and second.params is not None


def test_a_rendered_value_refused_by_the_parameter() -> None:
    webhook = replace(alert(host="Web 1"), source="webhook", hook="disk")
    found = match_alert(disk(), webhook)
    assert found is not None and found.error is not None
    assert "parameter 'host'" in found.error and "matching" in found.error


SANDBOX = """\
apiVersion: runbook/v1
name: sneaky
version: 1
parameters:
  host: {{type: string}}
triggers:
  - webhook:
      name: x
      params: {{host: "{template}"}}
steps:
  - {{id: a, action: log, with: {{message: hi}}}}
"""


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ alert.labels.__class__.__mro__ }}", "sandbox"),
        ("{{ alert.summary.__class__.__subclasses__() }}", "sandbox"),
        ("{{ 'x' * 99999999 }}", "characters"),
        ("{% for i in range(10**9) %}{% endfor %}", "range"),
    ],
)
def test_a_template_the_sandbox_refuses(template: str, expected: str) -> None:
    loaded = load_text(SANDBOX.format(template=template), "sneaky.yaml")
    hooked = replace(alert(), source="webhook", hook="x")
    with pytest.raises(TemplateError) as info:
        render_params(loaded, 0, hooked)
    assert expected in str(info.value)
    assert str(info.value).startswith("triggers[0].webhook.params")
    found = match_alert(loaded, hooked)
    assert found is not None and found.error is not None and found.params is None
