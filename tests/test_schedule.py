"""Schedules: fire times across timezones, exactly-once ticks, the missed-tick policy, report."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from runbook_engine.cli import main
from runbook_engine.schedule import (
    GRACE,
    Scheduler,
    Tick,
    fire_times,
    plan_ticks,
    tick_run_id,
    upcoming,
)
from runbook_engine.service import Engine
from runbook_engine.spec import LoadedRunbook, load_text
from runbook_engine.spec.models import Schedule
from runbook_engine.store import Store

DOC = """\
apiVersion: runbook/v1
name: nightly
version: 1
parameters:
  target: {{type: string, default: none}}
schedule:
  - {{cron: "{cron}", timezone: {tz}, missed: {missed}, params: {{target: scheduled}}}}
steps:
  - id: check
    action: assert
    with: {{that: "{{{{ params.target == 'scheduled' }}}}", message: "wrong target"}}
"""


def loaded(cron: str = "0 6 * * *", tz: str = "UTC", missed: str = "skip") -> LoadedRunbook:
    return load_text(DOC.format(cron=cron, tz=tz, missed=missed), "nightly.yaml")


def test_fire_times_respect_timezone_and_dst() -> None:
    sched = Schedule(cron="0 6 * * *", timezone="Europe/Paris")
    start = datetime(2026, 10, 24, 12, tzinfo=UTC)
    times = list(fire_times(sched, start, start + timedelta(days=2)))
    # 06:00 Paris is 04:00 UTC in summer time and 05:00 UTC after the switch on Oct 25
    assert times == [datetime(2026, 10, 25, 5, tzinfo=UTC), datetime(2026, 10, 26, 5, tzinfo=UTC)]


def test_seconds_field() -> None:
    sched = Schedule(cron="* * * * * */2")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert len(list(fire_times(sched, start, start + timedelta(seconds=10)))) == 5


def test_tick_run_ids_are_deterministic() -> None:
    at = datetime(2026, 1, 1, 6, tzinfo=UTC)
    assert tick_run_id("a", 0, at) == tick_run_id("a", 0, at)
    assert tick_run_id("a", 0, at) != tick_run_id("a", 1, at)
    assert tick_run_id("a", 0, at) != tick_run_id("a", 0, at + timedelta(days=1))


@pytest.mark.parametrize(
    ("missed", "expect_fire", "expect_skipped"),
    [("skip", [], 3), ("run_once", [datetime(2026, 1, 4, 6, tzinfo=UTC)], 2)],
)
def test_missed_policy(missed: str, expect_fire: list[datetime], expect_skipped: int) -> None:
    lb = loaded(missed=missed)
    last = datetime(2026, 1, 1, 6, tzinfo=UTC)
    now = datetime(2026, 1, 4, 12, tzinfo=UTC)  # three daily ticks missed while down
    fire, skipped = plan_ticks(lb, 0, lb.runbook.schedule[0], last, now)
    assert [t.fire_at for t in fire] == expect_fire
    assert all(t.late for t in fire)
    assert len(skipped) == expect_skipped


def test_due_tick_within_grace_fires() -> None:
    lb = loaded()
    tick_at = datetime(2026, 1, 2, 6, tzinfo=UTC)
    fire, skipped = plan_ticks(
        lb, 0, lb.runbook.schedule[0], tick_at - timedelta(days=1), tick_at + GRACE / 2
    )
    assert [t.fire_at for t in fire] == [tick_at] and not skipped


def test_each_tick_fires_once_across_schedulers(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        lb = loaded(cron="* * * * * *")
        engine = Engine(store=store)
        started: list[str] = []
        lock = threading.Lock()

        def create(tick: Tick) -> bool:
            try:
                engine.create(
                    tick.loaded,
                    tick.schedule.params,
                    requester="schedule",
                    from_text=False,
                    run_id=tick.run_id,
                )
            except Exception:
                return store.get_run(tick.run_id) is None
            return True

        def start(tick: Tick) -> None:
            with lock:
                started.append(tick.run_id)

        now = datetime.now(UTC).replace(microsecond=0)
        schedulers = [Scheduler(store, lambda: [lb], create, start) for _ in range(3)]
        for second in range(10):
            at = now + timedelta(seconds=second, milliseconds=500)
            threads = [threading.Thread(target=s.tick, args=(at,)) for s in schedulers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert len(started) == len(set(started))
        ticks = [t for t in store.ticks("nightly") if t.outcome == "started"]
        assert len(ticks) == len(started)
        # the first pass may also fire the tick at `now` itself; after that one per second
        assert 10 <= len(started) <= 11
        for run_id in started:
            record = store.get_run(run_id)
            assert record is not None and record.requester == "schedule"
            assert record.params == {"target": "scheduled"}
    finally:
        store.close()


def test_scheduled_run_executes_and_report_counts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNBOOK_DB", str(tmp_path / "r.db"))
    monkeypatch.delenv("RUNBOOK_PATH", raising=False)
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "nightly.yaml").write_text(
        DOC.format(cron="* * * * * *", tz="UTC", missed="skip")
    )
    (tmp_path / "runbooks" / "broken-check.yaml").write_text(
        DOC.format(cron="* * * * * *", tz="UTC", missed="skip")
        .replace("name: nightly", "name: broken-check")
        .replace("target: scheduled", "target: elsewhere")
    )
    store = Store.open()
    try:
        engine = Engine(store=store)
        from runbook_engine.catalog import Catalog

        def create(tick: Tick) -> bool:
            engine.create(
                tick.loaded,
                tick.schedule.params,
                requester="schedule",
                from_text=False,
                run_id=tick.run_id,
            )
            return True

        outcomes = []
        scheduler = Scheduler(
            store,
            Catalog().latest,
            create,
            lambda tick: outcomes.append(engine.execute(tick.run_id)),
        )
        scheduler.tick(datetime.now(UTC))
        assert {o.status for o in outcomes} == {"succeeded", "failed"}
    finally:
        store.close()
    result = CliRunner().invoke(main, ["report", "--since", "1h", "-o", "json"])
    assert result.exit_code == 0, result.output
    import json

    data = {r["runbook"]: r for r in json.loads(result.output)["runbooks"]}
    assert data["nightly"]["passed"] >= 1 and data["nightly"]["failed"] == 0
    assert data["broken-check"]["failed"] >= 1
    assert data["broken-check"]["failed_checks"] == {"check": data["broken-check"]["failed"]}
    assert data["broken-check"]["last_failure"]["message"] == "wrong target"
    text = CliRunner().invoke(main, ["report", "--since", "1h"]).output
    assert "broken-check" in text
    listing = json.loads(
        CliRunner().invoke(main, ["schedules", "-o", "json", "--count", "2"]).output
    )
    assert len([r for r in listing if r["runbook"] == "nightly"]) == 2


def test_upcoming() -> None:
    lb = loaded()
    now = datetime(2026, 1, 1, 7, tzinfo=UTC)
    assert upcoming(lb, now, 2) == [
        (0, datetime(2026, 1, 2, 6, tzinfo=UTC)),
        (0, datetime(2026, 1, 3, 6, tzinfo=UTC)),
    ]


def test_report_posts_a_summary_to_slack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runbook_engine.testing.fake_slack import FakeSlack

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNBOOK_DB", str(tmp_path / "r.db"))
    Store.open(f"sqlite:///{tmp_path / 'r.db'}").close()  # a store with no runs yet
    monkeypatch.delenv("RUNBOOK_PATH", raising=False)
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "nightly.yaml").write_text(
        DOC.format(cron="0 6 * * *", tz="UTC", missed="skip")
    )
    with FakeSlack() as fake:
        monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
        monkeypatch.setenv("RUNBOOK_SLACK_API_URL", fake.api_url)
        result = CliRunner().invoke(main, ["report", "--since", "1d", "--slack", "#compliance"])
        assert result.exit_code == 0, result.output
        (message,) = fake.messages("#compliance")
    assert "nightly: 0 passed, 0 failed" in message.text
    assert "Compliance since" in message.text


def test_report_to_slack_needs_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNBOOK_DB", str(tmp_path / "r.db"))
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["report", "--slack", "#compliance"])
    assert result.exit_code == 1
    assert "needs SLACK_BOT_TOKEN" in result.output
