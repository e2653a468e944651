"""Fault injection: SIGKILL a real ``runbook`` process at many points, then resume it to the end.

Each case starts ``runbook run FILE --yes -o json`` (the installed console script, a fresh
SQLite store in ``tmp_path``), watches the store from this process and sends SIGKILL at a chosen
point. Then it plays the operator: ``runbook resume RUN -o json`` until the run is terminal,
answering ``needs_attention`` the way a person would after looking at the system — ``--skip``
when the interrupted step's side effect is visibly there, ``--retry`` when it is not.

The side effects are lines appended to a file by ``shell.command`` steps (never idempotent), so
the file is the ground truth: after recovery it must hold exactly what a clean run writes, and
no line twice.

Kill points:

* ``event`` — kill as soon as the run's event count reaches N (polled every ~3 ms): early in
  the window between event N and N+1. Polling could overshoot when the engine writes events
  back to back (not seen in practice: each commit fsyncs); the test only requires >= N.
* ``gate`` — exact: a trigger on the ``events`` table makes the insert of event N+1 burn CPU
  inside the engine's write transaction; when the write lock stays held with N events
  committed, the engine is killed mid-transaction. This lands at the *end* of the window (the
  action between N and N+1 has finished) and never overshoots.
* ``effect`` — kill the moment a step's side-effect line appears in the file, before the
  engine records that the step finished (the commands sleep a little after their ``echo``).
* ``delay`` — kill a seeded random time after the run appears in the store.

Some cases also kill the ``resume`` process itself.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.core.statuses import EXIT_CODES, NEEDS_ATTENTION, TERMINAL
from runbook_engine.store import EventRecord, Store

RUNBOOK_BIN = Path(sys.executable).parent / "runbook"

MAIN = """\
apiVersion: runbook/v1
name: kill9-main
version: 1
parameters:
  out: {type: string}
steps:
  - id: s1
    action: shell.command
    with: {command: "echo s1 >> {{ params.out | quote }}; sleep 0.1"}
    rollback:
      action: shell.command
      with: {command: "echo undo-s1 >> {{ params.out | quote }}"}
  - id: w1
    action: sleep
    with: {duration: 0.2}
  - id: s2
    action: shell.command
    with: {command: "echo s2 >> {{ params.out | quote }}"}
  - id: s3
    action: shell.command
    with: {command: "echo s3 >> {{ params.out | quote }}; sleep 0.1"}
    rollback:
      action: shell.command
      with: {command: "echo undo-s3 >> {{ params.out | quote }}"}
  - id: w2
    action: sleep
    with: {duration: 0.2}
  - id: s4
    action: shell.command
    with: {command: "echo s4 >> {{ params.out | quote }}"}
"""

# The last step fails, so every completed step is rolled back (w1's rollback is an idempotent
# sleep, the others are non-idempotent shell commands).
ROLLBACK = """\
apiVersion: runbook/v1
name: kill9-rollback
version: 1
parameters:
  out: {type: string}
steps:
  - id: s1
    action: shell.command
    with: {command: "echo s1 >> {{ params.out | quote }}"}
    rollback:
      action: shell.command
      with: {command: "echo undo-s1 >> {{ params.out | quote }}; sleep 0.15"}
  - id: w1
    action: sleep
    with: {duration: 0.2}
    rollback:
      action: sleep
      with: {duration: 0.2}
  - id: s2
    action: shell.command
    with: {command: "echo s2 >> {{ params.out | quote }}; sleep 0.15"}
    rollback:
      action: shell.command
      with: {command: "echo undo-s2 >> {{ params.out | quote }}; sleep 0.15"}
  - id: boom
    action: fail
    with: {message: boom}
