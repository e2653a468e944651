"""Drive runs in background threads, one thread per run while it has work.

Runs from Slack never park a thread at an approval (``wait_for_approval=False``): the thread
ends when the run waits, and a decision asks for the run to be driven again. Every engine
thread of this process shares one owner id (``host:pid``), so the store cannot tell them apart;
this class makes sure a run is driven by at most one of them. A request that arrives while the
run is being driven is remembered and served when that drive ends, so a decision recorded just
as the previous drive was returning is never missed.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from runbook_engine.core.statuses import TERMINAL
from runbook_engine.errors import RunbookError, StoreError
from runbook_engine.lease import owner_id
from runbook_engine.permissions import Who
from runbook_engine.server.draining import Draining
from runbook_engine.server.vault import SecretVault
from runbook_engine.service import Checked, Engine, LoadedRun, RunOutcome
from runbook_engine.spec.loader import LoadedRunbook

log = logging.getLogger("runbook.server.executor")

Done = Callable[[RunOutcome | None, Exception | None], None]


class RunExecutor:
    def __init__(self, engine: Engine, vault: SecretVault | None = None) -> None:
        self.engine = engine
        self.vault = vault or SecretVault()
        self._lock = threading.Condition()
        self._driving: set[str] = set()
        self._again: set[str] = set()
        #: recorded runs this process will drive later (a trigger's queue): not orphans
        self._held: set[str] = set()
        self._threads: dict[str, threading.Thread] = {}
        self._closed = False

    # ------------------------------------------------------------------ requests

    def start(
        self,
        loaded: LoadedRunbook,
        given: Mapping[str, Any],
        *,
        requester: Who,
        run_id: str,
        extra_groups: Iterable[str] = (),
        from_text: bool = True,
        done: Done | None = None,
    ) -> str:
        """Record a run now (every check happens here: permission, parameters, a repeated
        request with the same ``run_id`` — all raise) and drive it in the background.
        ``done`` hears how the first drive ended."""

        def record() -> dict[str, Any]:
            _, params = self.engine.create(
                loaded,
                given,
                requester=requester,
                extra_groups=extra_groups,
                run_id=run_id,
                from_text=from_text,
            )
            self.vault.keep(run_id, loaded.runbook, params)
            return params

        return self._record_and_launch(run_id, record, done)

    def rerun(
        self,
        original: str,
        *,
        by: Who,
        run_id: str,
        from_step: str | None = None,
        failed_hosts: bool = False,
        given: Mapping[str, Any] | None = None,
        from_text: bool = False,
        extra_groups: Iterable[str] = (),
        done: Done | None = None,
    ) -> str:
        """``start`` for a re-run of ``original`` (``Engine.create_rerun``: checked, recorded
        as ``run_id``, linked) driven in the background."""

        def record() -> dict[str, Any]:
            made = self.engine.create_rerun(
                original,
                by=by,
                from_step=from_step,
                failed_hosts=failed_hosts,
                given=given,
                from_text=from_text,
                extra_groups=extra_groups,
                run_id=run_id,
            )
            self.vault.keep(run_id, made.loaded.runbook, made.params)
            return made.params

        return self._record_and_launch(run_id, record, done)

    def _record_and_launch(
        self, run_id: str, record: Callable[[], dict[str, Any]], done: Done | None
    ) -> str:
        """Hold ``run_id``, ``record`` it (its typed parameters come back), drive it."""
        with self._lock:
            if self._closed:
                raise RunbookError("the server is stopping; ask again in a minute")
            # held from before it exists: this process's sweeper, seeing a pending run of its
            # own that it does not drive yet, would take it for a former life's orphan
            held = run_id not in self._driving and run_id not in self._held
            if held:
                self._held.add(run_id)
        try:
            params = record()
        except BaseException:
            if held:
                with self._lock:
                    self._held.discard(run_id)
            raise
        if not self._launch(run_id, functools.partial(self._execute, run_id, params), done):
            with self._lock:
                closed = self._closed
                self._held.discard(run_id)
            if closed:
                raise RunbookError(
                    f"run {run_id} is recorded but the server is stopping; "
                    "it starts when the server is back"
                )
            # else a sweep that looked before the hold drives it already: nothing is lost
        return run_id

    def record_many(self, starts: Sequence[tuple[Checked, str]]) -> set[str]:
        """Record many checked starts at once (``Engine.record_many``), held by this process
        until ``drive`` (or ``resume``) drives each; returns the ids recorded."""
        wanted = {run_id for _, run_id in starts}
        with self._lock:
            if self._closed:
                raise RunbookError("the server is stopping; ask again in a minute")
            # held before they exist: this process's sweeper, seeing a pending run of its own
            # that it does not drive, would take it for a former life's orphan
            added = wanted - self._driving - self._held
            self._held |= added
        try:
            # owned by this process from the start, so no other process's sweeper adopts them
            created = self.engine.record_many(starts, owner=owner_id())
        except BaseException:
            with self._lock:
                self._held -= added
            raise
        with self._lock:
            self._held -= added - created
        for checked, run_id in starts:
            if run_id in created:
                self.vault.keep(run_id, checked.loaded.runbook, checked.params)
        return created

    def drive(self, run_id: str, params: dict[str, Any]) -> bool:
        """Drive a recorded run from its start with its typed ``params``; False when the
        server is stopping (the run stays recorded, and resumes when it is back)."""
        return self._launch(run_id, functools.partial(self._execute, run_id, params), None)

    def resume(
        self,
        run_id: str,
        *,
        by: str = "",
        done: Done | None = None,
        run: LoadedRun | None = None,
        choice: str | None = None,
    ) -> bool:
        """Drive ``run_id`` again (after a decision, a cancel, a crash, a timeout). ``run``:
        the run as the caller just loaded it, so the drive does not load it again.
        ``choice`` (retry, skip, rollback: checked by the caller) is recorded by the drive.
        False when the server is stopping (the run resumes when it is back)."""
        with self._lock:
            if run_id in self._driving and choice is None:
                self._again.add(run_id)  # that drive's end loads the run anew
                return True
        return self._launch(run_id, lambda: self._resume(run or run_id, by, choice), done)

    # ------------------------------------------------------------------ inspection

    def driving(self) -> set[str]:
        """The runs this process drives, or holds to drive soon."""
        with self._lock:
            return self._driving | self._held

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._driving:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.1))
            return True

    def close(self, grace: float) -> bool:
        """Take no more work and wait up to ``grace`` seconds for the runs being driven (the
        store refuses new steps meanwhile, so they stop at a recorded point)."""
        with self._lock:
            self._closed = True
        return self.wait_idle(grace)

    # ------------------------------------------------------------------ threads

    def _launch(self, run_id: str, drive: Callable[[], RunOutcome], done: Done | None) -> bool:
        with self._lock:
            if self._closed or run_id in self._driving:
                return False
            self._driving.add(run_id)
            self._held.discard(run_id)
            thread = threading.Thread(
                target=self._run, args=(run_id, drive, done), name=f"run-{run_id}", daemon=True
            )
            self._threads[run_id] = thread
        thread.start()
        return True

    def _run(self, run_id: str, first: Callable[[], RunOutcome], done: Done | None) -> None:
        drive = first
        while True:
            outcome: RunOutcome | None = None
            error: Exception | None = None
            try:
                outcome = drive()
            except Draining as exc:
                log.info("%s; it resumes when the server starts again", exc)
            except StoreError as exc:
                # typically: another engine process drives it and sees decisions by itself
                log.info("run %s not driven here: %s", run_id, exc)
                error = exc
            except RunbookError as exc:
                log.warning("run %s: %s", run_id, exc)
                error = exc
            except Exception as exc:
                log.exception("driving run %s failed", run_id)
                error = exc
            if outcome is not None and outcome.status in TERMINAL:
                self.vault.forget(run_id)
            if done is not None:
                try:
                    done(outcome, error)
                except Exception:
                    log.exception("reporting on run %s failed", run_id)
                done = None
            with self._lock:
                again = run_id in self._again and not self._closed
                self._again.discard(run_id)
                if not again:
                    self._driving.discard(run_id)
                    self._threads.pop(run_id, None)
                    self._lock.notify_all()
                    return
            drive = functools.partial(self._resume, run_id, "", None)

    def _execute(self, run_id: str, params: dict[str, Any]) -> RunOutcome:
        return self.engine.execute(run_id, params=params, wait_for_approval=False)

    def _resume(self, run: str | LoadedRun, by: str, choice: str | None = None) -> RunOutcome:
        run_id = run.record.id if isinstance(run, LoadedRun) else run
        # the server drives runs on after what a door recorded (a decision, a cancel, a
        # schedule's tick, a resume asked of the API) or after a crash: whoever caused it was
        # checked at that door
        return self.engine.resume(
            run,
            choice=choice,
            given=self.vault.given(run_id) or None,
            by=by,
            wait_for_approval=False,
            continuing=True,
        )
