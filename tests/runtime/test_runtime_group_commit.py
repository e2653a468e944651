"""The write-ahead rule, and no more: a step's start is durable before an action with effects
runs; steps whose actions have no effects (log, sleep...) are committed in groups."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import pytest

from runbook_engine.plugin import Action, ActionContext, Registry
from runbook_engine.plugin.contract import Result
from runbook_engine.service import Engine
from runbook_engine.store import NewEvent, Store
from tests.runtime.runtime_actions import NameParams
from tests.runtime.runtime_helpers import runbook, types


@pytest.fixture
def commits(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The event types of each committed batch, in order."""
    batches: list[list[str]] = []
    original: Callable[..., Any] = store.append_events

    def counted(run_id: str, batch: Sequence[NewEvent], **kw: Any) -> Any:
        batches.append([str(e.type) for e in batch])
        return original(run_id, batch, **kw)

    monkeypatch.setattr(store, "append_events", counted)
    return batches


def test_log_steps_are_committed_in_groups(
    engine: Engine, store: Store, commits: list[list[str]]
) -> None:
    steps = "".join(f"  - {{id: s{i}, action: log, with: {{message: m{i}}}}}\n" for i in range(200))
    out = engine.start(runbook("steps:\n" + steps), {}, requester="alice")
    assert out.status == "succeeded"
    assert types(store, out.run_id).count("step.succeeded") == 200
    # far fewer commits than steps (each of the 200 would otherwise be one)
    assert len(commits) < 50, [len(b) for b in commits]


class SeesItsStart(Action):
    """An action with effects that looks, while it runs, at what the store holds."""

    name = "test.sees_start"
    Params = NameParams
    store: ClassVar[Store | None] = None
    seen: ClassVar[list[list[tuple[str, str | None]]]] = []

    def run(self, params: NameParams, ctx: ActionContext) -> Result:
        assert self.store is not None
        committed = self.store.events(ctx.run_id)
        self.seen.append([(e.type, e.step_id) for e in committed])
        return {}


def test_an_action_with_effects_runs_only_after_its_start_is_committed(
    registry: Registry, store: Store
) -> None:
    registry.register(SeesItsStart)
    SeesItsStart.store, SeesItsStart.seen = store, []
    engine = Engine(store=store, registry=registry)
    body = """
    steps:
      - {id: a, action: log, with: {message: before}}
      - {id: b, action: test.sees_start, with: {name: b}}
      - {id: c, action: log, with: {message: after}}
    """
    out = engine.start(runbook(body), {}, requester="alice")
    assert out.status == "succeeded"
    [seen] = SeesItsStart.seen
    # its own start, and everything recorded before it, were durable when it acted
    assert seen[-1] == ("step.started", "b")
    assert ("step.succeeded", "a") in seen
