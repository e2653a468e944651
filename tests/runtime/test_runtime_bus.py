"""The event bus: every recorded event reaches subscribers once, in order; a broken subscriber
never stops a run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runbook_engine.core.state import RunState
from runbook_engine.identity import Directory
from runbook_engine.plugin import Registry
from runbook_engine.runtime.bus import Bus, Event, RunInfo
from runbook_engine.runtime.runner import Runner
from runbook_engine.service import Engine
from runbook_engine.store import Store
from tests.runtime.runtime_helpers import alive, runbook, wait_for


@dataclass
class Collect:
    seen: list[Event] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)

    def on_event(self, run: RunInfo, event: Event, state: RunState) -> None:
        assert run.id == event.run_id
        self.seen.append(event)
        self.statuses.append(state.status)


class Broken:
    def on_event(self, run: RunInfo, event: Event, state: RunState) -> None:
        raise RuntimeError(f"notifier down at {event.type}")


def engine_with(store: Store, registry: Registry, *subscribers: object) -> Engine:
    return Engine(
        store=store,
        registry=registry,
        directory=Directory({"sre": frozenset({"bob"})}),
        subscribers=list(subscribers),  # type: ignore[arg-type]
    )


def test_a_raising_subscriber_does_not_break_the_run(
    store: Store, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    collect = Collect()
    engine = engine_with(store, registry, Broken(), collect)
    loaded = runbook(
        """
        steps:
          - {id: a, action: log, with: {message: a}}
          - {id: b, action: log, with: {message: b}}
        """
    )
    with caplog.at_level(logging.ERROR, logger="runbook.bus"):
        out = engine.start(loaded, {}, requester="alice")
    assert out.status == "succeeded"
    logged = store.events(out.run_id)
    assert [e.seq for e in collect.seen] == [e.seq for e in logged]  # the next one still hears
    assert any("notifier down" in r.exc_text for r in caplog.records if r.exc_text)


def test_every_event_once_in_order_across_start_decisions_and_resume(
    store: Store, registry: Registry
) -> None:
    collect = Collect()
    engine = engine_with(store, registry, collect)
    loaded = runbook(
        """
        steps:
          - {id: a, action: log, with: {message: a}}
          - {id: ok, approval: {message: "go?", approvers: ["@sre"]}}
          - {id: b, action: log, with: {message: b}}
          - {id: ok2, approval: {message: "again?", approvers: ["@sre"]}}
          - {id: c, action: log, with: {message: c}}
        """
    )
    out = engine.start(loaded, {}, requester="alice", wait_for_approval=False)
    assert out.status == "waiting_approval"
    engine.decide(out.run_id, user="bob", approve=True)  # written while no engine drives it
    mid = engine.resume(out.run_id, by="bob", wait_for_approval=False)
    assert mid.status == "waiting_approval"
    engine.decide(out.run_id, user="bob", approve=True)
    done = engine.resume(out.run_id, by="bob")
    assert done.status == "succeeded"

    logged = store.events(out.run_id)
    assert [e.seq for e in collect.seen] == list(range(1, len(logged) + 1))
    assert [e.type for e in collect.seen] == [e.type for e in logged]
    assert [e.type for e in collect.seen].count("approval.decided") == 2
    assert [e.data for e in collect.seen] == [e.data for e in logged]
    # each subscriber call sees the state as of that event
    assert collect.statuses[-1] == "succeeded"
    assert collect.statuses[[e.type for e in collect.seen].index("approval.requested")] == (
        "waiting_approval"
    )


def test_across_a_crash_and_a_resume_with_a_choice_every_event_is_heard_once(
    store: Store, registry: Registry, tmp_path: Path
) -> None:
    collect = Collect()
    pid_file = tmp_path / "pid"
    loaded = runbook(
        f"""
        steps:
          - {{id: a, action: log, with: {{message: a}}}}
          - id: work
            action: shell.command
            with: {{command: "echo $$ > {pid_file}; exec sleep 30"}}
          - {{id: after, action: log, with: {{message: after}}}}
        """
    )
    rb = loaded.runbook
    store.save_version(rb.name, rb.version, loaded.digest, loaded.source, loaded.document)
    store.create_run(
        "r", runbook=rb.name, version=1, digest=loaded.digest, params={}, requester="alice"
    )

    async def run_and_die() -> None:
        runner = Runner(
            store=store,
            registry=registry,
            loaded=loaded,
            run_id="r",
            params={},
            requester="alice",
            bus=Bus([collect]),
            owner="dead-host:1",
        )
        task = asyncio.create_task(runner.run())
        while not pid_file.exists() or not pid_file.read_text().strip():
            await asyncio.sleep(0.02)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run_and_die())
    before = len(collect.seen)
    assert [e.type for e in collect.seen][-1] in ("step.started", "step.output")
    wait_for(lambda: not alive(int(pid_file.read_text())), timeout=5, what="the command to stop")

    engine = engine_with(store, registry, collect)
    stopped = engine.resume("r", by="bob")
    assert stopped.status == "needs_attention"
    # the history is not heard again: the resumed engine's first word is its own
    assert [e.type for e in collect.seen[before:]] == [
        "run.resumed",
        "step.interrupted",
        "run.needs_attention",
    ]
    done = engine.resume("r", choice="skip", by="bob")
    assert done.status == "succeeded"
    logged = store.events("r")
    assert [e.seq for e in collect.seen] == list(range(1, len(logged) + 1))
    assert [e.type for e in collect.seen] == [e.type for e in logged]
    assert "run.resolved" in [e.type for e in collect.seen]