"""


@dataclass(frozen=True)
class Variant:
    name: str
    text: str
    #: events a clean run writes (checked against a real clean run by test_clean_run_baseline)
    events: int
    #: the shell steps, each appending its own id to the side-effect file
    shell_steps: frozenset[str]


VARIANTS = {
    "main": Variant("main", MAIN, 15, frozenset({"s1", "s2", "s3", "s4"})),
    "rollback": Variant("rollback", ROLLBACK, 18, frozenset({"s1", "s2"})),
}

MAX_OPERATOR_LOOPS = 6
PROCESS_TIMEOUT = 60.0
POLL = 0.003  # while the run exists
POLL_STARTUP = 0.02  # until it does (the CLI takes most of a second to start)

# ---------------------------------------------------------------------------- plumbing


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOK_")}
    env.update(RUNBOOK_DB=str(db), RUNBOOK_USER="oncall", NO_COLOR="1")
    return env


@dataclass
class Sandbox:
    """One case's world: runbook file, store, side-effect file."""

    tmp: Path
    variant: Variant
    store: Store
    rb: Path = field(init=False)
    db: Path = field(init=False)
    out: Path = field(init=False)

    def __post_init__(self) -> None:
        self.rb = self.tmp / f"{self.variant.name}.yaml"
        self.rb.write_text(self.variant.text)
        self.db = self.tmp / "runs.db"
        self.out = self.tmp / "effects.txt"

    @property
    def env(self) -> dict[str, str]:
        return _env(self.db)

    def lines(self) -> list[str]:
        return self.out.read_text().split() if self.out.exists() else []

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(RUNBOOK_BIN), *args],
            cwd=self.tmp,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def start_run(self) -> subprocess.Popen[str]:
        return self.spawn("run", str(self.rb), "--yes", "-o", "json", "-p", f"out={self.out}")

    def run_id(self) -> str | None:
        runs = self.store.list_runs(limit=2)
        assert len(runs) <= 1, "one run per sandbox"
        return runs[0].id if runs else None

    def events(self, run_id: str) -> list[EventRecord]:
        return self.store.events(run_id)


@pytest.fixture
def sandbox_for(tmp_path: Path) -> Any:
    stores: list[Store] = []

    def make(variant: str) -> Sandbox:
        # Opening the store here creates and migrates it before the engine process starts.
        store = Store.open(str(tmp_path / "runs.db"))
        stores.append(store)
        return Sandbox(tmp_path, VARIANTS[variant], store)

    yield make
    for store in stores:
        store.close()


# ---------------------------------------------------------------------------- kill triggers

Trigger = Callable[["Sandbox", "str | None"], bool]


def at_event(n: int) -> Trigger:
    def hit(sb: Sandbox, run_id: str | None) -> bool:
        return run_id is not None and bool(sb.store.events(run_id, after_seq=n - 1))

    return hit


def at_effect(line: str) -> Trigger:
    def hit(sb: Sandbox, run_id: str | None) -> bool:
        return line in sb.lines()

    return hit


def after_delay(seconds: float) -> Trigger:
    seen: list[float] = []

    def hit(sb: Sandbox, run_id: str | None) -> bool:
        if run_id is None:
            return False
        if not seen:
            seen.append(time.monotonic())
        return time.monotonic() - seen[0] >= seconds

    return hit


@dataclass
class Killed:
    run_id: str | None
    killed: bool  # False: the process ended before the trigger fired
    events_at_kill: int
    stdout: str
    stderr: str


def kill_when(
    sb: Sandbox, proc: subprocess.Popen[str], trigger: Trigger, run_id: str | None = None
) -> Killed:
    deadline = time.monotonic() + PROCESS_TIMEOUT
    killed = False
    try:
        while proc.poll() is None:
            if run_id is None:
                run_id = sb.run_id()
            if trigger(sb, run_id):
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            if time.monotonic() > deadline:
                pytest.fail("the engine process did not reach the kill point in time")
            time.sleep(POLL if run_id is not None else POLL_STARTUP)
    finally:
        if proc.poll() is None and not killed:
            proc.kill()
        # reaping matters: an unreaped pid still answers kill(pid, 0), so resume would think
        # the dead owner is alive
        stdout, stderr = proc.communicate(timeout=PROCESS_TIMEOUT)
    if killed:
        assert proc.returncode == -signal.SIGKILL, (proc.returncode, stderr)
    if run_id is None:
        run_id = sb.run_id()
    count = len(sb.events(run_id)) if run_id else 0
    return Killed(run_id, killed, count, stdout, stderr)


