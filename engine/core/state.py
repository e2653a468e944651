"""The state of one run, rebuilt from its event log. Plain frozen data; JSON round-trips exactly."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, TypeVar, overload

from immutables import Map

from runbook_engine.core.loop_state import LoopState, tracked
from runbook_engine.core.statuses import PENDING

# step statuses
STEP_PENDING = "pending"
STEP_RUNNING = "running"
STEP_RETRY_WAIT = "retry_wait"
STEP_WAITING = "waiting"  # an approval step waiting for decisions, an input step for values
STEP_SUCCEEDED = "succeeded"
STEP_FAILED = "failed"
STEP_SKIPPED = "skipped"
STEP_INTERRUPTED = "interrupted"  # in flight when the engine died; not safe to re-run

STEP_DONE = frozenset({STEP_SUCCEEDED, STEP_SKIPPED})


@dataclass(frozen=True)
class StepState:
    status: str = STEP_PENDING
    attempt: int = 0
    visits: int = 0
    outputs: dict[str, Any] = field(default_factory=dict)
    #: the action's result; not in checkpoints: it is read back from the event ``result_seq``
    result: Any = None
    result_seq: int | None = None
    error: dict[str, Any] | None = None
    continued: bool = False  # failed, but on_failure: continue let the run go on
    started_at: float | None = None
    duration: float | None = None
    next_attempt_at: float | None = None
    deadline: float | None = None  # approval (or input) timeout
    timed_out: bool = False  # approval (or input) timeout reached
    target: str | None = None  # goto/branch: where it jumped
    # the last call made (from step.started): a step skipped after a crash is rolled back with it
    action: str | None = None
    params: dict[str, Any] | None = None
    #: a call step: the child run it started (child.started)
    child: str | None = None
    #: an input step: the values given (secret ones as ``***``), until the step succeeds
    given: dict[str, Any] | None = None
    #: an input step: the event that asked (``input.requested``: the message and the form)
    asked_seq: int | None = None


@dataclass(frozen=True)
class Completed:
    """A step that did something, kept for rollback in reverse order."""

    step: str
    action: str
    params: dict[str, Any]
    result: Any
    rollback: str = PENDING  # pending, running, succeeded, failed, skipped
    #: the event that carried ``result`` (checkpoints keep this, not the result)
    result_seq: int | None = None


@dataclass(frozen=True)
class Decision:
    user: str
    decision: str  # approve | reject
    at: float
    reason: str = ""


_T = TypeVar("_T")


def evolve(obj: _T, **changes: Any) -> _T:
    """``dataclasses.replace`` for the state's frozen dataclasses, without its per-field
    checks: they have no ``__post_init__`` and no init-only fields, and the fold runs this a
    few times per event (``replace`` was a tenth of a step's cost)."""
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    new.__dict__.update(changes)
    return new


class StepMap(Mapping[str, StepState]):
    """The steps of a run by id, in the order they first appeared: an immutable map whose
    ``set`` shares everything it does not change (two HAMTs: values and first-seen order), so
    recording an event costs the same in a run of 5 steps and of 5,000; a dict would be copied
    whole at every event. Iteration (rare: loading, checkpoints, reports) sorts by order."""

    __slots__ = ("_order", "_values")

    def __init__(self, items: Mapping[str, StepState] | None = None) -> None:
        items = items or {}
        self._values: Map[str, StepState] = Map(items)
        self._order: Map[str, int] = Map({key: i for i, key in enumerate(items)})

    def set(self, key: str, value: StepState) -> StepMap:
        new = StepMap.__new__(StepMap)
        new._values = self._values.set(key, value)
        new._order = self._order if key in self._order else self._order.set(key, len(self._order))
        return new

    def __getitem__(self, key: str) -> StepState:
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._order.keys(), key=self._order.__getitem__))

    def __repr__(self) -> str:
        return f"StepMap({dict(self.items())!r})"


