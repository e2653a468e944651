"""A run's timeline as its page reads it from the folded state: per-host results, decisions,
the rollback's order, what a run that needs attention may choose; and the list's filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runbook_engine.core.state import Completed, Decision, RunState
from runbook_engine.spec.loader import load_text
from runbook_engine.web.formatting import duration, short, status_class, when
from runbook_engine.web.runs import Filters, read_since
from runbook_engine.web.timeline import timeline

SOURCE = """\
apiVersion: runbook/v1
name: fleet
version: 1
steps:
  - {id: restart, name: Restart the web tier, action: shell.command, with: {command: "true"}}
  - id: gate
    approval: {message: go on?, approvers: [bob@example.com, carol@example.com], required: 2}
  - {id: after, action: log, with: {message: done}}
"""

HOSTS = [
    {"host": "web1", "ok": True, "exit_code": 0, "duration": 0.25},
    {"host": "web2", "ok": False, "exit_code": 3, "duration": 1.5, "error": "exited 3"},
    {"not": "a host"},
]


def test_per_host_results_come_from_the_result_or_the_error() -> None:
    runbook = load_text(SOURCE, "<test>").runbook
    ok = RunState().with_step("restart", status="succeeded", result={"hosts": HOSTS})
    rows = timeline(runbook, ok).steps
    assert rows[0].title == "Restart the web tier"
    assert [(h.host, h.ok, h.exit_code) for h in rows[0].hosts] == [
        ("web1", True, 0),
        ("web2", False, 3),
    ]
    assert rows[0].hosts[1].error == "exited 3"
    failed = RunState().with_step(
        "restart", status="failed", error={"message": "1 of 2 failed", "hosts": HOSTS[:1]}
    )
    row = timeline(runbook, failed).steps[0]
    assert row.error == "1 of 2 failed"
    assert [h.host for h in row.hosts] == ["web1"]
    assert timeline(runbook, RunState()).steps[0].hosts == ()


def test_approval_rows_count_decisions() -> None:
    runbook = load_text(SOURCE, "<test>").runbook
    state = RunState(
        status="waiting_approval",
        approvals={"gate": (Decision("bob@example.com", "approve", 1.0, "fine"),)},
    ).with_step("gate", status="waiting")
    shown = timeline(runbook, state)
    assert shown.waiting_on == "gate"
    gate = shown.steps[1]
    assert gate.kind == "approval"
    assert gate.approval is not None
    assert (gate.approval.approvals, gate.approval.required) == (1, 2)
    assert gate.approval.approvers == ("bob@example.com", "carol@example.com")
    assert gate.approval.decisions[0].reason == "fine"
    assert shown.rollback == ()


def test_the_rollback_is_listed_last_done_first() -> None:
    runbook = load_text(SOURCE, "<test>").runbook
    state = RunState(
        status="rolled_back",
        rollback_reason="rejected",
        completed=RunState()
        .completed.append(Completed("restart", "shell.command", {}, None, rollback="succeeded"))
        .append(Completed("after", "log", {}, None, rollback="skipped")),
    )
    shown = timeline(runbook, state)
    assert [(r.step, r.status) for r in shown.rollback] == [
        ("after", "skipped"),
        ("restart", "succeeded"),
    ]
    assert shown.steps[0].rollback == "succeeded"
    assert shown.finished


def test_choices_are_offered_only_when_the_run_needs_attention() -> None:
    runbook = load_text(SOURCE, "<test>").runbook
    asking = {"reason": "restart was interrupted", "choices": ["retry", "skip", "rollback"]}
    state = RunState(status="needs_attention", attention=asking)
    assert timeline(runbook, state).choices == ("retry", "skip", "rollback")
    assert timeline(runbook, RunState(status="running", attention=asking)).choices == ()


def test_read_since_takes_durations_and_moments() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert read_since("2h", now) == now - timedelta(hours=2)
    assert read_since("2026-11-30", now) == datetime(2026, 11, 30, tzinfo=UTC)
    assert read_since("2026-11-30T08:30+01:00", now).hour == 8
    with pytest.raises(ValueError, match="neither a duration"):
        read_since("yesterday", now)


def test_filters_make_a_query_of_what_is_set() -> None:
    assert Filters().query() == ""
    assert (
        Filters(runbook="a b", status="failed").query("c") == "runbook=a+b&status=failed&cursor=c"
    )


def test_formatting() -> None:
    assert when(0) == "1970-01-01 00:00:00 UTC"
    assert when(None) == ""
    assert duration(0.25) == "250ms"
    assert duration(None) == ""
    assert status_class("succeeded") == "ok"
    assert status_class("rollback_failed") == "bad"
    assert status_class("waiting_approval") == "wait"
    assert status_class("something new") == "quiet"
    assert short({"b": 1, "a": [1, 2]}) == '{"a": [1, 2], "b": 1}'
    assert short("x" * 300, 10) == "x" * 9 + "…"