class Gate:
    """Hold the engine inside its write of event ``n + 1``, so a kill lands exactly after ``n``.

    A BEFORE INSERT trigger makes that insert run a long cross join inside the engine's write
    transaction; this process sees the write lock held while only ``n`` events are committed,
    and kills the engine there. The uncommitted event is rolled back by SQLite.
    """

    BURN_ROWS = 700  # 700**3 row combinations: seconds of CPU, cut short by the kill

    def __init__(self, sb: Sandbox, n: int) -> None:
        self.sb = sb
        self.n = n
        self.conn = sqlite3.connect(sb.db, timeout=10, isolation_level=None)
        self.conn.execute("CREATE TABLE IF NOT EXISTS _burn (x INTEGER)")
        if not self.conn.execute("SELECT count(*) FROM _burn").fetchone()[0]:
            self.conn.executemany(
                "INSERT INTO _burn VALUES (?)", [(i,) for i in range(self.BURN_ROWS)]
            )
        self.conn.execute("DROP TRIGGER IF EXISTS _kill_gate")
        self.conn.execute(
            f"CREATE TRIGGER _kill_gate BEFORE INSERT ON events WHEN NEW.seq = {n + 1} "
            "BEGIN SELECT count(*) FROM _burn a, _burn b, _burn c; END"
        )
        self.probe = sqlite3.connect(sb.db, timeout=0, isolation_level=None)
        self._held_since: float | None = None

    def _write_lock_held(self) -> bool:
        try:
            self.probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        self.probe.execute("ROLLBACK")
        return False

    def __call__(self, sb: Sandbox, run_id: str | None) -> bool:
        if run_id is None or len(sb.store.events(run_id)) != self.n:
            self._held_since = None
            return False
        return self._held_long()

    def _held_long(self) -> bool:
        """The write lock has been held longer than any ordinary commit holds it."""
        if not self._write_lock_held():
            self._held_since = None
            return False
        now = time.monotonic()
        if self._held_since is None:
            self._held_since = now
        # an ordinary commit holds the lock for a few ms; the gate holds it far longer
        return now - self._held_since >= 0.05

    def close(self) -> None:
        self.probe.close()
        self.conn.execute("DROP TRIGGER IF EXISTS _kill_gate")
        self.conn.close()


# ---------------------------------------------------------------------------- the operator


def operator_rule(attention: dict[str, Any], lines: list[str]) -> str:
    """What an on-call engineer does after checking the system: if the interrupted action's
    effect is there, skip it; if not, run it again."""
    step = str(attention["step"])
    effect = f"undo-{step}" if "rollback_index" in attention else step
    return "skip" if effect in lines else "retry"


def rollback_instead(attention: dict[str, Any], lines: list[str]) -> str:
    if "rollback_index" in attention:
        return operator_rule(attention, lines)
    return "rollback"


@dataclass
class Outcome:
    status: str
    steps: dict[str, Any]
    decisions: list[tuple[str, str]]  # (step or undo-step, choice)
    transcript: list[str]


def resume(sb: Sandbox, run_id: str, choice: str | None = None) -> tuple[int, dict[str, Any], str]:
    args = ["resume", run_id, "-o", "json", *([f"--{choice}"] if choice else [])]
    proc = sb.spawn(*args)
    try:
        stdout, stderr = proc.communicate(timeout=PROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"runbook {' '.join(args)} did not finish in {PROCESS_TIMEOUT:g}s")
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"runbook {' '.join(args)} exited {proc.returncode} without JSON:\n"
            f"stdout: {stdout}\nstderr: {stderr}"
        )
    return proc.returncode, data, stderr