class Completions(Sequence[Completed]):
    """The completed steps in order, kept for the rollback: an immutable sequence whose
    ``append`` and ``set`` share the rest (a HAMT by index), so a step's success costs the same
    after 5 steps and after 5,000 (a tuple would be copied whole)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[Completed] = ()) -> None:
        self._items: Map[int, Completed] = Map(dict(enumerate(items)))

    def _with(self, items: Map[int, Completed]) -> Completions:
        new = Completions.__new__(Completions)
        new._items = items
        return new

    def append(self, item: Completed) -> Completions:
        return self._with(self._items.set(len(self._items), item))

    def set(self, index: int, item: Completed) -> Completions:
        if not 0 <= index < len(self._items):
            raise IndexError(index)
        return self._with(self._items.set(index, item))

    @overload
    def __getitem__(self, index: int) -> Completed: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Completed, ...]: ...
    def __getitem__(self, index: int | slice) -> Completed | tuple[Completed, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        if index < 0:
            index += len(self._items)
        if not 0 <= index < len(self._items):
            raise IndexError(index)
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Completed]:
        return (self._items[i] for i in range(len(self._items)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a value, compared by its items

    def __repr__(self) -> str:
        return f"Completions({list(self)!r})"


@dataclass(frozen=True)
class RunState:
    status: str = PENDING
    cursor: int = 0
    steps: StepMap = field(default_factory=StepMap)
    completed: Completions = field(default_factory=Completions)
    rollback_queue: tuple[int, ...] = ()
    rollback_reason: str | None = None  # failed | cancelled | rejected | requested
    approvals: dict[str, tuple[Decision, ...]] = field(default_factory=dict)
    cancel_requested: bool = False
    cancelled_by: str | None = None
    failure: dict[str, Any] | None = None
    attention: dict[str, Any] | None = None
    #: why the run cannot go on for now (``run.blocked``: secrets it needs); None once driven
    blocked: dict[str, Any] | None = None
    #: the version each call step without one runs, pinned when the run started
    calls: dict[str, int] | None = None
    started_at: float | None = None
    finished_at: float | None = None
    last_seq: int = 0
    # Indexes derived from ``steps`` and kept up to date by ``with_step``, so the questions
    # decide asks at every turn ("is anything running?") cost the same at any run length.
    # Not serialised: ``from_dict`` and ``from_checkpoint`` derive them again.
    running: frozenset[str] = frozenset()
    interrupted: frozenset[str] = frozenset()
    forced: frozenset[str] = frozenset()  # failed with force_rollback (rolled back on request)
    #: the ``for_each`` steps entered, by step id: their items and counters over them
    loops: Mapping[str, LoopState] = field(default_factory=dict)

    def step(self, step_id: str) -> StepState:
        return self.steps.get(step_id, StepState())

    def with_step(self, step_id: str, **changes: Any) -> RunState:
        before = self.step(step_id)
        after = evolve(before, **changes)
        steps = self.steps.set(step_id, after)
        if (
            before.status == after.status
            and before.error is after.error
            and before.continued == after.continued
        ):
            return evolve(self, steps=steps)
        loops = self.loops
        if loops and "[" in step_id:  # an item of a loop: its counters follow
            moved = tracked(
                loops, step_id, (before.status, before.continued), (after.status, after.continued)
            )
            loops = loops if moved is None else moved
        return evolve(
            self,
            steps=steps,
            loops=loops,
            running=_indexed(self.running, step_id, after.status == STEP_RUNNING),
            interrupted=_indexed(self.interrupted, step_id, after.status == STEP_INTERRUPTED),
            forced=_indexed(self.forced, step_id, _is_forced(after)),
        )

    def with_indexes(self) -> RunState:
        """This state with its step indexes derived from ``steps`` (after loading)."""
        return replace(
            self,
            running=frozenset(s for s, st in self.steps.items() if st.status == STEP_RUNNING),
            interrupted=frozenset(
                s for s, st in self.steps.items() if st.status == STEP_INTERRUPTED
            ),
            forced=frozenset(s for s, st in self.steps.items() if _is_forced(st)),
        )

    def interrupted_in_order(self) -> list[str]:
        """The interrupted steps, in the order they first appeared in the run."""
        if not self.interrupted:
            return []
        return [sid for sid in self.steps if sid in self.interrupted]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(evolve(self, steps=StepMap(), completed=Completions()))
        out["steps"] = {sid: asdict(st) for sid, st in self.steps.items()}
        out["completed"] = [asdict(c) for c in self.completed]
        out["loops"] = {sid: loop.to_data() for sid, loop in self.loops.items()}
        for name in _DERIVED:
            del out[name]
        return out

    # ------------------------------------------------------------------ checkpoints

    def to_checkpoint(self) -> dict[str, Any]:
        """The compact form kept on the run row: everything but the actions' results, which
        stay in their events (``result_seq``) so a checkpoint never grows with output."""
        # None values are left out (a reader takes the default): fewer bytes, and no null for
        # the store's encoder to double-check for a NaN (engine/store/_engine.py json_dumps)
        out: dict[str, Any] = {
            name: value for name in _RUN_SCALARS if (value := getattr(self, name)) is not None
        }
        out["v"] = CHECKPOINT_VERSION
        out["steps"] = {sid: _sparse_step(st) for sid, st in self.steps.items()}
        out["completed"] = [_without_result(c) for c in self.completed]
        out["rollback_queue"] = list(self.rollback_queue)
        out["approvals"] = {
            sid: [_fields(d) for d in decisions] for sid, decisions in self.approvals.items()
        }
        if self.loops:
            out["loops"] = {sid: loop.to_data() for sid, loop in self.loops.items()}
        return out

    @classmethod
    def from_checkpoint(cls, data: Mapping[str, Any] | None) -> RunState:
        """The state a checkpoint holds (results still to be read back: ``result_seqs``).

        Anything that is not a checkpoint of this version (an empty row, a store written by an
        older release) is the empty state: folding the whole log then gives the truth."""
        if not data or data.get("v") != CHECKPOINT_VERSION:
            return cls()
        return cls(
            **{name: data[name] for name in _RUN_SCALARS if name in data},
            steps=StepMap({k: StepState(**v) for k, v in data["steps"].items()}),
            completed=Completions(Completed(result=None, **c) for c in data["completed"]),
            rollback_queue=tuple(data["rollback_queue"]),
            approvals={k: tuple(Decision(**d) for d in v) for k, v in data["approvals"].items()},
            loops={k: LoopState.of(v) for k, v in (data.get("loops") or {}).items()},
        ).with_indexes()

    def summary(self) -> dict[str, Any]:
        """What list views read off the run row without loading the run: why it failed, the
        deadlines of the approvals it waits for, and what blocks it."""
        out: dict[str, Any] = {
            "failure": self.failure,
            "waiting": {
                sid: st.deadline for sid, st in self.steps.items() if st.status == STEP_WAITING
            },
        }
        if self.blocked is not None:
            out["blocked"] = self.blocked  # the secrets it waits for
        return out

    def result_seqs(self) -> set[int]:
        """The events whose results this state refers to but does not hold."""
        wanted = {st.result_seq for st in self.steps.values() if st.result is None}
        wanted |= {c.result_seq for c in self.completed if c.result is None}
        wanted.discard(None)
        return {seq for seq in wanted if seq is not None}

    def with_results(self, results: Mapping[int, Any]) -> RunState:
        """This state with the results read back from their events (``seq -> result``)."""
        if not results:
            return self
        steps = StepMap({sid: _hydrated(st, results) for sid, st in self.steps.items()})
        completed = Completions(_hydrated(c, results) for c in self.completed)
        return replace(self, steps=steps, completed=completed)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        return cls(
            **{name: data[name] for name in _RUN_SCALARS if name in data},
            steps=StepMap({k: StepState(**v) for k, v in data["steps"].items()}),
            completed=Completions(Completed(**c) for c in data["completed"]),
            rollback_queue=tuple(data["rollback_queue"]),
            approvals={k: tuple(Decision(**d) for d in v) for k, v in data["approvals"].items()},
            loops={k: LoopState.of(v) for k, v in (data.get("loops") or {}).items()},
        ).with_indexes()


#: the layout of ``RunState.to_checkpoint``; a checkpoint of another version is ignored
CHECKPOINT_VERSION = 2

_RUN_SCALARS = (
    "status",
    "cursor",
    "rollback_reason",
    "cancel_requested",
    "cancelled_by",
    "failure",
    "attention",
    "blocked",
    "calls",
    "started_at",
    "finished_at",
    "last_seq",
)


_DERIVED = ("running", "interrupted", "forced")


def _indexed(index: frozenset[str], step_id: str, member: bool) -> frozenset[str]:
    if member == (step_id in index):
        return index
    return index | {step_id} if member else index - {step_id}


def _is_forced(st: StepState) -> bool:
    return st.status == STEP_FAILED and bool((st.error or {}).get("force_rollback"))


def _fields(obj: Any) -> dict[str, Any]:
    # shallow on purpose: the values are JSON already (they came from events)
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


_Holder = TypeVar("_Holder", StepState, Completed)


def _hydrated(obj: _Holder, results: Mapping[int, Any]) -> _Holder:
    if obj.result is None and obj.result_seq is not None and obj.result_seq in results:
        return replace(obj, result=results[obj.result_seq])
    return obj


_STEP_DEFAULTS = {f.name: getattr(StepState(), f.name) for f in fields(StepState)}


def _sparse_step(st: StepState) -> dict[str, Any]:
    """A step as a checkpoint keeps it: only what differs from a new step, and no result."""
    return {
        name: value
        for name, default in _STEP_DEFAULTS.items()
        if name != "result" and (value := getattr(st, name)) != default
    }


def _without_result(obj: Completed) -> dict[str, Any]:
    return {k: v for k, v in _fields(obj).items() if k != "result" and v is not None}
