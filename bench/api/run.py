"""api: ``POST /api/v1/runs`` and ``GET /api/v1/runs/{id}`` under an open-loop load.

For each store (a fresh SQLite file; with ``--db postgresql://...`` also a fresh schema of
that database, dropped afterwards):

1. create an API token (``runbook token create``) and start ``runbook serve --port 0`` on the
   store, in a temporary directory whose ``runbooks/`` holds a one-step ``log`` runbook;
2. warm up (a few sequential requests, not counted), then send ``--rate`` requests a second
   for ``--seconds`` seconds, alternately ``POST /runs`` and ``GET /runs/{id}`` of a run a
   POST created earlier (chosen at random). Open loop: each request is sent at its scheduled
   time whatever the earlier ones' latency, from asyncio on keep-alive connections (``Http``);
   at most ``--max-in-flight`` at once, and a request due while that many are in flight is not
   sent but counted (``not_sent``). Latency counts from the scheduled time, so a client that
   fell behind shows in it (the send lag is reported too);
3. poll the store until every run it holds has finished (at most ``--drain-seconds``).

Then the same rate of GETs (``--peer-seconds``) against ``bench/api/floor.py``, uvicorn with
serve's settings answering a fixed JSON: a bare Starlette route and a FastAPI route shaped like
``GET /runs/{id}`` on uvicorn's own kind of socket, and that FastAPI route under the engine's
``HttpServer``; the ratios are our p50 / each floor's p50. The process exits 1 if a request
failed, any was not sent, or a run did not finish. 127.0.0.1 only. Not part of CI::

    .venv/bin/python bench/api/run.py                          # 200 requests/s for 60 s
    .venv/bin/python bench/api/run.py --db postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/api/run.py --rate 50 --seconds 10 --peer-seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

from runbook_engine.core.statuses import TERMINAL
from runbook_engine.worker.pg import conninfo_from_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import RUNBOOK_CLI, machine_cpu, percentile

FLOOR = Path(__file__).resolve().with_name("floor.py")
RUNBOOK_NAME = "bench-api"
RUNBOOK = """\
apiVersion: runbook/v1
name: bench-api
version: 1
description: one log step
parameters:
  n: {type: integer}
steps:
  - {id: hello, action: log, with: {message: "run {{ params.n }}"}}