def operate(
    sb: Sandbox, run_id: str, policy: Callable[[dict[str, Any], list[str]], str] = operator_rule
) -> Outcome:
    choice: str | None = None
    decisions: list[tuple[str, str]] = []
    transcript: list[str] = []
    for _ in range(MAX_OPERATOR_LOOPS):
        code, data, stderr = resume(sb, run_id, choice)
        status = data.get("status")
        transcript.append(
            f"resume{' --' + choice if choice else ''} -> {code} {status} "
            f"{data.get('attention') or ''} {stderr.strip()}"
        )
        if status in TERMINAL:
            assert code == EXIT_CODES[status], transcript
            return Outcome(status, data["steps"], decisions, transcript)
        assert status == NEEDS_ATTENTION and code == 3, transcript
        attention = data["attention"] or {}
        assert "step" in attention, (
            "needs_attention without a step to decide about (the engine's 'found nothing to "
            f"do' fallback): {transcript}"
        )
        choice = policy(attention, sb.lines())
        assert choice in attention["choices"], (choice, attention)
        target = str(attention["step"])
        decisions.append((f"undo-{target}" if "rollback_index" in attention else target, choice))
    pytest.fail(f"run {run_id} did not reach a terminal status: {transcript}")


# ---------------------------------------------------------------------------- baselines


@dataclass(frozen=True)
class Baseline:
    status: str
    events: int
    types: tuple[str, ...]
    lines: tuple[str, ...]


_baselines: dict[str, Baseline] = {}


def baseline(variant: str, tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """One clean, uninterrupted run of the variant (measured once per session)."""
    if variant not in _baselines:
        tmp = tmp_path_factory.mktemp(f"clean-{variant}")
        with Store.open(str(tmp / "runs.db")) as store:
            sb = Sandbox(tmp, VARIANTS[variant], store)
            proc = sb.start_run()
            try:
                stdout, stderr = proc.communicate(timeout=PROCESS_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise
            data = json.loads(stdout)
            run_id = sb.run_id()
            assert run_id is not None and run_id == data["run_id"], stderr
            events = sb.events(run_id)
            _baselines[variant] = Baseline(
                data["status"], len(events), tuple(e.type for e in events), tuple(sb.lines())
            )
    return _baselines[variant]


@pytest.fixture
def clean(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Baseline]:
    return lambda variant: baseline(variant, tmp_path_factory)


# ---------------------------------------------------------------------------- invariants


def _gone(owner: str) -> bool:
    pid = int(owner.rpartition(":")[2])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def check_converged(
    sb: Sandbox, run_id: str, outcome: Outcome, base: Baseline, expected_status: str | None = None
) -> None:
    why = "\n".join(outcome.transcript)
    expected = expected_status or base.status
    assert outcome.status == expected, why

    events = sb.events(run_id)
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(events) + 1)), f"event seqs have gaps: {seqs}"
    assert events[0].type == "run.created"
    assert events[-1].type == "run.finished" and events[-1].data["status"] == expected
    assert [e.type for e in events].count("run.finished") == 1

    # no step recorded as succeeded twice (these runbooks have no goto: one visit each)
    succeeded = Counter(e.step_id for e in events if e.type == "step.succeeded")
    assert all(c == 1 for c in succeeded.values()), succeeded
    undone = Counter(e.data["index"] for e in events if e.type == "rollback.step_succeeded")
    assert all(c == 1 for c in undone.values()), undone

    record = sb.store.get_run(run_id)
    assert record is not None
    assert record.status == expected
    # None, or (killed between run.finished and clearing it) a process that is gone
    assert record.owner is None or _gone(record.owner), record.owner

    lines = sb.lines()
    dupes = {line: c for line, c in Counter(lines).items() if c > 1}
    assert not dupes, f"side effects ran more than once: {dupes}; file: {lines}\n{why}"

    # every step that counts as done has its effect exactly once, and nothing else ran
    for sid, st in outcome.steps.items():
        if sid in sb.variant.shell_steps and st["status"] in ("succeeded", "skipped"):
            assert sid in lines, f"{sid} is {st['status']} but its effect is missing: {lines}"

    assert list(lines) == list(base.lines), (
        f"side effects differ from a clean run: {lines} != {list(base.lines)}\n{why}"
    )


def run_case(
    sb: Sandbox,
    trigger: Trigger,
    base: Baseline,
    policy: Callable[[dict[str, Any], list[str]], str] = operator_rule,
    expected_status: str | None = None,
) -> Killed:
    killed = kill_when(sb, sb.start_run(), trigger)
    assert killed.run_id is not None, f"no run was created: {killed.stderr}"
    outcome = operate(sb, killed.run_id, policy)
    check_converged(sb, killed.run_id, outcome, base, expected_status)
    return killed


