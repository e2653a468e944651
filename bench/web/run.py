"""The web console's speed: the runs page over 10,000 runs, and the page of a run on 1,000 hosts.

A fresh store (SQLite in a temporary folder, or with ``--db postgresql://...`` a fresh schema
dropped afterwards) is filled through the store's own API: runbook versions as the engine
records them, ``--runs`` runs in batches (``create_runs``) of a mix of runbooks, statuses and
requesters, each given the events such a run has (``append_events``: started, a step, finished),
and one run of ``--steps`` SSH-like steps on ``--hosts`` hosts whose step results carry the
per-host list as ``ssh.*`` actions record it (``actions/ssh/step.py``: ``finish``). Then
``runbook serve``'s server runs in-process on 127.0.0.1, a client signs in by POSTing an API
token to ``/signin`` (keeping the session cookie), and each page is fetched ``--repeat`` times:
wall time per request (p50 / p90 / max) and the answer's size. The runs page is timed unfiltered,
filtered by runbook, by status and by requester, and at a later page (its cursor), and
``GET /api/v1/runs`` with the same filters for comparison; the list's query plans
(``EXPLAIN QUERY PLAN`` / ``EXPLAIN``) are recorded for each filter. The run page is timed whole
and as its live fragment, with the timeline's hosts as served (a preview, failed first) and,
for comparison, with every host inline as the timeline had it before
(``timeline.HOSTS_PREVIEW`` raised).

```sh
.venv/bin/python bench/web/run.py
.venv/bin/python bench/web/run.py --db postgresql://postgres@127.0.0.1:5432/test
```

Progress goes to stderr, one JSON document to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from alembic import command
from sqlalchemy import create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import machine_cpu, own_cpu, percentile

from runbook_engine.api.pages import run_cursor
from runbook_engine.auth.tokens import create_token
from runbook_engine.core.events import (
    Payload,
    RunFinished,
    RunStarted,
    StepError,
    StepFailed,
    StepStarted,
    StepSucceeded,
)
from runbook_engine.lease import HEARTBEAT_EVERY
from runbook_engine.server.serve import ServeOptions, Server
from runbook_engine.spec.loader import load_text
from runbook_engine.store import NewEvent, NewRun, Store
from runbook_engine.store._engine import alembic_config
from runbook_engine.web import timeline

RUNBOOKS = ("restart-api", "rotate-certs", "deploy-web", "flush-cache", "db-failover")
REQUESTERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
#: finished runs mostly, as in a store that has been used for a while
STATUSES = ("succeeded",) * 14 + ("failed", "failed", "rolled_back", "cancelled", "running")
#: the engine that "drives" the benchmark's running runs
ELSEWHERE = "bench-web-elsewhere"
#: the list's target (the task: under 200 ms with 10,000 runs)
TARGET_MS = 200.0

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def simple_runbook(name: str) -> str:
    return (
        f"apiVersion: runbook/v1\nname: {name}\nversion: 1\ndescription: {name}\n"
        "steps:\n  - {id: go, action: log, with: {message: go}}\n"
    )


def fanout_runbook(steps: int) -> str:
    lines = [
        "apiVersion: runbook/v1",
        "name: fleet-upgrade",
        "version: 1",
        "description: SSH steps on the whole fleet",
        "steps:",
    ]
    for n in range(1, steps + 1):
        lines.append(
            f'  - {{id: s{n}, action: ssh.command, with: {{hosts: "all", command: "step {n}"}}}}'
        )
    return "\n".join(lines) + "\n"


def save(store: Store, source: str) -> tuple[str, int, str]:
    loaded = load_text(source)
    name, version = loaded.runbook.name, loaded.runbook.version
    store.save_version(name, version, loaded.digest, loaded.source, loaded.document)
    return name, version, loaded.digest


def event(payload: Payload) -> NewEvent:
    data = payload.to_data()
    step = data.get("step")
    return NewEvent(payload.TYPE, data, str(step) if step is not None else None)


def fill_runs(store: Store, count: int, seed: int = 1) -> dict[str, Any]:
    """``count`` runs of the simple runbooks, each with the events of its status."""
    rng = random.Random(seed)
    versions = {name: save(store, simple_runbook(name)) for name in RUNBOOKS}
    started = time.monotonic()
    made: list[tuple[str, str]] = []
    batch = 1000
    for first in range(0, count, batch):
        new = []
        for _ in range(min(batch, count - first)):
            name = rng.choice(RUNBOOKS)
            _, version, digest = versions[name]
            status = rng.choice(STATUSES)
            run_id = uuid.uuid4().hex[:12]
            new.append(
                NewRun(
                    run_id=run_id,
                    runbook=name,
                    version=version,
                    digest=digest,
                    params={"host": f"api-{rng.randrange(40)}"},
                    requester=rng.choice(REQUESTERS),
                    # a running run is another engine's (heartbeated by ``keep_driven``):
                    # without an owner, serve's sweeper would adopt and drive hundreds of
                    # runs while the pages are timed, and the figures would be of that
                    owner=ELSEWHERE if status == "running" else None,
                )
            )
            made.append((run_id, status))
        store.create_runs(new)
    created = time.monotonic() - started
    for run_id, status in made:
        batch_events: list[NewEvent] = [
            event(RunStarted()),
            event(StepStarted(step="go", attempt=1, action="log")),
        ]
        if status == "running":
            pass
        elif status == "succeeded":
            batch_events.append(
                event(StepSucceeded(step="go", attempt=1, duration=0.01, action="log"))
            )
            batch_events.append(event(RunFinished(status=status)))
        else:
            error = StepError(message="it broke", kind="error")
            batch_events.append(event(StepFailed(step="go", error=error, attempt=1)))
            batch_events.append(event(RunFinished(status=status)))
        store.append_events(run_id, batch_events, status=status)
    return {
        "running": [run_id for run_id, status in made if status == "running"],
        "runs": count,
        "create_runs_s": round(created, 2),
        "append_events_s": round(time.monotonic() - started - created, 2),
    }


def keep_driven(store: Store, run_ids: list[str]) -> Callable[[], None]:
    """Heartbeat ``run_ids`` as their owner would, so no sweep takes them over, until the
    function returned is called."""
    done = threading.Event()

    def beat() -> None:
        while True:
            store.heartbeat_many(run_ids, ELSEWHERE)
            if done.wait(HEARTBEAT_EVERY):
                return

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()

    def stop() -> None:
        done.set()
        thread.join()

    return stop


def host_results(step: int, hosts: int, failed_every: int) -> list[dict[str, Any]]:
    """Per-host results as ``ssh.command`` records them (``actions/ssh/command.py``)."""
    out: list[dict[str, Any]] = []
    for n in range(hosts):
        name = f"web-{n:04d}.prod.example.com"
        failed = failed_every > 0 and n % failed_every == step % failed_every
        out.append(
            {
                "host": name,
                "address": f"10.{n // 250}.{n % 250}.{step}",
                "ok": not failed,
                "exit_code": 1 if failed else 0,
                "stdout": f"{name}: step {step} done\n",
                "stderr": "disk full\n" if failed else "",
                "duration": 0.2 + (n % 7) / 10,
                **({"error": "exited 1"} if failed else {}),
            }
        )
    return out


def fill_fanout(store: Store, steps: int, hosts: int) -> str:
    """One finished run of ``steps`` SSH steps on ``hosts`` hosts: every step but the last
    succeeded with a few failed hosts tolerated, the last failed."""
    name, version, digest = save(store, fanout_runbook(steps))
    run_id = "fanout" + uuid.uuid4().hex[:6]
    store.create_runs(
        [
            NewRun(
                run_id=run_id,
                runbook=name,
                version=version,
                digest=digest,
                params={},
                requester="alice",
            )
        ]
    )
    store.append_events(run_id, [event(RunStarted())], status="running")
    for n in range(1, steps + 1):
        step = f"s{n}"
        results = host_results(n, hosts, failed_every=100 if n < steps else 20)
        ok = [h["host"] for h in results if h["ok"]]
        failed = [h["host"] for h in results if not h["ok"]]
        summary = f"{len(ok)} of {hosts} hosts ok, {len(failed)} failed"
        batch = [event(StepStarted(step=step, attempt=1, action="ssh.command"))]
        if n < steps:
            result = {
                "hosts": results,
                "ok": ok,
                "failed": failed,
                "skipped": [],
                "summary": summary,
            }
            batch.append(
                event(
                    StepSucceeded(
                        step=step, attempt=1, duration=4.1, action="ssh.command", result=result
                    )
                )
            )
        else:
            error = StepError(message=summary, kind="exit", host=failed[0], hosts=results)
            batch.append(event(StepFailed(step=step, error=error, attempt=1, duration=4.2)))
            failure = {"message": summary, "kind": "exit", "step": step}
            batch.append(event(RunFinished(status="failed", failure=failure)))
        store.append_events(run_id, batch, status="failed" if n == steps else None)
    return run_id


def timed(get: Callable[[], httpx.Response], repeat: int) -> dict[str, Any]:
    for _ in range(2):  # warm: templates compiled, runbook versions cached
        answer = get()
        assert answer.status_code == 200, (answer.status_code, answer.text[:500])
    times: list[float] = []
    size = 0
    for _ in range(repeat):
        started = time.perf_counter()
        answer = get()
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.status_code
        size = len(answer.content)
    return {
        "p50_ms": round(percentile(times, 0.5), 1),
        "p90_ms": round(percentile(times, 0.9), 1),
        "max_ms": round(max(times), 1),
        "bytes": size,
        "n": repeat,
    }


@contextmanager
def fresh_store(db: str | None) -> Iterator[tuple[str, str]]:
    """The URL of a fresh, empty store, and what it is (for the report)."""
    if db is None:
        with tempfile.TemporaryDirectory(prefix="bench-web-") as folder:
            yield str(Path(folder) / "runs.db"), "sqlite"
        return
    url = make_url(db)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in db else "?"
    try:
        yield f"{db}{sep}options=-csearch_path%3D{schema}", "postgresql"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def sign_in(url: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60.0)
    page = client.get("/signin")
    found = _CSRF.search(page.text)
    assert found is not None, page.text[:500]
    answer = client.post(
        "/signin", data={"csrf_token": found.group(1), "token": token, "next": "/"}
    )
    assert answer.status_code == 303, (answer.status_code, answer.text[:500])
    return client


def plans(store: Store, later: tuple[datetime, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    filters: dict[str, dict[str, Any]] = {
        "none": {},
        "runbook": {"runbook": RUNBOOKS[0]},
        "status": {"status": "failed"},
        "requester": {"requester": REQUESTERS[0]},
    }
    for name, given in filters.items():
        pages: tuple[tuple[str, dict[str, Any]], ...] = (
            ("first", {}),
            ("later", {"before": later}),
        )
        for page, extra in pages:
            stmt = store.list_runs_query(limit=51, **given, **extra)
            out[f"{name}/{page}"] = store.explain(stmt)
    return out


def query_times(store: Store, later: tuple[datetime, str], repeat: int) -> dict[str, Any]:
    """The list's query alone (``Store.list_runs``, a page of 51 as ``runs_page`` reads it),
    per filter: p50 / max in ms."""
    out: dict[str, Any] = {}
    filters: dict[str, dict[str, Any]] = {
        "first page": {},
        "runbook": {"runbook": RUNBOOKS[0]},
        "status": {"status": "failed"},
        "requester": {"requester": REQUESTERS[0]},
        "later page": {"before": later},
        "runbook, later page": {"runbook": RUNBOOKS[0], "before": later},
    }
    for name, given in filters.items():
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            store.list_runs(limit=51, **given)
            times.append((time.perf_counter() - started) * 1000)
        out[name] = {"p50_ms": round(percentile(times, 0.5), 2), "max_ms": round(max(times), 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a PostgreSQL URL (a fresh schema in it); default SQLite")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    report: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds")}
    cpu0, own0, wall0 = machine_cpu(), own_cpu(), time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="bench-web-home-") as home,
        fresh_store(args.db) as (
            url,
            kind,
        ),
    ):
        report["store"] = kind
        for var in ("RUNBOOK_POLICY", "RUNBOOK_GROUPS", "RUNBOOK_PATH", "RUNBOOK_SESSION_KEY"):
            os.environ.pop(var, None)
        os.environ["RUNBOOK_DB"] = url
        os.environ["HOME"] = home
        os.chdir(home)
        say(f"filling a fresh {kind} store with {args.runs} runs ...")
        with Store.open(url) as store:
            report["fill"] = fill_runs(store, args.runs)
            running: list[str] = report["fill"].pop("running")
            report["fill"]["running (another engine's)"] = len(running)
            say(f"  {report['fill']}")
            fanout = fill_fanout(store, args.steps, args.hosts)
            token = create_token(store, "admin").secret
            if kind == "postgresql":
                # autovacuum analyses a table after such a fill within a minute or so; until
                # then the planner has no statistics, and a request timed meanwhile measures
                # the autovacuum run beside it as well
                with store._writer.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                        "VACUUM ANALYZE runs"
                    )
            ordered = store.list_runs(limit=args.runs // 2)
            later = (ordered[-1].created_at, ordered[-1].id)
            report["plans"] = plans(store, later)
            report["list_query"] = query_times(store, later, args.repeat)
        cursor = run_cursor(*later)
        server = Server(None, ServeOptions(host="127.0.0.1", port=0, db=url, sweep_interval=60))
        # heartbeats first: the fill takes longer than a lease (on PostgreSQL), and a sweep
        # at start would adopt the runs whose heartbeat went stale meanwhile
        stop_beating = keep_driven(server.store, running)
        server.start()
        try:
            client = sign_in(server.url, token)
            api = httpx.Client(
                base_url=server.url + "/api/v1",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60.0,
            )
            cases: dict[str, dict[str, str]] = {
                "first page": {},
                f"runbook={RUNBOOKS[0]}": {"runbook": RUNBOOKS[0]},
                "status=failed": {"status": "failed"},
                f"requester={REQUESTERS[0]}": {"requester": REQUESTERS[0]},
                f"page {args.runs // 2 // 50 + 1} (cursor)": {"cursor": cursor},
            }
            report["runs_page"] = {}
            report["api_runs"] = {}
            for name, params in cases.items():
                say(f"GET / {name} ...")
                report["runs_page"][name] = timed(
                    partial(client.get, "/", params=params), args.repeat
                )
                report["api_runs"][name] = timed(
                    partial(api.get, "/runs", params={**params, "limit": "50"}),
                    args.repeat,
                )
                say(f"  page {report['runs_page'][name]}  api {report['api_runs'][name]}")
            report["runs_page_met"] = all(
                r["p90_ms"] < TARGET_MS for r in report["runs_page"].values()
            )

            report["run_page"] = {"hosts": args.hosts, "steps": args.steps}
            repeat = max(5, args.repeat // 3)
            for mode, preview in (("preview", timeline.HOSTS_PREVIEW), ("all inline", 10**9)):
                timeline.HOSTS_PREVIEW = preview  # read at render time
                say(f"GET /runs/{fanout} ({mode}) ...")
                page = timed(lambda: client.get(f"/runs/{fanout}"), repeat)
                live = timed(lambda: client.get(f"/runs/{fanout}/live"), repeat)
                html = client.get(f"/runs/{fanout}/live").text
                report["run_page"][mode] = {
                    "page": page,
                    "live": live,
                    "host_rows_in_live": html.count('<td data-label="Host">'),
                }
                say(f"  page {page}  live {live}")
            timeline.HOSTS_PREVIEW = preview = 20
            report["run_page"]["step hosts page"] = timed(
                lambda: client.get(f"/runs/{fanout}/steps/s{args.steps}/hosts"), repeat
            )
            report["run_page"]["api show"] = timed(lambda: api.get(f"/runs/{fanout}"), repeat)
            still = server.store.list_runs(status="running", limit=len(running) + 10)
            report["running runs taken over by serve"] = len(running) - sum(
                1 for r in still if r.owner == ELSEWHERE
            )
        finally:
            stop_beating()
            server.stop()
        # the same queries on the indexes before migration 0005 (one per column), for
        # comparison: the store is taken back to 0004 (the cursor's condition is today's)
        with Store.open(url) as store:
            with store._writer.begin() as conn:
                command.downgrade(alembic_config(conn), "0004")
            report["plans_0004"] = plans(store, later)
            report["list_query_0004"] = query_times(store, later, args.repeat)
    cpu1 = machine_cpu()
    report["machine"] = {
        "cores": os.cpu_count(),
        "wall_s": round(time.monotonic() - wall0, 1),
        "busy_cpu_s": round(cpu1["busy"] - cpu0["busy"], 1),
        "own_cpu_s": round(own_cpu() - own0, 1),
        "loadavg": os.getloadavg(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