"""
#: a request sent later than this after its scheduled time counts as late
LATE_S = 0.010
#: seconds a request may take: serve answers 504 after 30 s, so this only catches a hang
REQUEST_TIMEOUT_S = 35.0
WARMUP = 20
#: seconds an idle connection is reused for: well under serve's keep-alive timeout (15 s)
IDLE_S = 5.0
#: the server measured: the installed command, as a team runs it
SERVE = [str(RUNBOOK_CLI), "serve"]


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- processes


def proc_stat(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of ``pid``, its thread count and its memory, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        status: dict[str, int] = {}
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("Threads", "VmRSS", "VmHWM"):
                    status[key] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        return {"cpu_s": 0.0, "threads": 0, "rss_bytes": 0, "hwm_bytes": 0}
    # fields after the name: state is [0], utime [11], stime [12]
    return {
        "cpu_s": (int(fields[11]) + int(fields[12])) / tick,
        "threads": status.get("Threads", 0),
        "rss_bytes": status.get("VmRSS", 0) * 1024,
        "hwm_bytes": status.get("VmHWM", 0) * 1024,
    }


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Child:
    """A server subprocess whose first stderr line names its URL; the rest of its stderr is
    copied to a file by a thread, so a chatty server never blocks on a full pipe."""

    def __init__(
        self, argv: list[str], *, env: dict[str, str], cwd: Path, pattern: str, log: Path
    ) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        # warnings (a session key kept nowhere, say) may come before the line with the URL
        first = ""
        found = None
        for _ in range(20):
            line = self.proc.stderr.readline()
            first += line
            found = re.search(pattern, line)
            if found or not line:
                break
        self._copier = threading.Thread(target=self._copy, args=(first,), daemon=True)
        self._copier.start()
        if not found:
            self.stop()
            raise SystemExit(f"{argv[0]} did not start: {first.strip()}\n{self.tail()}")
        self.url = found.group(1)

    def _copy(self, first: str) -> None:
        assert self.proc.stderr is not None
        with self.log.open("w") as out:
            out.write(first)
            for line in self.proc.stderr:
                out.write(line)

    def tail(self, limit: int = 3000) -> str:
        time.sleep(0.2)
        with contextlib.suppress(FileNotFoundError):
            return self.log.read_text(errors="replace")[-limit:]
        return ""

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._copier.join(timeout=5)
        return self.proc.returncode


def wait_healthy(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer 200 within {timeout:g}s")
        time.sleep(0.05)


# ---------------------------------------------------------------------------- stores


@dataclass
class Backend:
    """A fresh store: its URL for RUNBOOK_DB and how to count its runs by status."""

    name: str
    url: str
    count: Callable[[], dict[str, int]]
    cleanup: Callable[[], None] = lambda: None


def sqlite_backend(workdir: Path) -> Backend:
    path = workdir / "runs.db"

    def count() -> dict[str, int]:
        # read-only, on its own connection: a reader never blocks serve's writer under WAL
        try:
            with contextlib.closing(
                sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            ) as conn:
                rows = conn.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall()
        except sqlite3.OperationalError:
            return {}
        return {str(s): int(n) for s, n in rows}

    return Backend("sqlite", str(path), count)


def postgres_backend(base: str) -> Backend:
    schema = f"bench_api_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(conninfo_from_url(base), autocommit=True)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"

    def count() -> dict[str, int]:
        rows = admin.execute(f'SELECT status, count(*) FROM "{schema}".runs GROUP BY status')
        return {str(s): int(n) for s, n in rows.fetchall()}

    def cleanup() -> None:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()

    return Backend("postgresql", url, count, cleanup)


# ---------------------------------------------------------------------------- load


@dataclass
class Sample:
    kind: str
    due: float  # when it was scheduled (monotonic)
    sent: float  # when the request began
    done: float
    status: int | None
    error: str | None
    detail: str = ""  # the start of an error response's body


@dataclass
class Load:
    samples: list[Sample] = field(default_factory=list)
    offered: int = 0
    not_sent: int = 0
    began: float = 0.0
    schedule_end: float = 0.0
    end: float = 0.0
    unfinished: int = 0  # still in flight when the load stopped waiting for them


Send = Callable[[int, float], Coroutine[Any, Any, Sample]]


async def open_loop(rate: float, seconds: float, max_in_flight: int, send: Send) -> Load:
    """Call ``send(i, due)`` for request ``i`` at ``due`` = start + i / rate, never waiting
    for an earlier one, with at most ``max_in_flight`` unanswered."""
    load = Load(offered=round(rate * seconds))
    tasks: set[asyncio.Task[Sample]] = set()

    def finished(task: asyncio.Task[Sample]) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is None:
            load.samples.append(task.result())

    load.began = time.monotonic()
    for i in range(load.offered):
        due = load.began + i / rate
        # sleep(0) when behind: the overdue request goes out now, and the loop still gets
        # to serve the answers coming in
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        if len(tasks) >= max_in_flight:
            load.not_sent += 1
            continue
        task = asyncio.create_task(send(i, due))
        tasks.add(task)
        task.add_done_callback(finished)
    load.schedule_end = time.monotonic()
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=REQUEST_TIMEOUT_S + 5)
        load.unfinished = len(pending)
        for task in pending:
            task.cancel()
    load.end = time.monotonic()
    return load


class Http:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams, for the load itself.

    httpx's connection pool costs client CPU that grows with the requests in flight (at 200
    requests/s against a slow server, the client fell seconds behind its schedule on these
    two cores), so the client would measure itself. This one writes each request in one
    ``write`` and reads ``Content-Length`` bodies, which is all uvicorn sends for these routes;
    it keeps idle connections for reuse and opens one more when none is idle (the open-loop
    cap bounds how many)."""

    def __init__(self, base: str, token: str) -> None:
        url = urlsplit(base)
        assert url.hostname is not None and url.port is not None
        self.host, self.port, self.prefix = url.hostname, url.port, url.path.rstrip("/")
        self.head = f"Host: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
        #: idle connections, each with the moment it became idle, newest last
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.opened = 0

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        reader: asyncio.StreamReader | None = None
        while self.idle:
            reader, writer, since = self.idle.pop()
            if time.monotonic() - since < IDLE_S:
                break
            # the server may have closed it meanwhile (keep-alive timeout): a request written
            # to it would fail, which is not the server's answer to measure
            writer.close()
            reader = None
        if reader is None:
            # open_connection resolves to IPPROTO_TCP, so asyncio sets TCP_NODELAY here
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.opened += 1
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                head = f"{method} {self.prefix}{path} HTTP/1.1\r\n{self.head}"
                if body is not None:
                    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                writer.write(head.encode() + b"\r\n" + (body or b""))
                raw = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                lines = raw.split("\r\n")
                status = int(lines[0].split()[1])
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                if "content-length" not in headers:
                    raise ValueError("a response without Content-Length")
                data = await reader.readexactly(int(headers["content-length"]))
        except BaseException:
            writer.close()
            raise
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append((reader, writer, time.monotonic()))
        return status, data

    async def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


