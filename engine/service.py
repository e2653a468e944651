"""The engine's front door: start, resume, approve, reject and cancel runs.

The CLI, the Slack app and workers all call these; none of them talks to the runtime directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, ParamSpec, TypeVar

from runbook_engine.auth.audit import REFUSED, Attempt, AuditHook, AuditTrail
from runbook_engine.auth.principal import Principal
from runbook_engine.catalog import Catalog
from runbook_engine.children import MAX_DEPTH, ChildRuns, RunNode, run_tree
from runbook_engine.core import inputs
from runbook_engine.core.apply import Layout, apply
from runbook_engine.core.children import CHILD_RUN_PREFIX
from runbook_engine.core.decide import pending_rollback
from runbook_engine.core.events import EventType, RollbackStarted
from runbook_engine.core.state import RunState
from runbook_engine.core.statuses import (
    CANCELLED,
    EXIT_CODES,
    EXIT_LOCKED,
    NEEDS_ATTENTION,
    PENDING,
    ROLLING_BACK,
    TERMINAL,
)
from runbook_engine.errors import (
    ApprovalError,
    FieldError,
    LockHeld,
    NotWaitingForInput,
    ParameterError,
    RunbookError,
    RunbookInvalid,
    RunNotFound,
    StoreError,
)
from runbook_engine.identity import Directory
from runbook_engine.lease import HEARTBEAT_EVERY, STALE_AFTER, is_driven, owner_dead, owner_id
from runbook_engine.permissions import (
    Who,
    may_cancel,
    may_decide,
    may_give_input,
    may_resume,
    may_run,
    may_trigger,
    name_of,
)
from runbook_engine.plugin import Registry, default_registry
from runbook_engine.runtime.bus import Bus, Event, RunInfo, Subscriber
from runbook_engine.runtime.children import ChildOutcome, ChildRequest
from runbook_engine.runtime.loading import Loaded, load
from runbook_engine.runtime.rerun import RerunPlan, RerunRefused, limits_of, plan_rerun
from runbook_engine.runtime.runner import Runner
from runbook_engine.secret_taint import watch
from runbook_engine.secret_texts import SecretTexts, secret_params
from runbook_engine.spec.loader import LoadedRunbook, load_text
from runbook_engine.spec.models import ApprovalStep, CallStep, InputStep, Runbook, iter_steps
from runbook_engine.spec.params import (
    REDACTED,
    InputSecretMissing,
    SecretMissing,
    redact_params,
    redact_text,
    resolve_params,
    resolve_values,
    secret_values,
)
from runbook_engine.store import EventRecord, NewEvent, NewRun, RunRecord, Store
from runbook_engine.templating import render
from runbook_engine.triggers.dedupe import PREFIX as ALERT_RUN_PREFIX

#: stored versions never change, so parsing each once per process is enough (a worker drives
#: the same few versions over and over; validation is most of the cost of picking a run up)
_load_stored = functools.lru_cache(maxsize=256)(load_text)


#: a permission check's parameters and result (Engine._checked)
_P = ParamSpec("_P")
_T = TypeVar("_T")

#: runbook versions an engine keeps parsed (a worker drives the same few over and over)
_VERSIONS_KEPT = 256

#: who a run was handed to: the workers' queue, or a ``runbook serve`` watching the store
Taker = Literal["queued", "served"]

#: hands a run to another executor and says which took it (None: nobody, continue here)
HandOff = Callable[[str], Taker | None]

#: asked for the values of secret parameters a run needs and this process lacks (their names)
AskSecrets = Callable[[list[str]], Mapping[str, Any]]


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    status: str
    state: RunState
    message: str = ""
    #: the child run this run waits on (for an approval, or a human's choice), if it does
    waiting_on: str | None = None

    @property
    def exit_code(self) -> int:
        if self.message.startswith("lock"):
            return EXIT_LOCKED
        return EXIT_CODES.get(self.status, 1)


def _alert_in(trigger: Mapping[str, Any] | None) -> dict[str, Any]:
    """What templates and the lock key see as ``alert``: empty for a run no alert started."""
    alert = (trigger or {}).get("alert")
    return dict(alert) if isinstance(alert, Mapping) else {}


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


#: the first letter of a re-run's id (never a hex digit): only those runs' first event is read
#: for the link to their original (``Engine.rerun_of``)
RERUN_PREFIX = "r"


def rerun_run_id(key: str | None = None) -> str:
    """A re-run's id; with ``key`` (a door's idempotency key), the same one for the same key."""
    if key is None:
        return RERUN_PREFIX + uuid.uuid4().hex[:11]
    return RERUN_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:11]


@dataclass(frozen=True)
class Rerun:
    """A re-run recorded (``Engine.create_rerun``): its row, the version it runs, its typed
    parameters (secrets included: to drive it with) and what it took over from its original."""

    record: RunRecord
    loaded: LoadedRunbook
    params: dict[str, Any]
    plan: RerunPlan


@dataclass(frozen=True)
class Checked:
    """A start that passed ``Engine.check``: the runbook and its typed parameters."""

    loaded: LoadedRunbook
    params: dict[str, Any]
    requester: str
    #: the authenticated principal who asked, when a door authenticated one
    principal: Who | None = None
    #: the alert that starts the run (``{"index": ..., "alert": Alert.as_dict()}``), if one does
    trigger: Mapping[str, Any] | None = None


def _attempt(
    action: str, target: str, who: Who, detail: Mapping[str, Any] | None = None
) -> Attempt:
    """An audit attempt by ``who``, with its proof when a door authenticated it."""
    return Attempt(
        action,
        target,
        name_of(who),
        detail=dict(detail or {}),
        principal=who if isinstance(who, Principal) else None,
    )


@dataclass(frozen=True)
class LoadedRun:
    """A run as one operation loaded it: its row, the runbook version it runs, its state.
    Handed from step to step of the operation (check a decision, record it, drive the run),
    so the log is read and folded once."""

    record: RunRecord
    loaded: LoadedRunbook
    log: Loaded

    @property
    def state(self) -> RunState:
        return self.log.state

    def then(self, *events: EventRecord) -> LoadedRun:
        """This run with events this process just wrote folded on."""
        return replace(self, log=self.log.then(events))


@dataclass(frozen=True)
class Decided:
    """A decision recorded: on which step, and the run with the decision folded in."""

    run: LoadedRun
    step: str

    @property
    def record(self) -> RunRecord:
        return self.run.record


@dataclass(frozen=True)
class Given:
    """Input recorded: on which step, the values as recorded (secret ones ``***``), whether
    any secret value is held in memory, and the run with the input folded in."""

    run: LoadedRun
    step: str
    values: dict[str, Any]
    secret: bool = False

    @property
    def record(self) -> RunRecord:
        return self.run.record


@dataclass(frozen=True)
class Continuation:
    """Where a run went after a decision or a cancel: left to the engine already driving it
    (``driven``), handed to the workers (``queued``) or to a watching serve (``served``), or
    continued here (``outcome``)."""

    run_id: str
    how: Literal["driven", "queued", "served", "here"]
    outcome: RunOutcome | None = None


@dataclass
class Engine:
    store: Store
    registry: Registry = field(default_factory=default_registry)
    catalog: Catalog = field(default_factory=Catalog)
    subscribers: list[Subscriber] = field(default_factory=list)
    directory: Directory = field(default_factory=Directory.load)
    #: under ``RUNBOOK_EXECUTOR=queue``, gives a run to the workers instead of driving it here
    hand_off: HandOff | None = None
    #: told of every start, decision, cancel and resume asked for, allowed or refused
    audit: AuditHook | None = None
    #: told the typed parameters of the child runs this engine starts, so that a server keeps
    #: their secrets in memory for when the child is continued (after an approval, say)
    keep_secrets: Callable[[str, Runbook, Mapping[str, Any]], None] | None = None
    _versions: dict[tuple[str, int, str], LoadedRunbook] = field(
        default_factory=dict, init=False, repr=False
    )
    #: versions this engine saved in the store already: they never change, and a burst of
    #: runs of one version (a notification of many alerts) saves it once
    _saved: set[tuple[str, int, str]] = field(default_factory=set, init=False, repr=False)
    #: the secret values of input steps given to this process, by run and step: never
    #: stored, so the runs they were given to are driven on here, with them in memory
    _input_secrets: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=dict, init=False, repr=False
    )

    # ------------------------------------------------------------------ checks

    def preflight(self, loaded: LoadedRunbook) -> None:
        """Refuse a runbook whose action calls are wrong in any way visible before the run
        (the checks ``runbook validate`` makes, located in the file), before anything is
        called."""
        from runbook_engine.preflight import check_loaded, run_context

        check_loaded(loaded, self.registry, run_context()).raise_errors()
        self._check_calls(loaded)

    def _check_calls(self, loaded: LoadedRunbook) -> None:
        """The runbooks its call steps name exist, fit what they are given, call no cycle."""
        from runbook_engine.preflight.composition import call_steps, check_calls
        from runbook_engine.preflight.findings import locate
        from runbook_engine.spec.yamlmarks import load_marked

        if next(call_steps(loaded.runbook), None) is None:
            return

        def lookup(name: str, version: int | None) -> Runbook | None:
            ref = name if version is None else f"{name}@{version}"
            try:
                return self.catalog.resolve(ref, self.store).runbook
            except RunbookError:
                return None

        findings = check_calls(loaded.runbook, lookup, loaded.document)
        if findings:
            raise RunbookInvalid(locate(findings, load_marked(loaded.source), loaded.file))

    def _audit(self, attempt: Attempt) -> None:
        if self.audit is not None:
            self.audit(attempt)

    def _checked(
        self, attempt: Attempt, check: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """``check`` (a permission rule) of ``attempt``; a refusal is audited, then raised."""
        try:
            return check(*args, **kwargs)
        except ApprovalError as exc:
            self._audit(replace(attempt, outcome=REFUSED, detail={"reason": str(exc)}))
            raise

    def check_run_permission(
        self, loaded: LoadedRunbook, user: Who, extra_groups: Iterable[str] = ()
    ) -> None:
        may_run(loaded.runbook, user, self.directory, extra_groups)

    def check_start_permission(
        self, loaded: LoadedRunbook, user: Who, extra_groups: Iterable[str] = ()
    ) -> None:
        """May ``user`` start a run of ``loaded``? Unlike ``check_run_permission`` (a look,
        for listing what one may run), a refusal here is a refused start and audited as one:
        for ``check``, and for a door that asks before it has the parameters (Slack, before
        its form opens)."""
        self._checked(
            _attempt("start", loaded.runbook.name, user),
            self.check_run_permission,
            loaded,
            user,
            extra_groups,
        )

    # ------------------------------------------------------------------ runs

    def check(
        self,
        loaded: LoadedRunbook,
        given: Mapping[str, Any],
        *,
        requester: Who,
        from_text: bool = True,
        extra_groups: Iterable[str] = (),
        trigger: Mapping[str, Any] | None = None,
    ) -> Checked:
        """Every check a start makes, once: the runbook's actions and literal parameters, the
        requester's permission, the parameters, the lock template. Nothing is recorded.

        ``trigger``: an alert starts the run, so the permission asked is ``trigger``."""
        self.preflight(loaded)
        if trigger is None:
            self.check_start_permission(loaded, requester, extra_groups)
        else:
            self._checked(
                _attempt("start", loaded.runbook.name, requester),
                may_trigger,
                loaded.runbook,
                requester,
                self.directory,
                extra_groups,
            )
        params = resolve_params(loaded.runbook, given, from_text=from_text)
        name = name_of(requester)
        alert = _alert_in(trigger)
        self._lock_key(loaded, params, name, "", alert)  # a broken lock template fails here
        return Checked(loaded, params, name, requester, trigger)

    def create(
        self,
        loaded: LoadedRunbook,
        given: Mapping[str, Any],
        *,
        requester: Who,
        from_text: bool = True,
        extra_groups: Iterable[str] = (),
        run_id: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Check everything and record a pending run; returns its id and the typed parameters.

        Nothing is called yet: ``execute`` (here, or on a worker) drives the run."""
        checked = self.check(
            loaded, given, requester=requester, from_text=from_text, extra_groups=extra_groups
        )
        record = self._record_run(checked, run_id)
        return record.id, checked.params

    def _save_version(self, loaded: LoadedRunbook) -> None:
        version = (loaded.runbook.name, loaded.runbook.version, loaded.digest)
        if version not in self._saved:
            self.store.save_version(*version, loaded.source, loaded.document)
            self._saved.add(version)

    def _record_run(
        self, checked: Checked, run_id: str | None, *, parent: dict[str, Any] | None = None
    ) -> RunRecord:
        loaded, params, requester = checked.loaded, checked.params, checked.requester
        self._save_version(loaded)
        record = self.store.create_run(
            run_id or new_run_id(),
            runbook=loaded.runbook.name,
            version=loaded.runbook.version,
            digest=loaded.digest,
            params=redact_params(loaded.runbook, params),
            requester=requester,
            status=PENDING,
            trigger=dict(checked.trigger) if checked.trigger is not None else None,
            parent=parent,
        )
        runbook = {"runbook": loaded.runbook.name, "version": loaded.runbook.version}
        self._audit(_attempt("start", record.id, checked.principal or requester, detail=runbook))
        return record

    def record_many(
        self, starts: Sequence[tuple[Checked, str]], *, owner: str | None = None
    ) -> set[str]:
        """Record many starts that ``check`` passed, each with its run id, in one
        transaction; returns the ids recorded (an id the store has already is not recorded
        again, nor an error). ``owner``: the engine process that will drive them, owning
        them from now."""
        for checked, _ in starts:
            self._save_version(checked.loaded)
        created = self.store.create_runs(
            [
                NewRun(
                    run_id,
                    runbook=checked.loaded.runbook.name,
                    version=checked.loaded.runbook.version,
                    digest=checked.loaded.digest,
                    params=redact_params(checked.loaded.runbook, checked.params),
                    requester=checked.requester,
                    trigger=dict(checked.trigger) if checked.trigger is not None else None,
                    owner=owner,
                )
                for checked, run_id in starts
            ]
        )
        attempts = [
            _attempt(
                "start",
                run_id,
                checked.principal or checked.requester,
                detail={
                    "runbook": checked.loaded.runbook.name,
                    "version": checked.loaded.runbook.version,
                },
            )
            for checked, run_id in starts
            if run_id in created
        ]
        if isinstance(self.audit, AuditTrail):
            self.audit.many(attempts)  # one write for them all
        else:
            for attempt in attempts:
                self._audit(attempt)
        return created

    def start(
        self,
        loaded: LoadedRunbook,
        given: Mapping[str, Any],
        *,
        requester: Who,
        from_text: bool = True,
        wait_for_approval: bool = True,
        extra_groups: Iterable[str] = (),
        run_id: str | None = None,
    ) -> RunOutcome:
        """Create a run and drive it in this process."""
        checked = self.check(
            loaded, given, requester=requester, from_text=from_text, extra_groups=extra_groups
        )
        return self.start_checked(checked, wait_for_approval=wait_for_approval, run_id=run_id)

    def start_checked(
        self, checked: Checked, *, wait_for_approval: bool = True, run_id: str | None = None
    ) -> RunOutcome:
        """Record and drive a run that ``check`` passed, with the runbook as it was handed in
        (not parsed again from the store's copy)."""
        record = self._record_run(checked, run_id)
        run = LoadedRun(record, checked.loaded, self._log(checked.loaded, record))
        return self._execute(run, checked.params, wait_for_approval)

    def stored_params(self, record: RunRecord, loaded: LoadedRunbook) -> dict[str, Any]:
        """A recorded run's parameters. Secret values were never stored: they come from
        ``RUNBOOK_SECRET_<NAME>`` in this process's environment (workers, services)."""
        params = dict(record.params)
        for name, param in loaded.runbook.parameters.items():
            if param.secret and params.get(name) == REDACTED:
                env = os.environ.get(f"RUNBOOK_SECRET_{name.upper()}")
                if env is None:
                    params.pop(name)
                else:
                    params[name] = resolve_params(loaded.runbook, {name: env}, partial=True)[name]
        return params

    @staticmethod
    def missing_secrets(loaded: LoadedRunbook, values: Mapping[str, Any]) -> list[str]:
        """The secret parameters a run was given that ``values`` lacks (an optional secret
        left out is ``None`` in the stored parameters, so it is not missing)."""
        return [n for n, p in loaded.runbook.parameters.items() if p.secret and n not in values]

    def _blocked(
        self, run: LoadedRun, missing: list[str], error: SecretMissing | None = None
    ) -> SecretMissing:
        """The error for a run that cannot go on here for want of secrets, said first in its
        log (once per cause), so that ``runbook runs``, Slack and the CLI all show it."""
        record = run.record
        error = error or SecretMissing(record.id, missing)
        data: dict[str, Any] = {"reason": error.reason, "needs": missing}
        if run.state.blocked == data or record.status in TERMINAL:
            return error
        state = run.state
        after = apply(run.log.layout, state, EventType.RUN_BLOCKED, data, time.time(), 0)
        # published: its subscribers hear it now, from here; a later drive must not say it again
        written = self.store.append_event(
            record.id, EventType.RUN_BLOCKED, data, state=after.summary(), published=True
        )
        info = RunInfo(
            id=record.id,
            runbook=run.loaded.runbook.name,
            version=run.loaded.runbook.version,
            digest=run.loaded.digest,
            requester=record.requester,
            notify_channel=run.loaded.runbook.notify.channel if run.loaded.runbook.notify else None,
        )
        event = Event(record.id, written.seq, written.ts.timestamp(), written.type, None, data)
        Bus(self.subscribers).publish(info, event, run.then(written).state)
        return error

    def execute(
        self,
        run_id: str | RunRecord,
        *,
        params: Mapping[str, Any] | None = None,
        wait_for_approval: bool = True,
    ) -> RunOutcome:
        """Drive a recorded run from wherever its event log says it is.

        Takes ownership first: a run another live engine is driving is refused."""
        return self._execute(self.load_run(run_id), params, wait_for_approval)

    def _execute(
        self, run: LoadedRun, params: Mapping[str, Any] | None, wait_for_approval: bool
    ) -> RunOutcome:
        """``execute`` for a run already loaded (record, runbook and folded state in hand)."""
        record, loaded, state = run.record, run.loaded, run.state
        if record.status in TERMINAL:
            self._release_dead_owner(record)
            return RunOutcome(
                record.id, record.status, state, message="the run has already finished"
            )
        values = dict(params) if params is not None else self.stored_params(record, loaded)
        missing = self.missing_secrets(loaded, values)
        if missing:
            raise self._blocked(run, missing)
        lacking = self.missing_input_secrets(run)
        if lacking:
            # never on with ***: the values were given to a process that is gone
            raise self._blocked(run, lacking, InputSecretMissing(record.id, lacking))
        owner = owner_id()
        if record.owner is not None and record.owner != owner and owner_dead(record.owner):
            self.store.set_owner(record.id, None)
        fresh = self.store.claim(record.id, owner, STALE_AFTER)
        if fresh is None:
            raise StoreError(
                f"run {record.id} is being driven by {record.owner}; it is taken over when "
                f"that engine stops heartbeating ({STALE_AFTER:g}s)"
            )
        if fresh.published_seq != record.published_seq:
            # another engine drove the run since it was loaded: what it published is not ours
            # to publish again, so take the run as it is now
            run = LoadedRun(fresh, loaded, self._log(loaded, fresh))
            record, state = fresh, run.state
        # nothing was written since the load: the runner starts from it without reading again
        in_sync = fresh.last_seq == state.last_seq
        # still pending: the lock was never taken, or its taker died waiting for it (after
        # run.waiting_for_lock); taking it again is a no-op for the run that holds it
        alert = _alert_in(self.trigger_of(record))
        limits = limits_of(self.rerun_of(record))
        if state.status == PENDING:
            with watch() as derived:  # a key derived from a secret is as secret
                lock_key = self._lock_key(
                    loaded,
                    secret_params(loaded.runbook, values),
                    record.requester,
                    record.id,
                    alert,
                )
            if lock_key is not None:
                masks = SecretTexts(secret_values(loaded.runbook, values))
                masks.learn(derived)
                refused = self._acquire(loaded, record.id, lock_key, masks.texts)
                in_sync = False  # waiting for it may have been recorded
                if refused is not None:
                    finished = self.store.append_event(
                        record.id,
                        EventType.RUN_FINISHED,
                        {"status": CANCELLED, "reason": refused},
                        status=CANCELLED,
                    )
                    self.store.set_owner(record.id, None)
                    return RunOutcome(
                        record.id, CANCELLED, run.then(finished).state, message=refused
                    )
        return self._drive(
            run,
            values,
            owner,
            wait_for_approval,
            resumed=state.status != PENDING,
            synced=in_sync,
            alert=alert,
            limits=limits,
        )

    # ------------------------------------------------------------------ child runs

    def pin_calls(self, runbook: Runbook) -> dict[str, int]:
        """The newest version of each runbook a call step without a version calls, saved in
        the store so that whichever engine drives the run later finds it."""
        pins: dict[str, int] = {}
        for step, _ in iter_steps(runbook):
            if isinstance(step, CallStep) and step.call.version is None:
                try:
                    loaded = self.catalog.resolve(step.call.runbook, self.store)
                except RunbookError:
                    continue  # nothing pinned: the step fails when reached, saying why
                self._save_version(loaded)
                pins[step.id] = loaded.runbook.version
        return pins

    def _child_version(self, name: str, version: int) -> LoadedRunbook:
        stored = self.store.get_version(name, version)
        if stored is not None:
            return _load_stored(stored.source, f"<store {stored.name}@{stored.version}>")
        return self.catalog.resolve(f"{name}@{version}", self.store)

    def start_child(self, request: ChildRequest) -> dict[str, Any]:
        """Check and record a call step's child run, started by the parent's requester (who
        needs the child runbook's run permission, as for any start); its typed parameters."""
        self._check_ancestry(request)
        loaded = self._child_version(request.runbook, request.version)
        checked = self.check(loaded, request.params, requester=request.requester, from_text=False)
        secrets = [s for s in request.secrets if s]
        for name, value in checked.params.items():
            param = loaded.runbook.parameters.get(name)
            if param is not None and not param.secret and any(s in str(value) for s in secrets):
                raise ParameterError(
                    name,
                    f"would hold a secret of the calling run in the clear; declare it "
                    f"`secret: true` in {loaded.runbook.name}",
                )
        link = {"run": request.parent, "step": request.step}
        self._record_run(checked, request.run_id, parent=link)
        if self.keep_secrets is not None:
            self.keep_secrets(request.run_id, loaded.runbook, checked.params)
        return checked.params

    def _check_ancestry(self, request: ChildRequest) -> None:
        """Refuse a call that would nest too deep or call a runbook already calling it (a
        cycle ``runbook validate`` reports; this guards runbooks that were never validated)."""
        chain = [request.runbook]
        record = self.store.get_run(request.parent)
        while record is not None:
            chain.append(record.runbook)
            if record.runbook == request.runbook:
                raise RunbookError(f"call cycle: {' -> '.join(reversed(chain))}")
            if len(chain) > MAX_DEPTH:
                raise RunbookError(f"calls nest deeper than {MAX_DEPTH} runs")
            link = self.parent_of(record)
            record = self.store.get_run(str(link["run"])) if link else None

    def run_tree(self, record: RunRecord) -> RunNode:
        """The run and the child runs its call steps started, theirs, and so on."""
        return run_tree(record, lambda r: self.load_run(r).state, self.store.get_run)

    def drive_child(self, run_id: str, params: Mapping[str, Any] | None, *, wait: bool) -> str:
        run = self.load_run(run_id)
        return self._execute(run, params, wait).status

    def child_outcome(self, record: RunRecord) -> ChildOutcome:
        """Where a child run ended, with its steps' outputs (as its log keeps them)."""
        run = self.load_run(record)
        state = run.state
        failure = state.failure or {}
        message = str(failure.get("message") or "")
        if message and failure.get("step"):
            message = f"step {failure['step']}: {message}"
        return ChildOutcome(
            record.id,
            state.status,
            outputs={sid: dict(st.outputs) for sid, st in state.steps.items() if st.outputs},
            message=message,
            runbook=record.runbook,
            version=record.version,
        )

    def reopen_for_rollback(self, record: RunRecord, *, parent: str) -> None:
        """A child run that succeeded is rolled back with its parent: its completed steps are
        undone in its own reverse order, recorded in its own log."""
        run = self.load_run(record)
        started = RollbackStarted(
            reason="parent",
            queue=pending_rollback(run.state),
            failure={"message": f"rolled back with its parent run {parent}"},
        )
        self.store.append_event(record.id, started.TYPE, started.to_data(), status=ROLLING_BACK)

    def parent_of(self, record: RunRecord) -> dict[str, Any] | None:
        """The run and call step that started this child run (None for any other run)."""
        if not record.id.startswith(CHILD_RUN_PREFIX):
            return None
        first = self.store.events(record.id, after_seq=0, limit=1)
        found = first[0].data.get("parent") if first else None
        return found if isinstance(found, dict) else None

    def _continue_parent(self, record: RunRecord, wait_for_approval: bool) -> None:
        """A child ended here while no engine drove its parent (it was let go while the child
        waited for people): carry the parent on from where it waits, as after a decision."""
        link = self.parent_of(record)
        parent = self.store.get_run(str(link["run"])) if link else None
        if parent is None or parent.status in TERMINAL or self.is_driven(parent):
            return
        # another engine may take the parent meanwhile: it goes back to the child itself
        with contextlib.suppress(StoreError):
            self._continue(parent.id, by="", wait_for_approval=wait_for_approval)

    # ------------------------------------------------------------------ re-runs

    def _fans_out(self, action: str) -> bool:
        """Does ``action`` run on hosts and honour a ``limit`` of them (``ssh.*``)?"""
        if action not in self.registry:
            return False
        fields = self.registry.get(action).Params.model_fields
        return "hosts" in fields and "limit" in fields

    def create_rerun(
        self,
        run: str | RunRecord | LoadedRun,
        *,
        by: Who,
        from_step: str | None = None,
        failed_hosts: bool = False,
        given: Mapping[str, Any] | None = None,
        from_text: bool = True,
        ask: AskSecrets | None = None,
        extra_groups: Iterable[str] = (),
        run_id: str | None = None,
        confirm: Callable[[Checked, RerunPlan], None] | None = None,
    ) -> Rerun:
        """Record a new run of exactly the version ``run`` ran, with its parameters (``given``
        overriding any; secret ones, never stored, from ``given``, ``RUNBOOK_SECRET_<NAME>``
        or ``ask``), linked to it (``rerun_of`` in its ``run.created``). ``from_step``: the
        steps before it are carried over as the original recorded them (``step.carried``,
        in the same transaction) and the run starts there. ``failed_hosts``: the first
        fan-out step from the start on runs only on the hosts that failed or never ran there
        (without ``from_step``, the run starts at the step the original failed at).

        Checked like any start (permission ``run``, parameters, preflight, lock template) and
        audited as ``rerun``; nothing is recorded when anything is refused (``confirm``, told
        what would be recorded, refuses by raising). Not driven yet."""
        original = self.load_run(run)
        record, loaded = original.record, original.loaded
        attempt = _attempt(
            "rerun",
            record.id,
            by,
            detail={"from": from_step, "failed_hosts": failed_hosts},
        )
        self._checked(attempt, self.check_run_permission, loaded, by, extra_groups)
        if record.status not in TERMINAL:
            raise RerunRefused(
                f"run {record.id} is {record.status}: only a finished run is re-run "
                f"(continue this one with runbook resume {record.id})"
            )
        plan = plan_rerun(
            record.id,
            loaded.runbook,
            original.state,
            from_step=from_step,
            failed_hosts=failed_hosts,
            fans_out=self._fans_out,
        )
        params = self._rerun_params(record, loaded, given or {}, from_text, ask)
        checked = self.check(
            loaded, params, requester=by, from_text=False, extra_groups=extra_groups
        )
        if run_id is not None and not run_id.startswith(RERUN_PREFIX):
            raise ValueError(f"a re-run's id starts with {RERUN_PREFIX!r}: {run_id!r}")
        if confirm is not None:
            confirm(checked, plan)
        self._save_version(loaded)
        created = self.store.create_run(
            run_id or rerun_run_id(),
            runbook=loaded.runbook.name,
            version=loaded.runbook.version,
            digest=loaded.digest,
            params=redact_params(loaded.runbook, checked.params),
            requester=checked.requester,
            status=PENDING,
            rerun_of=plan.link,
            then=[NewEvent(c.TYPE, c.to_data(), c.step) for c in plan.carried],
        )
        detail = {
            "runbook": loaded.runbook.name,
            "version": loaded.runbook.version,
            "rerun_of": record.id,
            "from": plan.start,
            "failed_hosts": failed_hosts,
        }
        self._audit(replace(attempt, target=created.id, detail=detail))
        return Rerun(created, loaded, checked.params, plan)

    def rerun(
        self,
        run: str | RunRecord | LoadedRun,
        *,
        by: Who,
        from_step: str | None = None,
        failed_hosts: bool = False,
        given: Mapping[str, Any] | None = None,
        from_text: bool = True,
        ask: AskSecrets | None = None,
        extra_groups: Iterable[str] = (),
        wait_for_approval: bool = True,
    ) -> RunOutcome:
        """``create_rerun``, then drive the new run in this process."""
        made = self.create_rerun(
            run,
            by=by,
            from_step=from_step,
            failed_hosts=failed_hosts,
            given=given,
            from_text=from_text,
            ask=ask,
            extra_groups=extra_groups,
        )
        again = LoadedRun(made.record, made.loaded, self._log(made.loaded, made.record))
        return self._execute(again, made.params, wait_for_approval)

    def _rerun_params(
        self,
        record: RunRecord,
        loaded: LoadedRunbook,
        given: Mapping[str, Any],
        from_text: bool,
        ask: AskSecrets | None,
    ) -> dict[str, Any]:
        """The original's parameters as recorded, ``given`` over them, and the secret ones
        (stored masked) from ``given``, the environment or ``ask``: typed."""
        runbook = loaded.runbook
        # a value left out is None there: left out again, the default (or None) fills it in
        params = {
            name: value
            for name, value in record.params.items()
            if name in runbook.parameters and value is not None and value != REDACTED
        }
        params.update(resolve_params(runbook, given, from_text=from_text, partial=True))
        masked = [
            name
            for name, param in runbook.parameters.items()
            if param.secret and record.params.get(name) == REDACTED
        ]

        def missing_now() -> list[str]:
            return [name for name in masked if name not in params]

        for name in missing_now():
            env = os.environ.get(f"RUNBOOK_SECRET_{name.upper()}")
            if env is not None:
                params[name] = resolve_params(runbook, {name: env}, partial=True)[name]
        missing = missing_now()
        if missing and ask is not None:
            params.update(resolve_params(runbook, ask(missing), partial=True))
            missing = missing_now()
        if missing:
            name = missing[0]
            raise ParameterError(
                name,
                f"is secret, so run {record.id} never stored it: give it again with "
                f"-p {name}=- (asked), -p {name}=@FILE or RUNBOOK_SECRET_{name.upper()}",
            )
        return params

    def rerun_of(self, record: RunRecord) -> dict[str, Any] | None:
        """The run a re-run re-runs, as its ``run.created`` event recorded it (``None``: the
        run is no re-run)."""
        if not record.id.startswith(RERUN_PREFIX):
            return None  # only a re-run's id starts so: other runs are spared the read
        first = self.store.events(record.id, after_seq=0, limit=1)
        found = first[0].data.get("rerun_of") if first else None
        return found if isinstance(found, dict) else None

    def reruns_of(self, record: RunRecord) -> list[str]:
        """The re-runs of a run, oldest first (the other way of ``rerun_of``)."""
        return self.store.reruns_of(record.id, prefix=RERUN_PREFIX)

    def trigger_of(self, record: RunRecord) -> dict[str, Any] | None:
        """The alert that started the run, as its ``run.created`` event recorded it."""
        # only alert-started ids can have one: most runs are spared reading their first event
        if not record.id.startswith(ALERT_RUN_PREFIX):
            return None
        first = self.store.events(record.id, after_seq=0, limit=1)
        found = first[0].data.get("trigger") if first else None
        return found if isinstance(found, dict) else None

    def _lock_key(
        self,
        loaded: LoadedRunbook,
        params: dict[str, Any],
        requester: str,
        run_id: str,
        alert: Mapping[str, Any] | None = None,
    ) -> str | None:
        conc = loaded.runbook.concurrency
        if conc is None:
            return None
        run = {
            "id": run_id,
            "requester": requester,
            "runbook": loaded.runbook.name,
            "version": loaded.runbook.version,
        }
        context = {"params": params, "run": run, "alert": dict(alert or {})}
        key = render(conc.lock, context, field="concurrency.lock")
        return str(key)

    def _acquire(
        self, loaded: LoadedRunbook, run_id: str, key: str, secrets: tuple[str, ...]
    ) -> str | None:
        conc = loaded.runbook.concurrency
        assert conc is not None  # only called with a lock key
        shown = redact_text(key, secrets)
        if shown != key:
            # a key built from a secret must not sit readable in the locks table either
            key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
        deadline = time.monotonic() + conc.wait_timeout
        announced = False
        while True:
            try:
                self.store.acquire_lock(key, run_id)
                return None
            except LockHeld as exc:
                if conc.on_conflict == "refuse" or time.monotonic() >= deadline:
                    how = "refused" if conc.on_conflict == "refuse" else "waited too long"
                    return f"lock {shown!r} is held by run {exc.holder} ({how})"
                if not announced:
                    self.store.append_event(
                        run_id,
                        EventType.RUN_WAITING_FOR_LOCK,
                        {"lock": shown, "holder": exc.holder},
                    )
                    announced = True
                time.sleep(0.5)
                # the runner does not heartbeat yet: keep the claim fresh while waiting, or
                # after STALE_AFTER a reaper hands the run to a second engine
                self.store.heartbeat(run_id, owner_id())

    def _drive(
        self,
        run: LoadedRun,
        params: dict[str, Any],
        owner: str,
        wait_for_approval: bool,
        *,
        resumed: bool,
        synced: bool = False,
        alert: Mapping[str, Any] | None = None,
        limits: Mapping[str, list[str]] | None = None,
    ) -> RunOutcome:
        runner = Runner(
            store=self.store,
            registry=self.registry,
            loaded=run.loaded,
            run_id=run.record.id,
            params=params,
            requester=run.record.requester,
            bus=Bus(self.subscribers),
            owner=owner,
            wait_for_approval=wait_for_approval,
            start=run.log,
            synced=synced,
            alert=alert,
            children=ChildRuns(self),
            limits=limits,
            inputs=self._input_secrets.get(run.record.id),
        )
        status = asyncio.run(runner.run(resumed=resumed))
        if status in TERMINAL:
            self._input_secrets.pop(run.record.id, None)
            self._continue_parent(run.record, wait_for_approval)
        child = runner.waiting_child
        if child is not None:
            message = f"waits on its child run {child.run_id}, which is {child.status}"
            return RunOutcome(run.record.id, status, runner.state, message, child.run_id)
        return RunOutcome(run.record.id, status, runner.state)

    def _log(self, loaded: LoadedRunbook, record: RunRecord) -> Loaded:
        """The run's state: its newest checkpoint, the events after it folded on, and the
        results it refers to read back from their events. Costs what happened since the
        checkpoint, not what the run did before it."""
        return load(self.store, Layout.of(loaded.runbook), record)

    def run_record(self, run_id: str) -> RunRecord:
        record = self.store.get_run(run_id)
        if record is None:
            raise RunNotFound(run_id)
        return record

    def loaded_for(self, record: RunRecord) -> LoadedRunbook:
        """The exact runbook version a run executed, from the store's immutable copy (read
        once per engine: a stored version never changes, and its digest is on the run)."""
        key = (record.runbook, record.version, record.digest)
        found = self._versions.get(key)
        if found is not None:
            return found
        stored = self.store.get_version(record.runbook, record.version)
        if stored is None:
            raise StoreError(
                f"run {record.id}: version {record.runbook}@{record.version} is not in the store"
            )
        loaded = _load_stored(stored.source, f"<store {stored.name}@{stored.version}>")
        if len(self._versions) >= _VERSIONS_KEPT:
            self._versions.clear()
        self._versions[key] = loaded
        return loaded

    def load_run(self, run: str | RunRecord | LoadedRun) -> LoadedRun:
        """A run (by id or unique prefix, or its row just read) loaded once for an operation;
        a run already loaded is passed through as it is."""
        if isinstance(run, LoadedRun):
            return run
        record = run if isinstance(run, RunRecord) else self.run_record(run)
        loaded = self.loaded_for(record)
        return LoadedRun(record, loaded, self._log(loaded, record))

    def state_of(self, run_id: str) -> tuple[RunRecord, LoadedRunbook, RunState]:
        run = self.load_run(run_id)
        return run.record, run.loaded, run.state

    def resume(
        self,
        run_id: str | LoadedRun,
        *,
        choice: str | None = None,
        given: Mapping[str, Any] | None = None,
        by: Who = "",
        wait_for_approval: bool = True,
        extra_groups: Iterable[str] = (),
        continuing: bool = False,
        ask: AskSecrets | None = None,
    ) -> RunOutcome:
        """Continue a run: after a crash, after a decision, or with a human's ``choice`` about
        a step that was in flight (retry, skip, rollback). ``ask`` is given the names of the
        secret parameters neither ``given`` nor this process's environment has, and returns
        their values (a prompt on a terminal).

        ``by`` must be allowed to resume the run, unless ``continuing``: the engine carries on
        after a decision or a cancel that was checked when it was recorded."""
        run = self.load_run(run_id)
        if not continuing:
            self.check_resume(run, by=by, choice=choice, extra_groups=extra_groups)
        record, loaded, state = run.record, run.loaded, run.state
        if record.status in TERMINAL:
            self._release_dead_owner(record)
            return RunOutcome(
                record.id, record.status, state, message="the run has already finished"
            )
        params = self.stored_params(record, loaded)
        if given:
            params.update(resolve_params(loaded.runbook, given, partial=True))
        missing = self.missing_secrets(loaded, params)
        if missing and ask is not None:
            params.update(resolve_params(loaded.runbook, ask(missing), partial=True))
        lacking = self.missing_input_secrets(run)
        if lacking and ask is not None:
            # the secret values of input steps went with the process they were given to
            self._hold_again(run, ask(lacking))
        if choice is not None:
            if self.is_driven(record):
                raise StoreError(f"run {record.id} is being driven by {record.owner}")
            if state.status != NEEDS_ATTENTION:
                raise RunbookError(
                    f"run {record.id} is {state.status}; --{choice} applies only "
                    "to a run that needs attention"
                )
            allowed = (state.attention or {}).get("choices", [])
            if choice not in allowed:
                raise RunbookError(f"choose one of: {', '.join('--' + c for c in allowed)}")
            kind = (
                EventType.ROLLBACK_RESOLVED
                if "rollback_index" in (state.attention or {})
                else EventType.RUN_RESOLVED
            )
            resolved = {"choice": choice, "by": name_of(by)}
            run = run.then(self.store.append_event(record.id, kind, resolved))
        return self._execute(run, params, wait_for_approval)

    def check_resume(
        self,
        run: LoadedRun,
        *,
        by: Who,
        choice: str | None = None,
        extra_groups: Iterable[str] = (),
    ) -> None:
        """May ``by`` resume ``run`` (with ``choice``)? Audited either way; raises
        ``ApprovalError`` when not. A door that drives the run elsewhere asks this first."""
        attempt = _attempt("resume", run.record.id, by, detail={"choice": choice})
        self._checked(attempt, may_resume, run.loaded.runbook, by, self.directory, extra_groups)
        self._audit(attempt)

    # ------------------------------------------------------------------ decisions

    def check_decision(
        self,
        run: LoadedRun,
        *,
        user: Who,
        approve: bool,
        extra_groups: Iterable[str] = (),
    ) -> ApprovalStep:
        """The step ``user`` may approve (``approve=False``: reject) now; a refusal is audited
        and raised (``ApprovalError``). For ``decide``, and for a door that asks before it has
        all it needs (Slack, before the form that asks for a rejection's reason)."""
        return self._checked(
            _attempt("approve" if approve else "reject", run.record.id, user),
            may_decide,
            run.loaded.runbook,
            run.state,
            requester=run.record.requester,
            user=user,
            directory=self.directory,
            approve=approve,
            extra_groups=extra_groups,
            now=time.time(),
        )

    def decide(
        self,
        run_id: str | LoadedRun,
        *,
        user: Who,
        approve: bool,
        reason: str = "",
        extra_groups: Iterable[str] = (),
    ) -> Decided:
        """Record an approval or rejection; returns the step decided and the run with the
        decision in it (to continue it without loading it again)."""
        run = self.load_run(run_id)
        record = run.record
        verb = "approve" if approve else "reject"
        step = self.check_decision(run, user=user, approve=approve, extra_groups=extra_groups)
        if not approve and not reason.strip():
            raise ApprovalError("a rejection needs a reason (--reason)")
        written = self.store.append_event(
            record.id,
            EventType.APPROVAL_DECIDED,
            {
                "step": step.id,
                "user": name_of(user),
                "decision": "approve" if approve else "reject",
                "reason": reason,
            },
            step_id=step.id,
        )
        self._audit(_attempt(verb, record.id, user, detail={"step": step.id, "reason": reason}))
        return Decided(run.then(written), step.id)

    def continue_after_decision(
        self, run_id: str | LoadedRun, *, by: Who, ask: AskSecrets | None = None
    ) -> Continuation:
        """After an approval or rejection: the engine waiting on the run picks the decision up
        from the store; with none, a worker (queue executor) or this process continues it, up
        to the next approval (``ask``: as for ``resume``)."""
        return self._continue(run_id, by=by, wait_for_approval=False, ask=ask)

    # ------------------------------------------------------------------ input steps

    def missing_input_secrets(self, run: LoadedRun) -> list[str]:
        """The secret input fields (``step.field``) whose values the run recorded as ``***``
        and this process does not hold: the run cannot go on here without them."""
        if run.record.status in TERMINAL:
            return []
        held = self._input_secrets.get(run.record.id, {})
        return [
            f"{step}.{name}"
            for step, names in inputs.given_secrets(run.loaded.runbook, run.state).items()
            for name in names
            if name not in held.get(step, {})
        ]

    def input_request(self, run: LoadedRun) -> dict[str, Any] | None:
        """What the run waits for, as its ``input.requested`` said (step, message, fields,
        from, deadline), or ``None`` when it waits for no input. When the values of secret
        fields went with a process that is gone, the fields to give again (``again``)."""
        lacking = self.missing_input_secrets(run)
        if lacking:
            step = self.loaded_step(run, lacking[0].partition(".")[0])
            wanted = {n.partition(".")[2] for n in lacking}
            fields = [f for f in inputs.describe(step.input) if f["name"] in wanted]
            return {"step": step.id, "message": "", "fields": fields, "from": [], "again": True}
        try:
            step = self.input_step(run)
        except NotWaitingForInput:
            return None
        seq = run.state.step(step.id).asked_seq
        found = self.store.events(run.record.id, after_seq=seq - 1, limit=1) if seq else []
        if found and found[0].type == EventType.INPUT_REQUESTED:
            return dict(found[0].data)
        # a log without the request's place (not written by this engine): the runbook's form
        return {
            "step": step.id,
            "message": "",
            "fields": inputs.describe(step.input),
            "from": list(step.input.from_),
            "deadline": run.state.step(step.id).deadline,
        }

    def input_step(self, run: LoadedRun) -> InputStep:
        """The input step the run waits on (``NotWaitingForInput`` when there is none)."""
        step: InputStep = inputs.waiting_input_step(run.loaded.runbook, run.state)
        return step

    def check_input(
        self, run: LoadedRun, *, user: Who, extra_groups: Iterable[str] = ()
    ) -> InputStep:
        """The input step ``user`` may give values to now: ``NotWaitingForInput`` when the
        run waits for none, ``ApprovalError`` (audited) when ``user`` may not. For
        ``give_input``, and for a door that asks before it shows a form (Slack)."""
        step = self.input_step(run)
        self._checked(
            _attempt("input", run.record.id, user, detail={"step": step.id}),
            may_give_input,
            run.loaded.runbook,
            run.state,
            user,
            self.directory,
            extra_groups,
        )
        return step

    def give_input(
        self,
        run_id: str | LoadedRun,
        *,
        user: Who,
        values: Mapping[str, Any],
        from_text: bool = True,
        extra_groups: Iterable[str] = (),
    ) -> Given:
        """Record the values of the input step the run waits on, typed and checked like
        parameters (``from_text``: as ``--set`` text; else JSON values). A refusal records
        nothing, so the step keeps waiting: ``NotWaitingForInput``, ``ApprovalError`` (not
        allowed), ``FieldError`` (the field and what it expected). A secret field's value is
        recorded as ``***`` and kept in this engine's memory for the run's drive."""
        run = self.load_run(run_id)
        record = run.record
        lacking = self.missing_input_secrets(run)
        if lacking:
            return self._give_again(run, lacking, user, values, from_text, extra_groups)
        step = self.check_input(run, user=user, extra_groups=extra_groups)
        typed = inputs.check_values(
            step,
            values,
            from_text=from_text,
            deadline=run.state.step(step.id).deadline,
            now=time.time(),
        )
        shown = inputs.masked(step.input, typed)
        secret = {
            name: typed[name]
            for name in inputs.secret_fields(step.input)
            if typed.get(name) is not None
        }
        if secret:
            # only this process will hold the value: it owns the run before the input is
            # recorded, so no other engine (a serve watching the store) picks it up without it
            self._own_for_input(record)
            self._input_secrets.setdefault(record.id, {})[step.id] = secret
        written = self.store.append_event(
            record.id,
            EventType.INPUT_GIVEN,
            {"step": step.id, "user": name_of(user), "values": shown},
            step_id=step.id,
        )
        self._audit(_attempt("input", record.id, user, detail={"step": step.id, "values": shown}))
        return Given(run.then(written), step.id, shown, secret=bool(secret))

    def _give_again(
        self,
        run: LoadedRun,
        lacking: list[str],
        user: Who,
        values: Mapping[str, Any],
        from_text: bool,
        extra_groups: Iterable[str],
    ) -> Given:
        """Secret values given again to a run whose values went with a dead process: only
        those (recorded as ``***`` already, so nothing is recorded); whoever may resume the
        run may give them, as to ``runbook resume``."""
        step_id = lacking[0].partition(".")[0]
        names = [n.partition(".")[2] for n in lacking if n.partition(".")[0] == step_id]
        step = self.loaded_step(run, step_id)
        attempt = _attempt("input", run.record.id, user, detail={"step": step_id})
        self._checked(attempt, may_resume, run.loaded.runbook, user, self.directory, extra_groups)
        unwanted = sorted(set(values) - set(names))
        if unwanted or not values:
            raise FieldError(
                (unwanted or names)[0],
                f"run {run.record.id} waits only for the secret values of step {step_id} "
                f"again: {', '.join(names)}",
            )
        typed = self._hold_again(
            run, {f"{step_id}.{name}": value for name, value in values.items()}, from_text
        )
        self._own_for_input(run.record)
        shown = inputs.masked(step.input, typed)
        self._audit(replace(attempt, detail={"step": step_id, "values": shown, "again": True}))
        return Given(run, step_id, shown, secret=True)

    def _hold_again(
        self, run: LoadedRun, values: Mapping[str, Any], from_text: bool = True
    ) -> dict[str, Any]:
        """Keep secret input values given again (``step.field`` -> value), checked against
        their fields; returns them typed (by field)."""
        typed: dict[str, Any] = {}
        for name, value in values.items():
            step_id, _, field_name = name.partition(".")
            step = self.loaded_step(run, step_id)
            if field_name not in step.input.fields:
                raise FieldError(field_name, f"step {step_id} has no such field")
            one = resolve_values(
                {field_name: step.input.fields[field_name]},
                {field_name: value},
                from_text=from_text,
                partial=True,
                owner=f"step {step_id}",
                kind="field",
                error=FieldError,
            )
            held = self._input_secrets.setdefault(run.record.id, {}).setdefault(step_id, {})
            held.update(one)
            typed.update(one)
        return typed

    @staticmethod
    def loaded_step(run: LoadedRun, step_id: str) -> InputStep:
        for step in run.loaded.runbook.steps:
            if isinstance(step, InputStep) and step.id == step_id:
                return step
        raise KeyError(step_id)

    def _own_for_input(self, record: RunRecord) -> None:
        """Claim the run for this process, which alone will hold a secret value given to it;
        an engine that waited on the run is letting go of it (it does not wait for secrets),
        so its claim is waited out briefly."""
        deadline = time.monotonic() + 2 * HEARTBEAT_EVERY
        me = owner_id()
        while self.store.claim(record.id, me, STALE_AFTER) is None:
            fresh = self.store.get_run(record.id)
            if fresh is not None and fresh.owner not in (None, me) and owner_dead(fresh.owner):
                self.store.set_owner(record.id, None)  # a dead engine's name: not a driver
                continue
            if time.monotonic() >= deadline:
                holder = fresh.owner if fresh is not None else "another engine"
                raise StoreError(
                    f"run {record.id} is being driven by {holder}; give the input again once "
                    "it lets go of the run"
                )
            time.sleep(0.1)

    def continue_after_input(
        self, given: Given, *, by: Who, ask: AskSecrets | None = None
    ) -> Continuation:
        """After ``give_input``: as after a decision. Values of secret fields reach only this
        process, so such a run is driven on here (the engine that waited let go of it)."""
        if not given.secret:
            return self._continue(given.run, by=by, wait_for_approval=False, ask=ask)
        outcome = self.resume(
            given.record.id, by=by, wait_for_approval=False, continuing=True, ask=ask
        )
        return Continuation(given.record.id, "here", outcome)

    def continue_after_cancel(
        self, run_id: str, *, by: Who, ask: AskSecrets | None = None
    ) -> Continuation:
        """After a cancel: the driving engine stops and rolls back; with none, a worker or this
        process rolls the run back. A rollback that needs a secret parameter this process does
        not have says how to give it."""
        try:
            return self._continue(run_id, by=by, wait_for_approval=True, ask=ask)
        except ParameterError as exc:
            # the cancel is recorded; rolling back needs the secret the run was started with
            how = exc.reason if isinstance(exc, SecretMissing) else str(exc)
            raise RunbookError(
                f"cancel recorded, but the rollback cannot run here: {how}"
            ) from None

    def _continue(
        self,
        run_id: str | LoadedRun,
        *,
        by: Who,
        wait_for_approval: bool,
        ask: AskSecrets | None = None,
    ) -> Continuation:
        record = run_id.record if isinstance(run_id, LoadedRun) else self.run_record(run_id)
        if self.is_driven(record):
            return Continuation(record.id, "driven")
        taker = self.hand_off(record.id) if self.hand_off is not None else None
        if taker is not None:
            return Continuation(record.id, taker)
        again = run_id if isinstance(run_id, LoadedRun) else record.id
        outcome = self.resume(
            again, by=by, wait_for_approval=wait_for_approval, continuing=True, ask=ask
        )
        return Continuation(record.id, "here", outcome)

    def cancel(
        self,
        run_id: str,
        *,
        by: Who,
        reason: str = "",
        extra_groups: Iterable[str] = (),
        by_trigger: bool = False,
    ) -> RunRecord:
        """Ask a run to stop. ``by_trigger``: its alert resolved (``on_resolved: cancel``),
        so the permission asked is ``trigger``, and only of a run an alert started."""
        record = self.run_record(run_id)
        attempt = _attempt("cancel", record.id, by, detail={"reason": reason})
        runbook = self.loaded_for(record).runbook
        if by_trigger:
            if self.trigger_of(record) is None:
                raise ApprovalError(f"run {record.id} was not started by an alert")
            self._checked(attempt, may_trigger, runbook, by, self.directory, extra_groups)
        else:
            self._checked(attempt, may_cancel, runbook, by, self.directory, extra_groups)
        if record.status in TERMINAL:
            raise RunbookError(f"run {record.id} has already finished ({record.status})")
        self.store.append_event(
            record.id, EventType.RUN_CANCEL_REQUESTED, {"by": name_of(by), "reason": reason}
        )
        self._audit(attempt)
        return record

    def _release_dead_owner(self, record: RunRecord) -> None:
        """An engine killed between recording the end of a run and letting go of it leaves its
        name on the run; clear it so the run does not look driven."""
        if record.owner is not None and owner_dead(record.owner):
            self.store.set_owner(record.id, None)
            self.store.release_locks_of(record.id)

    def is_driven(self, record: RunRecord) -> bool:
        """Is a live engine process driving this run right now (as the store says now)?"""
        fresh = self.store.get_run(record.id)
        return fresh is not None and is_driven(fresh)