# ---------------------------------------------------------------------------- tests


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_clean_run_baseline(variant: str, clean: Callable[[str], Baseline]) -> None:
    base = clean(variant)
    assert base.events == VARIANTS[variant].events, (
        f"a clean {variant} run now writes {base.events} events ({base.types}); "
        "update Variant.events so the kill points cover the whole run"
    )
    if variant == "main":
        assert base.status == "succeeded"
        assert base.lines == ("s1", "s2", "s3", "s4")
    else:
        assert base.status == "rolled_back"
        assert base.lines == ("s1", "s2", "undo-s2", "undo-s1")


def _points(variant: str, first: int = 2, last: int | None = None, step: int = 1) -> list[Any]:
    last = VARIANTS[variant].events if last is None else last
    return [pytest.param(variant, n, id=f"{variant}-N{n}") for n in range(first, last + 1, step)]


# Every point of the main runbook (2..15). For the rollback variant, whose forward part is the
# main runbook's again and whose last point (run.finished) is main-N15's case again, every
# other point of the rollback phase: step.failed (10) and each rollback.step_started (12, 14,
# 16), i.e. each rollback action in flight.
@pytest.mark.parametrize(
    ("variant", "n"), [*_points("main"), *_points("rollback", first=10, last=16, step=2)]
)
def test_kill_at_event(
    variant: str, n: int, sandbox_for: Any, clean: Callable[[str], Baseline]
) -> None:
    base = clean(variant)
    sb = sandbox_for(variant)
    killed = run_case(sb, at_event(n), base)
    print(f"killed with {killed.events_at_kill} events recorded")  # shown when a case fails
    assert killed.events_at_kill >= n


@pytest.mark.parametrize(
    "line",
    [
        # the step has appended s2 but its success is not recorded: the operator skips it,
        # so it counts as done, and the failing last step must then roll it back (undo-s2)
        pytest.param("s2", id="rollback-s2-effect-done"),
        # the rollback of s2 has appended undo-s2, not yet recorded: the operator skips it
        pytest.param("undo-s2", id="rollback-undo-s2-effect-done"),
    ],
)
def test_kill_after_side_effect(
    line: str, sandbox_for: Any, clean: Callable[[str], Baseline]
) -> None:
    base = clean("rollback")
    sb = sandbox_for("rollback")
    killed = run_case(sb, at_effect(line), base)
    assert killed.killed


def test_kill_at_random_delay(sandbox_for: Any, clean: Callable[[str], Baseline]) -> None:
    base = clean("rollback")
    delay = random.Random(2).uniform(0.05, 0.9)
    sb = sandbox_for("rollback")
    killed = run_case(sb, after_delay(delay), base)
    print(f"killed with {killed.events_at_kill} events recorded")  # shown when a case fails


def test_operator_chooses_rollback(sandbox_for: Any, clean: Callable[[str], Baseline]) -> None:
    """Killed with s3 done but not recorded; the operator rolls back instead of deciding."""
    clean("main")
    sb = sandbox_for("main")
    gate = Gate(sb, 9)  # 9: step.started s3
    try:
        killed = kill_when(sb, sb.start_run(), gate)
    finally:
        gate.close()
    assert killed.run_id is not None and killed.events_at_kill == 9
    outcome = operate(sb, killed.run_id, rollback_instead)
    assert outcome.decisions == [("s3", "rollback")], outcome.transcript
    assert outcome.status == "rolled_back", outcome.transcript
    lines = sb.lines()
    # s1 is undone once and s4 never ran. Whether s3 (effect unknown to the engine) should be
    # undone is a design question; today it is not, and it must not be undone twice.
    assert lines[:3] == ["s1", "s2", "s3"], lines
    assert lines.count("undo-s1") == 1, lines
    assert "s4" not in lines, lines
    assert max(Counter(lines).values()) == 1, lines
    events = sb.events(killed.run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events].count("run.finished") == 1