async def timed(
    kind: str, due: float, call: Callable[[], Awaitable[tuple[int, bytes]]]
) -> tuple[Sample, bytes | None]:
    sent = time.monotonic()
    try:
        status, body = await call()
    except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
        return Sample(kind, due, sent, time.monotonic(), None, type(exc).__name__), None
    detail = body[:300].decode(errors="replace") if status >= 400 else ""
    return Sample(kind, due, sent, time.monotonic(), status, None, detail), body


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def latency(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50_ms": ms(percentile(values, 0.50)),
        "p90_ms": ms(percentile(values, 0.90)),
        "p99_ms": ms(percentile(values, 0.99)),
        "max_ms": ms(max(values)),
    }


def summarize(load: Load, ok: dict[str, int]) -> dict[str, Any]:
    """Figures per request kind; ``ok``: the status each kind answers when it works."""
    out: dict[str, Any] = {}
    for kind, good in ok.items():
        mine = [s for s in load.samples if s.kind == kind]
        fine = [s for s in mine if s.status == good]
        errors = Counter(
            str(s.status) if s.error is None else s.error for s in mine if s.status != good
        )
        out[kind] = {
            "answered_ok": len(fine),
            # from the scheduled time (open loop: a late send counts against the server's
            # figures only if the client was late because of it, which the lag tells)
            "latency": latency([s.done - s.due for s in fine]),
            "latency_from_send": latency([s.done - s.sent for s in fine]),
            "errors": dict(sorted(errors.items())),
            # one answer of each error status, to tell what went wrong
            "error_examples": {
                str(s.status): s.detail for s in reversed(mine) if s.status != good and s.detail
            },
        }
    lags = [s.sent - s.due for s in load.samples]
    window = load.end - load.began
    answered_ok = sum(out[k]["answered_ok"] for k in ok)
    out["all"] = {
        "offered": load.offered,
        "offered_rate": round(load.offered / max(load.schedule_end - load.began, 1e-9), 1),
        "sent": len(load.samples) + load.unfinished,
        "not_sent_in_flight_cap": load.not_sent,
        "sent_late_over_10ms": sum(1 for lag in lags if lag > LATE_S),
        "send_lag_p99_ms": ms(percentile(lags, 0.99)) if lags else None,
        "send_lag_max_ms": ms(max(lags)) if lags else None,
        "unanswered_at_end": load.unfinished,
        "answered_ok": answered_ok,
        "schedule_s": round(load.schedule_end - load.began, 2),
        "last_answer_after_s": round(window, 2),
        # answers that worked per second, over the schedule and the wait for the last answer
        "throughput_ok_per_s": round(answered_ok / window, 1),
    }
    return out


# ---------------------------------------------------------------------------- one store


def serve_env(workdir: Path, db: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(RUNBOOK_DB=db, RUNBOOK_PATH="", HOME=str(workdir))
    for name in ("RUNBOOK_LOG_FORMAT", "RUNBOOK_EXECUTOR", "RUNBOOK_POLICY"):
        env.pop(name, None)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        env.pop(name, None)
    for name in ("RUNBOOK_OIDC_ISSUER", "RUNBOOK_OIDC_AUDIENCE"):
        env.pop(name, None)
    return env


async def watch(pid: int, peaks: dict[str, float], stop: asyncio.Event) -> None:
    """Peak thread count and RSS of the server while the load runs (each run the executor
    drives holds a thread, so the threads tell the backlog)."""
    while not stop.is_set():
        now = proc_stat(pid)
        for key in ("threads", "rss_bytes"):
            peaks[key] = max(peaks.get(key, 0), now[key])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def drive_api(
    base: str, token: str, args: argparse.Namespace, pid: int
) -> tuple[Load, int, dict[str, float]]:
    created: list[str] = []
    rng = random.Random(1)
    http = Http(base, token)
    try:
        # warm-up, not counted: the first requests import and compile what later ones reuse
        for n in range(WARMUP):
            body = json.dumps({"runbook": RUNBOOK_NAME, "params": {"n": n}}).encode()
            status, answer = await http.request("POST", "/runs", body)
            if status != 201:
                raise SystemExit(f"warm-up POST /runs: {status} {answer[:500]!r}")
            created.append(json.loads(answer)["id"])
            status, answer = await http.request("GET", f"/runs/{created[-1]}")
            if status != 200:
                raise SystemExit(f"warm-up GET /runs/ID: {status} {answer[:500]!r}")
        warm = len(created)

        async def send(i: int, due: float) -> Sample:
            if i % 2 == 0:
                body = json.dumps({"runbook": RUNBOOK_NAME, "params": {"n": WARMUP + i}})
                sample, answer = await timed(
                    "POST", due, lambda: http.request("POST", "/runs", body.encode())
                )
                if answer is not None and sample.status == 201:
                    created.append(json.loads(answer)["id"])
                return sample
            run_id = rng.choice(created)
            return (await timed("GET", due, lambda: http.request("GET", f"/runs/{run_id}")))[0]

        peaks: dict[str, float] = {}
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(pid, peaks, stop))
        load = await open_loop(args.rate, args.seconds, args.max_in_flight, send)
        stop.set()
        await watcher
        peaks["connections"] = http.opened
    finally:
        await http.close()
    return load, warm, peaks


