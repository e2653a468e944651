"""A fleet of real ``runbook worker`` processes for the tests, and ways to watch the store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from runbook_engine.core.statuses import TERMINAL
from runbook_engine.store import EventRecord, RunRecord, Store
from runbook_engine.worker.pg import conninfo_from_url

#: the installed console script, as an operator runs it
RUNBOOK = [str(Path(sys.executable).parent / "runbook")]


def schema_url(base: str, schema: str) -> str:
    """``base`` with the connection option that puts the store and the queue in ``schema``."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def wait_for(what: str, check: Callable[[], Any], timeout: float, poll: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(poll)


class Fleet:
    """Worker processes sharing one store (a PostgreSQL schema) and one runbooks folder."""

    def __init__(self, url: str, workdir: Path, runbooks: dict[str, str]) -> None:
        self.url = url
        self.workdir = workdir
        self.runbooks = workdir / "runbooks"
        self.runbooks.mkdir(parents=True, exist_ok=True)
        for name, text in runbooks.items():
            (self.runbooks / f"{name}.yaml").write_text(text)
        self.env = {
            **os.environ,
            "RUNBOOK_DB": url,
            "RUNBOOK_PATH": str(self.runbooks),
            "RUNBOOK_USER": "alice",
        }
        for name in ("RUNBOOK_LOG_FORMAT", "RUNBOOK_EXECUTOR", "RUNBOOK_GROUPS", "RUNBOOK_OTEL"):
            self.env.pop(name, None)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.metrics_port: int | None = None  # a test that serves /metrics records it here
        self.store = Store.open(url)

    # ------------------------------------------------------------------ processes

    def start(self, count: int, *args: str) -> list[subprocess.Popen[bytes]]:
        started = []
        for _ in range(count):
            index = len(self.procs)
            log = (self.workdir / f"worker-{index}.log").open("wb")
            proc = subprocess.Popen(
                [*RUNBOOK, "worker", "--metrics-port", "0", *args],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            self.procs.append(proc)
            started.append(proc)
        return started

    def log_of(self, proc: subprocess.Popen[bytes]) -> str:
        return (self.workdir / f"worker-{self.procs.index(proc)}.log").read_text()

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until every live worker process has registered its two Procrastinate workers."""
        live = sum(1 for p in self.procs if p.poll() is None)

        def registered() -> bool:
            for proc in self.procs:
                if proc.poll() is not None and proc.returncode not in (0, -9):
                    raise AssertionError(f"worker exited {proc.returncode}:\n{self.log_of(proc)}")
            try:
                with psycopg.connect(conninfo_from_url(self.url)) as conn:
                    row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
            except psycopg.errors.UndefinedTable:
                return False
            return bool(row and row[0] >= 2 * live)

        wait_for("workers to register", registered, timeout, poll=0.2)

    def stop(self) -> None:
        """SIGTERM every worker still running, then SIGKILL whatever does not stop."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.store.close()

    def cli(
        self, *args: str, timeout: float = 60, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*RUNBOOK, *args],
            cwd=self.workdir,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    # ------------------------------------------------------------------ the store

    def runs(self, runbook: str) -> list[RunRecord]:
        return self.store.list_runs(runbook=runbook, limit=10_000)

    def events(self, run_id: str) -> list[EventRecord]:
        return self.store.events(run_id)

    def wait_terminal(self, run_ids: list[str], timeout: float) -> list[RunRecord]:
        def done() -> list[RunRecord] | None:
            records = [self.store.get_run(r) for r in run_ids]
            if all(r is not None and r.status in TERMINAL for r in records):
                return [r for r in records if r is not None]
            return None

        result: list[RunRecord] = wait_for(f"{len(run_ids)} runs to finish", done, timeout, 0.2)
        return result

    def wait_status(self, run_id: str, status: str, timeout: float) -> RunRecord:
        def reached() -> RunRecord | None:
            record = self.store.get_run(run_id)
            return record if record is not None and record.status == status else None

        result: RunRecord = wait_for(f"run {run_id} to be {status}", reached, timeout)
        return result
