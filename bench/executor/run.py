"""Executor benchmark: the cost of a run's steps, of loud steps, of one huge output, and of a
worker, measured through the installed ``runbook`` command as a user runs it.

Scenarios (each can be skipped; one that fails is reported in the JSON, the others go on):

``steps``
    Runbooks of 10, 100, 1,000 and 5,000 ``log`` steps (``--steps``), each run once
    (``--repeat``) by ``runbook run PATH --yes -o json`` on a fresh SQLite store with default
    settings, and Ansible playbooks of as many ``set_fact`` tasks (ansible-core in a venv this
    benchmark makes, connection local, gather_facts false). The cost per added step is the
    difference of the wall times of two lengths divided by the difference of their step
    counts, so start-up (interpreter, imports, store migration) cancels out.
``ssh``
    10 ``ssh.command`` steps (``--ssh-steps``) on 100 loopback sshd hosts (``--ssh-hosts``),
    each host printing 8,000 bytes (``--ssh-output-bytes``) per step, against the same steps
    printing nothing: wall time, client CPU (the ``runbook`` process and its children) and
    store growth (SQLite file + WAL) against the bytes printed. Needs root and ``sshd``.
``big_output``
    One ``shell.command`` step printing 200 MB (``--big-output-mb``): peak RSS of the
    ``runbook`` process, wall time, store growth, and whether the run was taken over by
    another process. ``runbook serve`` runs on the same store meanwhile (``--no-watcher``: not),
    as it would in a deployment, so a run whose heartbeat goes stale is really adopted.
``workers``
    One ``runbook worker`` on PostgreSQL (``--pg``) and a burst of instant runs, then runs
    queued at an even pace: runs per second and enqueue-to-start p50/p99 (bench/workers).

Prints progress and a table on stderr and one JSON document on stdout. Not run in CI.
``--runbook PATH`` measures another install's command; run this script with that install's
Python, so that the workers scenario (which records and queues runs in-process) uses it too.

    .venv/bin/python bench/executor/run.py --quick                     # about a minute
    .venv/bin/python bench/executor/run.py --steps 10,100,1000         # no 5,000 steps
    .venv/bin/python bench/executor/run.py --scenarios ssh,big_output --big-output-mb 50
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]
REPO = BENCH.parent
sys.path.insert(0, str(REPO))  # tests.ssh.sshd: the loopback fleet
sys.path.insert(0, str(BENCH))  # _common, workers.run

from _common import (  # noqa: E402  (bench/, on the path above)
    RUNBOOK_CLI,
    Measured,
    engine_env,
    ensure_venv,
    fleet_inventory,
    machine_cpu,
    own_cpu,
    run_measured,
    sqlite_files,
)

SCENARIOS = ("steps", "ssh", "big_output", "workers")
MB = 1_000_000
#: one line of the output the loud steps print: 99 characters and a newline
LINE = ((string.digits + string.ascii_letters) * 2)[:99]
#: statuses of a run that is still going
GOING = ("pending", "running", "rolling_back")

# the sizes of a full run and of --quick; an option given on the command line wins over both
FULL = {
    "steps": "10,100,1000,5000",
    "ssh_hosts": 100,
    "ssh_steps": 10,
    "ssh_output_bytes": 8000,
    "big_output_mb": 200.0,
    "worker_runs": 100,
    "worker_paced": 40,
    "worker_rate": 2.0,
}
QUICK = {
    "steps": "10,50,100",
    "ssh_hosts": 20,
    "ssh_steps": 10,
    "ssh_output_bytes": 8000,
    "big_output_mb": 10.0,
    "worker_runs": 30,
    "worker_paced": 10,
    "worker_rate": 4.0,
}


@dataclass
class Ctx:
    args: argparse.Namespace
    cli: Path
    work: Path

    def dir(self, *parts: str) -> Path:
        path = self.work.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def target(
    name: str, goal: str, value: float | None, shown: str, met: bool | None
) -> dict[str, Any]:
    """One target next to its figure; ``met`` is None when the figure could not be had."""
    return {"name": name, "goal": goal, "value": value, "shown": shown, "met": met}


def mb(n: float) -> str:
    """Bytes in MB (10^6 bytes), as the targets are given."""
    return f"{n / MB:.1f} MB"


# ------------------------------------------------------------------------------ engine runs


def write_runbook(path: Path, name: str, steps: str, parameters: str = "") -> Path:
    path.write_text(
        f"apiVersion: runbook/v1\nname: {name}\nversion: 1\n{parameters}steps:\n{steps}"
    )
    return path


def init_store(ctx: Ctx, env: dict[str, str], cwd: Path) -> dict[str, int]:
    """Create and migrate the store, so that what a run adds can be told from what the schema
    takes; returns its sizes."""
    from runbook_engine.store import Store

    Store.open(f"sqlite:///{env['RUNBOOK_DB']}").close()
    return sqlite_files(Path(env["RUNBOOK_DB"]))


def run_cli(
    ctx: Ctx, argv: Sequence[str], env: dict[str, str], cwd: Path, name: str, db: Path | None
) -> tuple[Measured, dict[str, Any] | None]:
    """``runbook ARGV``, measured; with its ``-o json`` result when it printed one."""
    measured = run_measured(
        [str(ctx.cli), *argv],
        env=env,
        cwd=cwd,
        out=cwd / f"{name}.out",
        timeout=ctx.args.timeout,
        watch_stores=[db] if db else [],
    )
    try:
        result = json.loads(measured.stdout.read_text(errors="replace"))
    except (json.JSONDecodeError, OSError):
        result = None
    return measured, result if isinstance(result, dict) else None


def failure_note(measured: Measured, result: dict[str, Any] | None) -> str | None:
    if measured.timed_out:
        return f"timed out after {measured.wall:.0f} s (--timeout)"
    if result is None or result.get("status") != "succeeded" or measured.returncode != 0:
        status = (result or {}).get("status")
        return (
            f"exit {measured.returncode}, status {status}, "
            f"message {(result or {}).get('message')!r}; stderr: {measured.stderr_tail(800)}"
        )
    return None


def recorded_events(ctx: Ctx, env: dict[str, str], cwd: Path, run_id: str) -> dict[str, Any]:
    """What the store holds for ``run_id``, read back with ``runbook logs RUN -o json`` (one
    event per line, streamed): events by type, output lines and bytes, and the owners that
    resumed the run."""
    err_path = cwd / f"logs-{run_id}.err"
    with err_path.open("w") as err_file:
        proc = subprocess.Popen(
            [str(ctx.cli), "logs", run_id, "-o", "json"],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=err_file,
            text=True,
        )
    assert proc.stdout is not None
    types: Counter[str] = Counter()
    lines = 0
    size = 0
    resumed: list[str | None] = []
    for raw in proc.stdout:
        try:
            event = json.loads(raw)
        except json.JSONDecodeError:
            continue
        kind = str(event.get("type"))
        types[kind] += 1
        data = event.get("data") or {}
        if kind == "step.output":
            out = data.get("lines") or []
            lines += len(out)
            size += sum(len(str(line).encode()) + 1 for line in out)
        elif kind == "run.resumed":
            resumed.append(data.get("owner"))
    code = proc.wait(timeout=ctx.args.timeout)
    err = err_path.read_text(errors="replace")
    if code != 0:
        raise RuntimeError(f"runbook logs {run_id} failed ({code}): {err[-1500:]}")
    return {
        "events": sum(types.values()),
        "event_types": dict(types),
        "output_lines": lines,
        "output_bytes": size,
        "resumed_by": resumed,
    }


def list_runs(ctx: Ctx, env: dict[str, str], cwd: Path) -> list[dict[str, Any]] | None:
    """``runbook runs -o json`` as the store has them now (None: it gave no JSON)."""
    done = subprocess.run(
        [str(ctx.cli), "runs", "-o", "json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        runs: list[dict[str, Any]] = json.loads(done.stdout)
    except json.JSONDecodeError:
        return None
    return runs


def run_status(ctx: Ctx, env: dict[str, str], cwd: Path, run_id: str) -> str | None:
    runs = list_runs(ctx, env, cwd) or []
    return next((str(r.get("status")) for r in runs if r.get("id") == run_id), None)


def latest_run(ctx: Ctx, env: dict[str, str], cwd: Path) -> str | None:
    runs = list_runs(ctx, env, cwd)
    return str(runs[0]["id"]) if runs else None


# ------------------------------------------------------------------------ a. cost per step


def per_added(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Between each two consecutive lengths: (wall(b) - wall(a)) / (b - a), and the same for
    CPU, from the fastest good run of each length."""
    best: dict[int, dict[str, Any]] = {}
    for run in runs:
        if run.get("error"):
            continue
        n = int(run["steps"])
        if n not in best or run["wall_s"] < best[n]["wall_s"]:
            best[n] = run
    lengths = sorted(best)
    out = []
    for a, b in itertools.pairwise(lengths):
        added = b - a
        out.append(
            {
                "from": a,
                "to": b,
                "wall_ms_per_step": round(
                    1000 * (best[b]["wall_s"] - best[a]["wall_s"]) / added, 3
                ),
                "cpu_ms_per_step": round(1000 * (best[b]["cpu_s"] - best[a]["cpu_s"]) / added, 3),
            }
        )
    return out