# The run is killed exactly after s1's step.started (s1 has taken effect, its success is not
# recorded); then a resume process is killed at one of its own commits: the first resume inside
# the one write that records run.resumed, step.interrupted and run.needs_attention together
# (killed there, none of the three is kept), or the operator's `resume --skip` after
# run.resolved (7, before it drives the run on).
@pytest.mark.parametrize(
    ("which", "n"),
    [
        pytest.param("first", 3, id="resume-inside-its-first-write"),
        pytest.param("decision", 7, id="resume-skip-after-run.resolved"),
    ],
)
def test_kill_the_resume(
    which: str, n: int, sandbox_for: Any, clean: Callable[[str], Baseline]
) -> None:
    base = clean("main")
    sb = sandbox_for("main")
    gate = Gate(sb, 3)
    try:
        first = kill_when(sb, sb.start_run(), gate)
    finally:
        gate.close()
    run_id = first.run_id
    assert run_id is not None and first.events_at_kill == 3
    assert sb.lines() == ["s1"]
    if which == "decision":
        code, data, _ = resume(sb, run_id)
        assert (code, data["status"]) == (3, NEEDS_ATTENTION), data
        assert len(sb.events(run_id)) == 6
        choice = operator_rule(data["attention"], sb.lines())
        argv = ["resume", run_id, f"--{choice}", "-o", "json"]
    else:
        argv = ["resume", run_id, "-o", "json"]
    gate = Gate(sb, n)
    try:
        killed = kill_when(sb, sb.spawn(*argv), gate, run_id)
    finally:
        gate.close()
    assert killed.killed and killed.events_at_kill == n
    outcome = operate(sb, run_id)
    check_converged(sb, run_id, outcome, base)


class CheckpointGate(Gate):
    """Hold the engine inside a checkpoint write (the checkpoint of the state up to ``seq``,
    or any earlier one with ``before=True``), so the kill lands between an event's commit and
    the checkpoint that follows it."""

    def __init__(self, sb: Sandbox, seq: int, *, before: bool = False) -> None:
        super().__init__(sb, 10**9)  # the event gate never fires
        self.seq = seq
        when = f"NEW.seq < {seq}" if before else f"NEW.seq = {seq}"
        for op in ("INSERT", "UPDATE"):
            self.conn.execute(f"DROP TRIGGER IF EXISTS _kill_checkpoint_{op.lower()}")
            self.conn.execute(
                f"CREATE TRIGGER _kill_checkpoint_{op.lower()} BEFORE {op} ON checkpoints "
                f"WHEN {when} BEGIN SELECT count(*) FROM _burn a, _burn b, _burn c; END"
            )

    def __call__(self, sb: Sandbox, run_id: str | None) -> bool:
        if run_id is None:
            self._held_since = None
            return False
        return self._held_long()

    def close(self) -> None:
        for op in ("insert", "update"):
            self.conn.execute(f"DROP TRIGGER IF EXISTS _kill_checkpoint_{op}")
        super().close()


@pytest.mark.parametrize(
    ("seq", "before"),
    [
        pytest.param(VARIANTS["main"].events, True, id="inside-the-first-checkpoint"),
        pytest.param(VARIANTS["main"].events, False, id="inside-the-last-checkpoint"),
    ],
)
def test_kill_inside_a_checkpoint_write(
    seq: int, before: bool, sandbox_for: Any, clean: Callable[[str], Baseline]
) -> None:
    """Killed while a checkpoint is being written: it goes in the transaction of the events it
    follows, so those events are lost with it (never half of them), the run's older events
    are the truth, and the resumed run converges as from any other kill."""
    base = clean("main")
    sb = sandbox_for("main")
    gate = CheckpointGate(sb, seq, before=before)
    try:
        killed = kill_when(sb, sb.start_run(), gate)
    finally:
        gate.close()
    assert killed.killed and killed.run_id is not None
    found = sb.store.checkpoint(killed.run_id)
    if before:
        assert found is None  # killed inside the first one
    else:
        # the batch that carried the checkpoint is not in; what came before it is, checkpoint
        # included
        assert killed.events_at_kill < seq
        assert found is not None and found[0] <= killed.events_at_kill
    outcome = operate(sb, killed.run_id)
    check_converged(sb, killed.run_id, outcome, base)
