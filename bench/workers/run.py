"""Workers benchmark: runs per second and enqueue-to-start latency with 1, 2 and 4 workers.

For each worker count, in a fresh PostgreSQL schema (dropped afterwards):

1. start N ``runbook worker`` processes (``--concurrency C``) and wait until they registered;
2. **burst**: record ``--runs`` runs, queue them all at once, and wait until every one
   succeeded: runs per second = runs / (last ``run.finished`` - the moment they were queued);
3. **paced**: record and queue ``--paced`` runs at ``--rate`` per second (below capacity) and
   measure each run's ``run.created`` -> ``run.started`` (the time a queued run waits for a
   worker to pick it up and claim it), p50 and p99.

The runbook is a ``sleep`` of ``--sleep`` seconds (default 0) and a ``log`` step: with 0 the
figures are the engine's and the queue's own cost per run (CPU-bound); with a sleep they show
how throughput grows with slots (workers x concurrency) when runs mostly wait, as real ones do
on SSH and AWS. Not run in CI; prints its figures as JSON.

    .venv/bin/python bench/workers/run.py                      # 1, 2 and 4 workers
    .venv/bin/python bench/workers/run.py --sleep 1             # runs that mostly wait
    .venv/bin/python bench/workers/run.py --workers 2 --runs 50
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from runbook_engine.core.statuses import SUCCEEDED, TERMINAL
from runbook_engine.service import Engine
from runbook_engine.spec.loader import load_text
from runbook_engine.store import Store
from runbook_engine.worker.pg import conninfo_from_url
from runbook_engine.worker.queue import defer_run, enqueue, make_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import RUNBOOK_CLI, percentile, wait_until

RUNBOOK = """\
apiVersion: runbook/v1
name: bench-workers
version: 1
steps:
  - id: wait
    action: sleep
    with: {duration: SLEEP}
  - id: hello
    action: log
    with: {message: "hello from {{ run.id }}"}
"""

# the installed `runbook worker` command
WORKER = [str(RUNBOOK_CLI), "worker"]


class Setup:
    """N workers on a fresh schema."""

    def __init__(
        self, base: str, workers: int, concurrency: int, sleep: float, workdir: Path
    ) -> None:
        self.schema = f"bench_{uuid.uuid4().hex[:10]}"
        self.admin = psycopg.connect(conninfo_from_url(base), autocommit=True)
        self.admin.execute(f'CREATE SCHEMA "{self.schema}"')
        sep = "&" if "?" in base else "?"
        self.url = f"{base}{sep}options=-csearch_path%3D{self.schema}"
        self.store = Store.open(self.url)
        self.engine = Engine(store=self.store)
        self.loaded = load_text(RUNBOOK.replace("SLEEP", str(sleep)), "bench-workers.yaml")
        env = {**os.environ, "RUNBOOK_DB": self.url, "RUNBOOK_PATH": str(workdir)}
        env.pop("RUNBOOK_LOG_FORMAT", None)
        self.procs: list[subprocess.Popen[bytes]] = []
        for n in range(workers):
            with (workdir / f"worker-{self.schema}-{n}.log").open("wb") as log:
                self.procs.append(
                    subprocess.Popen(
                        [*WORKER, "--concurrency", str(concurrency), "--metrics-port", "0"],
                        env=env,
                        cwd=workdir,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    )
                )
        wait_until(lambda: self._registered() >= 2 * workers, 60, "workers to start")

    def _registered(self) -> int:
        try:
            with psycopg.connect(conninfo_from_url(self.url)) as conn:
                row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
        return int(row[0]) if row else 0

    def create(self, count: int) -> list[str]:
        return [self.engine.create(self.loaded, {}, requester="bench")[0] for _ in range(count)]

    def wait(self, run_ids: list[str], timeout: float) -> None:
        # one count on the bench's own connection: polling through the store (rows parsed
        # into records every 50 ms) would take CPU from the worker it measures
        query = f'SELECT count(*) FROM "{self.schema}".runs WHERE id = ANY(%s) AND status = ANY(%s)'

        def done() -> bool:
            row = self.admin.execute(query, (run_ids, sorted(TERMINAL))).fetchone()
            return row is not None and int(row[0]) == len(run_ids)

        wait_until(done, timeout, f"{len(run_ids)} runs")
        bad = [r for r in run_ids if (rec := self.store.get_run(r)) and rec.status != SUCCEEDED]
        if bad:
            raise SystemExit(f"{len(bad)} runs did not succeed, e.g. {bad[0]}")

    def times(self, run_id: str) -> dict[str, float]:
        return {e.type: e.ts.timestamp() for e in self.store.events(run_id)}

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.store.close()
        self.admin.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
        self.admin.close()


def measure(setup: Setup, runs: int, paced: int, rate: float) -> dict[str, Any]:
    burst = setup.create(runs)
    # from the moment the runs are queued: recording them first is the submitter's work
    queued_at = time.time()
    enqueue(burst, setup.url)
    setup.wait(burst, 600)
    times = [setup.times(r) for r in burst]
    span = max(t["run.finished"] for t in times) - queued_at

    latencies: list[float] = []
    paced_ids: list[str] = []
    # one open app, as a long-running submitter (`runbook serve`) would have: the figure is
    # the queue's and the worker's, not a CLI process connecting
    app = make_app(conninfo_from_url(setup.url))
    with app.open():
        for _ in range(paced):
            started = time.monotonic()
            (run_id,) = setup.create(1)
            defer_run(app, run_id)
            paced_ids.append(run_id)
            time.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))
    setup.wait(paced_ids, 300)
    for run_id in paced_ids:
        t = setup.times(run_id)
        latencies.append(t["run.started"] - t["run.created"])
    return {
        "burst_runs": runs,
        "runs_per_second": round(runs / span, 2),
        "paced_runs": paced,
        "paced_rate": rate,
        "latency_p50_ms": round(1000 * statistics.median(latencies), 1),
        "latency_p99_ms": round(1000 * percentile(latencies, 0.99), 1),
        "latency_max_ms": round(1000 * max(latencies), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--runs", type=int, default=100, help="runs in the burst")
    parser.add_argument("--paced", type=int, default=40, help="runs for the latency figures")
    parser.add_argument("--rate", type=float, default=2.0, help="paced runs per second")
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds each run sleeps")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            setup = Setup(args.pg, workers, args.concurrency, args.sleep, Path(tmp))
            try:
                figures = measure(setup, args.runs, args.paced, args.rate)
            finally:
                setup.close()
            results.append(
                {"workers": workers, "concurrency": args.concurrency, "sleep": args.sleep} | figures
            )
            print(json.dumps(results[-1]), file=sys.stderr)
    print(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