def engine_log_run(ctx: Ctx, steps: int, rep: int) -> dict[str, Any]:
    where = ctx.dir("steps", f"engine-{steps}-{rep}")
    body = "".join(
        f'  - {{id: s{i}, action: log, with: {{message: "step {i} of {steps}"}}}}\n'
        for i in range(steps)
    )
    runbook = write_runbook(where / "runbook.yaml", f"exec-log-{steps}", body)
    db = where / "runs.db"
    env = engine_env(where, db=db)
    measured, result = run_cli(
        ctx, ["run", str(runbook), "--yes", "-o", "json"], env, where, "run", db
    )
    succeeded = sum(
        1 for s in ((result or {}).get("steps") or {}).values() if s.get("status") == "succeeded"
    )
    row: dict[str, Any] = {"steps": steps, **measured.summary()}
    row["store_bytes"] = sqlite_files(db)["total"]
    row["steps_succeeded"] = succeeded
    note = failure_note(measured, result)
    if note is None and succeeded != steps:
        note = f"{succeeded} of {steps} steps succeeded"
    if note:
        row["error"] = note
    return row


def ansible_run(ctx: Ctx, venv: Path, tasks: int, rep: int) -> dict[str, Any]:
    where = ctx.dir("steps", f"ansible-{tasks}-{rep}")
    body = "".join(
        f"    - name: fact {i}\n      ansible.builtin.set_fact:\n        fact_{i}: {i}\n"
        for i in range(tasks)
    )
    playbook = where / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n" + body
    )
    env = dict(os.environ)
    env.update(
        HOME=str(where),
        ANSIBLE_HOME=str(where / "ansible-home"),
        ANSIBLE_LOCAL_TEMP=str(where / "ansible-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="False",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
        ANSIBLE_RETRY_FILES_ENABLED="False",
    )
    argv = [str(venv / "bin" / "ansible-playbook"), "-i", "localhost,", str(playbook)]
    measured = run_measured(
        argv, env=env, cwd=where, out=where / "play.out", timeout=ctx.args.timeout
    )
    row: dict[str, Any] = {"steps": tasks, **measured.summary()}
    recap = measured.stdout.read_text(errors="replace")
    if measured.timed_out or measured.returncode != 0 or f"ok={tasks} " not in recap:
        row["error"] = (
            f"exit {measured.returncode}, timed out {measured.timed_out}: "
            f"{recap[-600:]} {measured.stderr_tail(600)}"
        )
    return row


def scenario_steps(ctx: Ctx, out: dict[str, Any]) -> None:
    args = ctx.args
    lengths = parse_sizes(args.steps)
    ansible_lengths = parse_sizes(args.ansible_steps) if args.ansible_steps else lengths
    engine: list[dict[str, Any]] = []
    out["engine"] = {"runs": engine}
    for n in lengths:
        for rep in range(args.repeat):
            engine.append(engine_log_run(ctx, n, rep))
            row = engine[-1]
            say(
                f"  engine  {n:6} log steps: {row['wall_s']:8.2f} s wall, {row['cpu_s']:8.2f} s "
                f"cpu{'  ERROR ' + row['error'][:200] if row.get('error') else ''}"
            )
    out["engine"]["per_added_step"] = engine_slopes = per_added(engine)

    ansible_slopes: list[dict[str, Any]] = []
    if args.no_ansible:
        out["ansible"] = {"skipped": "--no-ansible"}
    else:
        try:
            venv = ensure_venv(args.venvs / "ansible", "ansible-core", "ansible")
            version = subprocess.run(
                [str(venv / "bin" / "ansible"), "--version"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.splitlines()[:1]
            runs: list[dict[str, Any]] = []
            out["ansible"] = {"version": version[0] if version else None, "runs": runs}
            for n in ansible_lengths:
                for rep in range(args.repeat):
                    runs.append(ansible_run(ctx, venv, n, rep))
                    row = runs[-1]
                    say(
                        f"  ansible {n:6} set_fact:  {row['wall_s']:8.2f} s wall, "
                        f"{row['cpu_s']:8.2f} s cpu"
                        f"{'  ERROR ' + row['error'][:200] if row.get('error') else ''}"
                    )
            out["ansible"]["per_added_step"] = ansible_slopes = per_added(runs)
        except (Exception, SystemExit) as e:  # Ansible's part fails soft on its own
            out["ansible"] = {"error": f"{type(e).__name__}: {e}"}

    targets = []
    per_step = [s["wall_ms_per_step"] for s in engine_slopes]
    if per_step:
        worst = max(per_step)
        targets.append(
            target(
                "engine cost per added step, every interval",
                "< 1 ms",
                worst,
                f"max {worst:.2f} ms",
                worst < 1.0,
            )
        )
    if len(per_step) >= 2 and per_step[0] > 0:
        flat = per_step[-1] / per_step[0]
        targets.append(
            target(
                "flat: last interval / first interval",
                "<= 1.5x",
                flat,
                f"{flat:.2f}x",
                flat <= 1.5,
            )
        )
    else:
        targets.append(
            target("flat: last interval / first interval", "<= 1.5x", None, "needs 3 lengths", None)
        )
    ratios = []
    by_interval = {(s["from"], s["to"]): s for s in ansible_slopes}
    for s in engine_slopes:
        peer = by_interval.get((s["from"], s["to"]))
        if peer and s["wall_ms_per_step"] > 0:
            ratios.append(
                {
                    "from": s["from"],
                    "to": s["to"],
                    "ansible_over_engine": round(
                        peer["wall_ms_per_step"] / s["wall_ms_per_step"], 3
                    ),
                }
            )
    out["ansible_over_engine"] = ratios
    if ratios:
        least = min(r["ansible_over_engine"] for r in ratios)
        targets.append(
            target(
                "Ansible per-task cost / engine per-step cost, every common interval",
                ">= 20x",
                least,
                f"min {least:.2f}x",
                least >= 20,
            )
        )
    else:
        targets.append(
            target("Ansible per-task / engine per-step", ">= 20x", None, "no common interval", None)
        )
    out["targets"] = targets


# ------------------------------------------------------------------------ b. loud SSH steps


def scenario_ssh(ctx: Ctx, out: dict[str, Any]) -> None:
    args = ctx.args
    if os.geteuid() != 0:
        raise RuntimeError("needs root: the loopback fleet's sshd log in as root")
    from tests.ssh.sshd import Fleet, addresses

    where = ctx.dir("ssh")
    fleet = Fleet(where / "fleet")
    hosts = addresses(args.ssh_hosts)
    fleet.start(hosts)
    try:
        inventory = fleet_inventory(fleet, hosts, where / "inventory.yaml")
        loud = f"yes {LINE} | head -c {args.ssh_output_bytes}"
        printed = args.ssh_steps * args.ssh_hosts * args.ssh_output_bytes
        out.update(
            hosts=args.ssh_hosts,
            steps=args.ssh_steps,
            bytes_per_host_per_step=args.ssh_output_bytes,
            output_bytes=printed,
            forks=args.forks,
        )
        for variant, command in (("quiet", "true"), ("loud", loud)):
            out[variant] = ssh_run(ctx, inventory, variant, command)
            row = out[variant]
            say(
                f"  ssh {variant:5}: {row['wall_s']:7.2f} s wall, {row['cpu_s']:7.2f} s cpu, "
                f"store +{mb(row['store_growth_bytes'])}"
                f"{'  ERROR ' + row['error'][:300] if row.get('error') else ''}"
            )
    finally:
        fleet.stop()

    quiet, loud_row = out["quiet"], out["loud"]
    targets = []
    if quiet["wall_s"] > 0:
        ratio = loud_row["wall_s"] / quiet["wall_s"]
        out["wall_ratio_loud_over_quiet"] = round(ratio, 3)
        out["cpu_ratio_loud_over_quiet"] = (
            round(loud_row["cpu_s"] / quiet["cpu_s"], 3) if quiet["cpu_s"] else None
        )
        targets.append(
            target("wall: printing / printing nothing", "<= 2x", ratio, f"{ratio:.2f}x", ratio <= 2)
        )
    growth = max(loud_row["store_growth_bytes"], loud_row["store_peak_growth_bytes"])
    per_byte = growth / out["output_bytes"] if out["output_bytes"] else 0.0
    out["store_growth_over_output"] = round(per_byte, 3)
    targets.append(
        target(
            "store growth (db+WAL, peak) / bytes printed",
            "<= 2.5x",
            per_byte,
            f"{per_byte:.2f}x ({mb(growth)} for {mb(out['output_bytes'])})",
            per_byte <= 2.5,
        )
    )
    failed = [v for v in ("quiet", "loud") if out[v].get("error")]
    if failed:
        targets.append(target("every host answered every step", "all", None, "no", False))
    out["targets"] = targets


def ssh_run(ctx: Ctx, inventory: Path, variant: str, command: str) -> dict[str, Any]:
    args = ctx.args
    where = ctx.dir("ssh", variant)
    body = "".join(
        f"""  - id: {variant}-{i}
    action: ssh.command
    with:
      {{hosts: fleet, command: {json.dumps(command)}, forks: {args.forks}, max_failures: "100%"}}
    outputs: {{answered: "{{{{ result.ok | length }}}}"}}
"""
        for i in range(1, args.ssh_steps + 1)
    )
    runbook = write_runbook(where / "runbook.yaml", f"exec-ssh-{variant}", body)
    db = where / "runs.db"
    env = engine_env(where, db=db, inventory=inventory)
    before = init_store(ctx, env, where)
    measured, result = run_cli(
        ctx, ["run", str(runbook), "--yes", "-o", "json"], env, where, "run", db
    )
    after = sqlite_files(db)
    row: dict[str, Any] = {"command": command, **measured.summary()}
    row.update(
        store_before=before,
        store_after=after,
        store_growth_bytes=after["total"] - before["total"],
        store_peak_growth_bytes=measured.store_peak.get(str(db), 0) - before["total"],
    )
    answered = [
        int((s.get("outputs") or {}).get("answered", 0))
        for s in ((result or {}).get("steps") or {}).values()
    ]
    row["answered_min"] = min(answered) if answered else 0
    note = failure_note(measured, result)
    if note is None and (len(answered) != args.ssh_steps or row["answered_min"] != args.ssh_hosts):
        note = f"hosts answered per step: {answered}"
    if note:
        row["error"] = note
    if result and result.get("run_id") and variant == "loud":
        row["recorded"] = recorded_events(ctx, env, where, str(result["run_id"]))
    return row


# ------------------------------------------------------------------------- c. huge output


def start_watcher(ctx: Ctx, env: dict[str, str], where: Path) -> subprocess.Popen[str]:
    """``runbook serve`` on the same store: it adopts any run whose engine stops heartbeating."""
    log = (where / "serve.err").open("w")
    proc = subprocess.Popen(
        [str(ctx.cli), "serve", "--port", "0", "--grace", "5"],
        env=env,
        cwd=where,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    log.close()
    deadline = time.monotonic() + 60
    while "healthz" not in (where / "serve.err").read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"runbook serve did not start: {(where / 'serve.err').read_text()}")
        time.sleep(0.1)
    return proc


def stop_watcher(proc: subprocess.Popen[str]) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def scenario_big_output(ctx: Ctx, out: dict[str, Any]) -> None:
    args = ctx.args
    where = ctx.dir("big_output")
    size = int(args.big_output_mb * MB)
    command = f"yes {LINE} | head -c {size}"
    body = f"""  - id: big
    action: shell.command
    with:
      command: {json.dumps(command)}
      timeout: {int(args.timeout)}
"""
    runbook = write_runbook(where / "runbook.yaml", "exec-big-output", body)
    db = where / "runs.db"
    env = engine_env(where, db=db)
    before = init_store(ctx, env, where)
    out.update(output_bytes=size, command=command, watcher=not args.no_watcher)
    watcher = None if args.no_watcher else start_watcher(ctx, env, where)
    try:
        measured, result = run_cli(
            ctx, ["run", str(runbook), "--yes", "-o", "json"], env, where, "run", db
        )
    finally:
        if watcher is not None:
            # the watcher stays until the run is settled: a run it adopted, it finishes
            if result_run := latest_run(ctx, env, where):
                deadline = time.monotonic() + 120
                while run_status(ctx, env, where, result_run) in GOING:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(1)
            out["watcher_exit"] = stop_watcher(watcher)
            out["watcher_log_tail"] = (where / "serve.err").read_text(errors="replace")[-1500:]
    after = sqlite_files(db)
    out.update(measured.summary())
    out.update(
        cli_owner=f"{socket.gethostname()}:{measured.pid}",
        stdout_bytes=measured.stdout.stat().st_size,
        store_before=before,
        store_after=after,
        store_growth_bytes=after["total"] - before["total"],
        store_peak_growth_bytes=measured.store_peak.get(str(db), 0) - before["total"],
    )
    say(
        f"  big output {mb(size)}: {measured.wall:.1f} s wall, {measured.cpu:.1f} s cpu, "
        f"peak RSS {mb(out['peak_rss_bytes'])}, store +{mb(out['store_peak_growth_bytes'])}"
    )
    run_id = (
        str(result["run_id"]) if result and result.get("run_id") else latest_run(ctx, env, where)
    )
    out["run_id"] = run_id
    note = failure_note(measured, result)
    if note:
        out["run_error"] = note
    verdict: bool | None = None  # no takeover and the run succeeded
    shown = "unknown: no run id"
    if run_id:
        out["final_status"] = run_status(ctx, env, where, run_id)
        recorded = recorded_events(ctx, env, where, run_id)
        out["recorded"] = recorded
        out["recorded_all_output"] = recorded["output_bytes"] == size
        strangers = [o for o in recorded["resumed_by"] if o != out["cli_owner"]]
        out["resumed_by_others"] = strangers
        out["taken_over"] = bool(strangers) or "taken over" in measured.stderr_tail(20_000)
        out["succeeded"] = out["final_status"] == "succeeded" and measured.returncode == 0
        verdict = not out["taken_over"] and out["succeeded"]
        if out["taken_over"]:
            shown = f"TAKEN OVER (resumed by {', '.join(map(str, strangers)) or '?'})"
        elif not out["succeeded"]:
            shown = (
                f"not taken over, but the run is {out['final_status']} (exit {measured.returncode})"
            )
        else:
            shown = "none, run succeeded"
    rss = out["peak_rss_bytes"]
    growth = max(out["store_growth_bytes"], out["store_peak_growth_bytes"])
    out["targets"] = [
        target("peak RSS of the runbook process", "< 300 MB", rss, mb(rss), rss < 300 * MB),
        target("store growth (db+WAL, peak)", "< 64 MB", growth, mb(growth), growth < 64 * MB),
        target("no takeover, run succeeded", "none", None, shown, verdict),
    ]


# ----------------------------------------------------------------------------- d. workers


def scenario_workers(ctx: Ctx, out: dict[str, Any]) -> None:
    args = ctx.args
    import workers.run as workers  # bench/workers: its Setup and measure, unchanged

    workers.WORKER = [str(ctx.cli), "worker"]
    where = ctx.dir("workers")
    setup = workers.Setup(args.pg, 1, args.worker_concurrency, 0.0, where)
    try:
        figures = workers.measure(setup, args.worker_runs, args.worker_paced, args.worker_rate)
    finally:
        setup.close()
    out.update(workers=1, concurrency=args.worker_concurrency, **figures)
    say(
        f"  worker: {figures['runs_per_second']} runs/s, enqueue-to-start p50 "
        f"{figures['latency_p50_ms']} ms, p99 {figures['latency_p99_ms']} ms"
    )
    rate = float(figures["runs_per_second"])
    out["targets"] = [
        target("runs per second, burst, one worker", ">= 50", rate, f"{rate:.1f}", rate >= 50),
        target(
            "enqueue-to-start p50 / p99 (paced)",
            "(reported)",
            figures["latency_p99_ms"],
            f"{figures['latency_p50_ms']} / {figures['latency_p99_ms']} ms",
            None,
        ),
    ]


# ------------------------------------------------------------------------------- the table


def table(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        f"executor benchmark, {doc['started']}, {m['cpus']} cores, load before "
        f"{'/'.join(f'{x:.1f}' for x in m['load_before'])}, after "
        f"{'/'.join(f'{x:.1f}' for x in m['load_after'])}",
        f"runbook: {doc['runbook']['cli']} ({doc['runbook']['version']})",
    ]
    s = doc["scenarios"]
    for name in SCENARIOS:
        if name not in s:
            continue
        r = s[name]
        lines.append("")
        lines.append(f"## {name}")
        if r.get("skipped"):
            lines.append(f"skipped: {r['skipped']}")
            continue
        if r.get("error"):
            lines.append(f"ERROR: {r['error']}")
        if mc := r.get("machine_cpu"):
            lines.append(
                f"({r['elapsed_s']} s; machine CPU busy {mc['busy_s']} s, of which this "
                f"benchmark's processes {mc['bench_s']} s; load after "
                f"{'/'.join(f'{x:.1f}' for x in r['load_after'])})"
            )
        lines.extend(TABLES[name](r))
        for t in r.get("targets", []):
            verdict = {True: "met", False: "MISSED", None: "-"}[t["met"]]
            lines.append(f"  target {t['name']}: {t['goal']:>9}  measured {t['shown']}  {verdict}")
    return "\n".join(lines)


def steps_table(r: dict[str, Any]) -> list[str]:
    engine = (r.get("engine") or {}).get("runs", [])
    ansible = (r.get("ansible") or {}).get("runs", [])
    rows = [
        "| steps | engine wall s | engine CPU s | Ansible wall s | Ansible CPU s |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n in sorted({x["steps"] for x in engine + ansible}):
        e = min((x for x in engine if x["steps"] == n), key=lambda x: x["wall_s"], default=None)
        a = min((x for x in ansible if x["steps"] == n), key=lambda x: x["wall_s"], default=None)

        def cell(x: dict[str, Any] | None, key: str) -> str:
            if x is None:
                return "-"
            return f"{x[key]:.2f}" + (" (error)" if x.get("error") else "")

        rows.append(
            f"| {n} | {cell(e, 'wall_s')} | {cell(e, 'cpu_s')} | {cell(a, 'wall_s')} | "
            f"{cell(a, 'cpu_s')} |"
        )
    rows += [
        "",
        "| added steps | engine ms/step (CPU) | Ansible ms/task (CPU) | Ansible / engine |",
        "|---|---:|---:|---:|",
    ]
    peer = {(x["from"], x["to"]): x for x in (r.get("ansible") or {}).get("per_added_step", [])}
    for x in (r.get("engine") or {}).get("per_added_step", []):
        p = peer.get((x["from"], x["to"]))
        ratio = (
            f"{p['wall_ms_per_step'] / x['wall_ms_per_step']:.2f}x"
            if p and x["wall_ms_per_step"] > 0
            else "-"
        )
        pa = f"{p['wall_ms_per_step']:.2f} ({p['cpu_ms_per_step']:.2f})" if p else "-"
        rows.append(
            f"| {x['from']} → {x['to']} | {x['wall_ms_per_step']:.2f} ({x['cpu_ms_per_step']:.2f}) "
            f"| {pa} | {ratio} |"
        )
    if (r.get("ansible") or {}).get("error"):
        rows.append(f"Ansible: {r['ansible']['error']}")
    return rows


def ssh_table(r: dict[str, Any]) -> list[str]:
    rows = [
        f"{r.get('steps')} ssh.command steps x {r.get('hosts')} hosts, "
        f"{r.get('bytes_per_host_per_step')} bytes per host per step "
        f"({mb(r.get('output_bytes', 0))} in all)",
        "| steps print | wall s | client CPU s | store growth (peak) | peak RSS |",
        "|---|---:|---:|---:|---:|",
    ]
    for v in ("quiet", "loud"):
        x = r.get(v)
        if not x:
            continue
        rows.append(
            f"| {'nothing' if v == 'quiet' else 'output'} | {x['wall_s']:.2f} | {x['cpu_s']:.2f} | "
            f"{mb(x['store_growth_bytes'])} ({mb(x['store_peak_growth_bytes'])}) | "
            f"{mb(x['peak_rss_bytes'])} |"
            + (f" error: {x['error'][:200]}" if x.get("error") else "")
        )
    if "wall_ratio_loud_over_quiet" in r:
        rows.append(
            f"ratio printing / nothing: wall {r['wall_ratio_loud_over_quiet']:.2f}x, "
            f"CPU {r.get('cpu_ratio_loud_over_quiet')}x"
        )
    return rows


def big_output_table(r: dict[str, Any]) -> list[str]:
    if "wall_s" not in r:
        return []
    rec = r.get("recorded") or {}
    return [
        f"one shell.command step printing {mb(r['output_bytes'])}"
        + (", runbook serve watching the store" if r.get("watcher") else ""),
        f"wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, peak RSS {mb(r['peak_rss_bytes'])}, "
        f"store growth {mb(r['store_growth_bytes'])} (peak {mb(r['store_peak_growth_bytes'])}), "
        f"final status {r.get('final_status')}, resumed by others: {r.get('resumed_by_others')}",
        f"recorded: {rec.get('events')} events, {rec.get('output_lines')} output lines, "
        f"{mb(rec.get('output_bytes', 0))}"
        + (f"; run error: {r['run_error'][:300]}" if r.get("run_error") else ""),
    ]


def workers_table(r: dict[str, Any]) -> list[str]:
    if "runs_per_second" not in r:
        return []
    return [
        f"1 worker x {r['concurrency']}: burst of {r['burst_runs']} runs {r['runs_per_second']} "
        f"runs/s; {r['paced_runs']} runs at {r['paced_rate']}/s: enqueue-to-start p50 "
        f"{r['latency_p50_ms']} ms, p99 {r['latency_p99_ms']} ms, max {r['latency_max_ms']} ms"
    ]


TABLES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "steps": steps_table,
    "ssh": ssh_table,
    "big_output": big_output_table,
    "workers": workers_table,
}
RUNNERS: dict[str, Callable[[Ctx, dict[str, Any]], None]] = {
    "steps": scenario_steps,
    "ssh": scenario_ssh,
    "big_output": scenario_big_output,
    "workers": scenario_workers,
}


# ------------------------------------------------------------------------------------ main


def parse_sizes(text: str) -> list[int]:
    sizes = sorted({int(x) for x in text.split(",") if x.strip()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError(f"bad sizes {text!r}: positive integers, comma-separated")
    return sizes


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="small sizes (a few minutes in all)")
    p.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="comma-separated, of: " + ", ".join(SCENARIOS),
    )
    p.add_argument("--skip", default="", help="comma-separated scenarios to leave out")
    p.add_argument(
        "--runbook",
        type=Path,
        default=RUNBOOK_CLI,
        help="the runbook command (default: %(default)s)",
    )
    p.add_argument(
        "--venvs", type=Path, default=Path("/tmp/bench-venvs"), help="where the Ansible venv goes"
    )
    p.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds one measured process may take"
    )
    p.add_argument("--keep", action="store_true", help="keep the work directory (stores, outputs)")
    a = p.add_argument_group("steps")
    a.add_argument(
        "--steps", help=f"runbook lengths (default {FULL['steps']}; --quick {QUICK['steps']})"
    )
    a.add_argument("--ansible-steps", help="playbook lengths (default: --steps)")
    a.add_argument("--repeat", type=int, default=1, help="runs of each length; the fastest counts")
    a.add_argument("--no-ansible", action="store_true")
    b = p.add_argument_group("ssh")
    b.add_argument("--ssh-hosts", type=int)
    b.add_argument("--ssh-steps", type=int)
    b.add_argument("--ssh-output-bytes", type=int, help="bytes each host prints per step")
    b.add_argument("--forks", type=int, default=16)
    c = p.add_argument_group("big_output")
    c.add_argument("--big-output-mb", type=float, help="MB (10^6 bytes) the step prints")
    c.add_argument("--no-watcher", action="store_true", help="no runbook serve on the store")
    d = p.add_argument_group("workers")
    d.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    d.add_argument("--worker-concurrency", type=int, default=4)
    d.add_argument("--worker-runs", type=int, help="runs in the burst")
    d.add_argument("--worker-paced", type=int, help="runs queued at an even pace for latency")
    d.add_argument("--worker-rate", type=float, help="paced runs per second")
    args = p.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    for key, value in sizes.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    parse_sizes(args.steps)
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    skipped = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = (set(chosen) | skipped) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    args.chosen = [s for s in SCENARIOS if s in chosen and s not in skipped]
    return args


def cli_version(cli: Path) -> dict[str, Any]:
    info: dict[str, Any] = {"cli": str(cli)}
    try:
        info["version"] = subprocess.run(
            [str(cli), "--version"], capture_output=True, text=True, timeout=60, check=False
        ).stdout.strip()
        shebang = cli.read_text(errors="replace").splitlines()[0]
        python = shebang.removeprefix("#!").strip()
        info["package"] = subprocess.run(
            [python, "-c", "import runbook_engine; print(runbook_engine.__file__)"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout.strip()
    except (OSError, IndexError, subprocess.TimeoutExpired) as e:
        info["version"] = info.get("version") or f"unknown ({e})"
    return info


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-executor-"))
    ctx = Ctx(args, args.runbook, work)
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    doc: dict[str, Any] = {
        "bench": "executor",
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": list(os.getloadavg()),
        },
        "bench_repo_commit": commit or None,  # of this script; the engine is --runbook's
        "runbook": cli_version(args.runbook),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "scenarios": {},
    }
    for name in SCENARIOS:
        if name not in args.chosen:
            doc["scenarios"][name] = {"skipped": "not chosen (--scenarios / --skip)"}
            continue
        say(f"{name} ...")
        out: dict[str, Any] = {"load_before": list(os.getloadavg())}
        doc["scenarios"][name] = out
        started = time.monotonic()
        cpu_before, own_before = machine_cpu(), own_cpu()
        try:
            RUNNERS[name](ctx, out)
            out.setdefault("ok", not out.get("error"))
        except (Exception, SystemExit) as e:  # a scenario fails soft: the others go on
            out["ok"] = False
            out["error"] = f"{type(e).__name__}: {e}"
            out["traceback"] = traceback.format_exc(limit=6)
            say(f"  {name} failed: {out['error']}")
        out["elapsed_s"] = elapsed = round(time.monotonic() - started, 1)
        out["load_after"] = list(os.getloadavg())
        # how busy the machine was meanwhile, and how much of that was this benchmark and the
        # processes it waited for (the rest: PostgreSQL, and whatever else runs on the machine)
        busy = machine_cpu()["busy"] - cpu_before["busy"]
        ours = own_cpu() - own_before
        out["machine_cpu"] = {
            "busy_s": round(busy, 1),
            "bench_s": round(ours, 1),
            "busy_fraction": round(busy / (elapsed * (os.cpu_count() or 1)), 3)
            if elapsed
            else None,
        }
    doc["machine"]["load_after"] = list(os.getloadavg())
    if args.keep:
        doc["work"] = str(work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    say("")
    say(table(doc))
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