def run_store(backend: Backend, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = serve_env(workdir, backend.url)
    made = subprocess.run(
        [str(RUNBOOK_CLI), "token", "create", "--user", "bench@example.com"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        raise RuntimeError(f"runbook token create: exit {made.returncode}: {made.stderr.strip()}")
    token = made.stdout.strip()
    serve = Child(
        [*SERVE, "--port", "0"],
        env=env,
        cwd=workdir,
        pattern=r"API at (http://[\d.]+:\d+)/api/v1",
        log=workdir / f"serve-{backend.name}.log",
    )
    result: dict[str, Any] = {"store": backend.name}
    try:
        wait_healthy(serve.url + "/healthz")
        pid = serve.proc.pid
        progress(f"{backend.name}: serve at {serve.url}; {args.rate:g}/s for {args.seconds:g}s")
        # CPU over the load and its warm-up, divided by the same span
        cpu0, machine0, own0 = proc_stat(pid)["cpu_s"], machine_cpu(), own_cpu()
        span = time.monotonic()
        load, warm, peaks = asyncio.run(drive_api(serve.url + "/api/v1", token, args, pid))
        span = time.monotonic() - span
        cpu1, machine1, own1 = proc_stat(pid)["cpu_s"], machine_cpu(), own_cpu()
        at_end = backend.count()
        progress(f"{backend.name}: load done; waiting for the runs to finish")
        # every run the store holds was created by this benchmark (warm-up included)
        deadline = time.monotonic() + args.drain_seconds
        counts = at_end
        while time.monotonic() < deadline:
            counts = backend.count()
            if sum(n for s, n in counts.items() if s not in TERMINAL) == 0:
                break
            time.sleep(1.0)
        finished_after = time.monotonic() - load.end
        figures = summarize(load, {"POST": 201, "GET": 200})
        answered = len(load.samples) + WARMUP * 2
        figures["all"]["connections"] = int(peaks.pop("connections", 0))
        result.update(figures)
        result["runs"] = {
            "created_by_load": figures["POST"]["answered_ok"],
            "warmup": warm,
            "in_store": sum(counts.values()),
            "unfinished_when_load_ended": sum(n for s, n in at_end.items() if s not in TERMINAL),
            "statuses": counts,
            "all_finished": sum(n for s, n in counts.items() if s not in TERMINAL) == 0,
            "finished_after_load_s": round(finished_after, 1),
        }
        serve_cpu = cpu1 - cpu0
        busy = machine1["busy"] - machine0["busy"]
        result["cpu"] = {
            "serve_cpu_s": round(serve_cpu, 2),
            "serve_cores_busy": round(serve_cpu / span, 2),
            # every run's own work included: a POST's run is driven in serve too
            "serve_cpu_ms_per_request": round(serve_cpu / max(answered, 1) * 1000, 2),
            "client_cpu_s": round(own1 - own0, 2),
            "machine_busy_s": round(busy, 2),
            "machine_cores_busy": round(busy / span, 2),
            # PostgreSQL's processes on that store, and whatever else shares the machine
            "machine_busy_not_serve_or_client_s": round(busy - serve_cpu - (own1 - own0), 2),
            "serve_peak_threads": int(peaks.get("threads", 0)),
            "serve_peak_rss_mb": round(peaks.get("rss_bytes", 0) / 2**20, 1),
        }
        result["loadavg_after"] = os.getloadavg()
    finally:
        code = serve.stop()
        result["serve_exit_code"] = code
        warnings = [
            line
            for line in serve.log.read_text(errors="replace").splitlines()
            if "WARNING" in line or "ERROR" in line or "Traceback" in line
        ]
        result["serve_log_warnings"] = len(warnings)
        result["serve_log_first_warnings"] = warnings[:5]
    return result


# ---------------------------------------------------------------------------- the floor


async def drive_floor(base: str, path: str, args: argparse.Namespace) -> tuple[Load, int]:
    http = Http(base, "floor")
    try:
        for _ in range(WARMUP):
            await http.request("GET", path)

        async def send(i: int, due: float) -> Sample:
            return (await timed("GET", due, lambda: http.request("GET", path)))[0]

        load = await open_loop(args.rate, args.peer_seconds, args.max_in_flight, send)
        return load, http.opened
    finally:
        await http.close()


#: the floors: (name, how floor.py listens, path)
FLOORS = (
    ("starlette_async", "uvicorn", "/fixed"),
    ("fastapi_sync", "uvicorn", "/api/v1/fixed"),
    ("fastapi_sync_engine_listener", "engine", "/api/v1/fixed"),
)


def run_floor(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = serve_env(workdir, str(workdir / "unused.db"))
    out: dict[str, Any] = {}
    for name, listen, path in FLOORS:
        floor = Child(
            [sys.executable, str(FLOOR), "--listen", listen],
            env=env,
            cwd=workdir,
            pattern=r"floor at (http://[\d.]+:\d+)",
            log=workdir / f"floor-{name}.log",
        )
        try:
            wait_healthy(floor.url + "/fixed")
            progress(f"floor {name}: GET {path} {args.rate:g}/s for {args.peer_seconds:g}s")
            cpu0 = proc_stat(floor.proc.pid)["cpu_s"]
            load, connections = asyncio.run(drive_floor(floor.url, path, args))
            cpu = proc_stat(floor.proc.pid)["cpu_s"] - cpu0
        finally:
            floor.stop()
        figures = summarize(load, {"GET": 200})
        figures["listen"] = listen
        figures["all"]["connections"] = connections
        figures["cpu"] = {
            "server_cpu_ms_per_request": round(cpu / max(len(load.samples), 1) * 1000, 2),
            "server_cores_busy": round(cpu / (load.end - load.began), 2),
        }
        out[name] = figures
    return out


# ---------------------------------------------------------------------------- main


def engine_version() -> str:
    """The commit the engine was measured at, with ``+dirty`` if its tree had changes."""
    repo = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "engine"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 1) if a and b else None


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests a second, in all")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-in-flight", type=int, default=256)
    parser.add_argument(
        "--drain-seconds", type=float, default=180.0, help="at most this long for runs to finish"
    )
    parser.add_argument(
        "--db", help="also on this PostgreSQL database (a fresh schema, dropped afterwards)"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL store")
    parser.add_argument("--peer-seconds", type=float, default=20.0, help="0: no floor")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cores": os.cpu_count(),
        "engine": engine_version(),
        "loadavg_before": os.getloadavg(),
        "rate": args.rate,
        "seconds": args.seconds,
        "mix": "alternately POST /runs and GET /runs/{id} of an earlier run",
        "max_in_flight": args.max_in_flight,
        "stores": {},
    }
    backends: list[Callable[[Path], Backend]] = []
    if not args.no_sqlite:
        backends.append(sqlite_backend)
    if args.db:
        base: str = args.db
        backends.append(lambda _: postgres_backend(base))
    for make in backends:
        with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
            workdir = Path(tmp)
            (workdir / "runbooks").mkdir()
            (workdir / "runbooks" / f"{RUNBOOK_NAME}.yaml").write_text(RUNBOOK)
            backend = make(workdir)
            try:
                report["stores"][backend.name] = run_store(backend, workdir, args)
            except Exception as exc:
                # one store failing still leaves the other's figures to report
                progress(f"{backend.name} failed: {exc}")
                report["stores"][backend.name] = {"error": str(exc)}
            finally:
                backend.cleanup()
    if args.peer_seconds > 0:
        with tempfile.TemporaryDirectory(prefix="bench-api-floor-") as tmp:
            report["floor"] = run_floor(Path(tmp), args)
        report["ratios"] = {}
        for name, store in report["stores"].items():
            if "error" in store:
                continue
            ours = {k: store[k]["latency"].get("p50_ms") for k in ("GET", "POST")}
            report["ratios"][name] = {
                f"{kind.lower()}_p50_vs_{floor}": ratio(ours[kind], f["GET"]["latency"]["p50_ms"])
                for kind in ("GET", "POST")
                for floor, f in report["floor"].items()
            }
    print(json.dumps(report, indent=2))
    ok = all(
        "error" not in s
        and s["all"]["not_sent_in_flight_cap"] == 0
        and not s["GET"]["errors"]
        and not s["POST"]["errors"]
        and s["runs"]["all_finished"]
        for s in report["stores"].values()
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
