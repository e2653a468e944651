"""The fan-out benchmark at fleet scale (``run.py --scale``): ``uptime`` on 1,000 loopback hosts.

    sudo .venv/bin/python bench/ssh_fanout/run.py --scale [N] [--forks 16] [--only PREFIX...]

Hosts are 127.1.x.y (127.1.0.1-127.1.3.250 for 1,000), 15 ``ListenAddress`` per sshd (67 sshd
for 1,000 hosts). One after the other in the same run, each a child process: this engine's
``runbook run`` of a one-step and of a five-step runbook (``ssh.command uptime`` on all hosts,
``forks`` 16), then Ansible ``-m raw -f 100``. Measured for each: wall time; CPU (user +
system, from ``wait4`` on the child); hosts answered; TCP connections the fleet's sshd
accepted during the run (from their logs: one handshake per host per run shows as 1,000 for
five steps); the process's peak RSS (``wait4``'s ``ru_maxrss``, the largest of the process
and the children it waited for) and its peak thread count (``/proc/PID/status``, sampled every
20 ms); and, for the engine, each step's duration from the run's JSON. Between two clients
the fleet's session processes are left to exit, so one client's teardown is not timed as
the next one's work.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from run import Prepared, Setup, ansible, engine_cli, stop_control_masters

from runbook_engine.actions.ssh.limits import plan
from tests.ssh.sshd import Fleet, wide_addresses

#: addresses per sshd: 1,000 hosts on 67 servers
PER_SERVER = 15
#: the engine's target: five steps at most this many times one step
FIVE_STEP_TARGET = 1.5
#: the engine's target for the runbook process's peak RSS
RSS_TARGET_MB = 1024
#: one client's longest run before it is killed
TIMEOUT = 1800.0
_SAMPLE = 0.02


@dataclass
class ScaleRow:
    name: str
    wall: float
    cpu: float
    answered: int
    #: TCP connections the fleet's sshd accepted while this client ran
    connections: int
    peak_rss_mb: float
    peak_threads: int
    exit_code: int
    #: the engine's step durations (s), from its JSON output
    steps: list[float] = field(default_factory=list)


@dataclass
class _Sampled:
    returncode: int
    wall: float
    cpu: float
    maxrss: int  # KiB
    threads: int
    stdout: str
    stderr: str


def main(args: argparse.Namespace) -> None:
    count = int(args.scale)
    work = Path(tempfile.mkdtemp(prefix="ssh-scale-"))
    fleet = Fleet(work / "fleet")
    hosts = wide_addresses(count)
    print(f"starting {count} hosts on {-(-count // PER_SERVER)} sshd ...", flush=True)
    fleet.start(hosts, per_server=PER_SERVER)
    # start() probed every address once; sshd logs those connections a moment later, and
    # they must not be counted as the first client's
    wait_logged(fleet, count)
    setup = Setup(fleet, hosts, work, args.forks, args.venvs)
    setup.hosts_file.write_text("\n".join(hosts) + "\n")
    clients: list[tuple[str, Callable[[Setup], Prepared]]] = [
        ("engine: runbook run, 1 step", lambda s: engine_cli(s, steps=1)),
        ("engine: runbook run, 5 steps", lambda s: engine_cli(s, steps=5)),
        ("ansible -m raw -f 100", lambda s: ansible(s, "raw")),
    ]
    rows: list[ScaleRow] = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        for name, prepare in clients:
            if args.only and not any(name.startswith(p) for p in args.only):
                continue
            argv, env, answered = prepare(setup)
            rows.append(measure(name, argv, env, answered, fleet, work))
            row = rows[-1]
            print(
                f"{name:30} {row.wall:7.2f} s  cpu {row.cpu:6.2f} s  {row.answered} answered  "
                f"{row.connections} connections  peak {row.peak_rss_mb:.0f} MB, "
                f"{row.peak_threads} threads",
                flush=True,
            )
            stop_control_masters(work)
            settle()
    finally:
        fleet.stop()
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "mode": "scale",
        "hosts": count,
        "sshd": -(-count // PER_SERVER),
        "addresses_per_sshd": PER_SERVER,
        "forks": args.forks,
        "cores": os.cpu_count(),
        "nofile": [soft, hard],
        # what a runbook process started with these limits keeps open (actions/ssh/limits.py)
        "connection_cap": plan(None, soft=soft, hard=hard, in_use=8).cap,
        "load_after": os.getloadavg(),
        "ratios": ratios(rows),
        "rows": [asdict(row) for row in rows],
    }
    print()
    print(table(rows, count))
    print()
    print(json.dumps(report, indent=2))


def measure(
    name: str,
    argv: list[str],
    env: dict[str, str],
    answered: Callable[[str], int],
    fleet: Fleet,
    work: Path,
) -> ScaleRow:
    before = fleet.connections()
    done = run_sampled(argv, env, work)
    connections = fleet.connections() - before
    try:
        count = answered(done.stdout)
    except (ValueError, KeyError, json.JSONDecodeError):
        count = 0
    if count == 0 or done.returncode != 0:
        print(f"{name}: exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return ScaleRow(
        name=name,
        wall=round(done.wall, 3),
        cpu=round(done.cpu, 3),
        answered=count,
        connections=connections,
        peak_rss_mb=round(done.maxrss / 1024, 1),
        peak_threads=done.threads,
        exit_code=done.returncode,
        steps=_step_durations(done.stdout) if name.startswith("engine") else [],
    )


def run_sampled(argv: list[str], env: dict[str, str], work: Path) -> _Sampled:
    """Run ``argv`` to its end; CPU and peak RSS from ``wait4``, threads sampled from /proc."""
    out_path, err_path = work / "client.out", work / "client.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group, killed whole on a timeout
        )
    done = threading.Event()
    peak = 0

    def sample() -> None:
        nonlocal peak
        while not done.wait(_SAMPLE):
            peak = max(peak, _threads(proc.pid))

    def kill_on_timeout() -> None:
        if not done.wait(TIMEOUT):
            os.killpg(proc.pid, signal.SIGKILL)

    helpers = [threading.Thread(target=f, daemon=True) for f in (sample, kill_on_timeout)]
    for helper in helpers:
        helper.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    done.set()
    for helper in helpers:
        helper.join()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen.wait
    return _Sampled(
        returncode=proc.returncode,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        maxrss=usage.ru_maxrss,
        threads=peak,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


def _threads(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _step_durations(stdout: str) -> list[float]:
    try:
        steps = json.loads(stdout)["steps"]
    except (ValueError, KeyError):
        return []
    return [round(float(step.get("duration") or 0.0), 2) for step in steps.values()]


def wait_logged(fleet: Fleet, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while fleet.connections() < count and time.monotonic() < deadline:
        time.sleep(0.1)


def settle(timeout: float = 60.0) -> None:
    """Wait until the fleet's per-connection sshd processes have exited."""
    deadline = time.monotonic() + timeout
    while _sessions() and time.monotonic() < deadline:
        time.sleep(0.2)


def _sessions() -> int:
    """sshd's per-connection processes (``sshd: root@notty``, ``sshd: root [priv]``)."""
    found = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if cmdline.read(6) == b"sshd: ":
                    found += 1
        except OSError:
            continue
    return found


def ratios(rows: list[ScaleRow]) -> dict[str, float]:
    by_name = {row.name: row for row in rows}
    one = by_name.get("engine: runbook run, 1 step")
    five = by_name.get("engine: runbook run, 5 steps")
    raw = by_name.get("ansible -m raw -f 100")
    found: dict[str, float] = {}
    if one and five and one.wall:
        found["five_steps_vs_one"] = round(five.wall / one.wall, 2)
    if one and raw and one.wall:
        found["ansible_raw_vs_one_step"] = round(raw.wall / one.wall, 2)
    if five and raw and five.wall:
        found["ansible_raw_vs_five_steps"] = round(raw.wall / five.wall, 2)
    return found


def table(rows: list[ScaleRow], hosts: int) -> str:
    reference = next((r for r in rows if r.name.startswith("engine: runbook run, 1")), None)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"`uptime` on {hosts} loopback hosts ({-(-hosts // PER_SERVER)} sshd), "
        f"{os.cpu_count()} cores, load average after: {load}",
        "",
        "| client | wall (s) | client CPU (s) | hosts answered | sshd connections "
        "| peak RSS (MB) | peak threads | wall vs 1 step |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ratio = f"{row.wall / reference.wall:.2f}x" if reference and reference.wall else "-"
        lines.append(
            f"| {row.name} | {row.wall:.2f} | {row.cpu:.2f} | {row.answered} | "
            f"{row.connections} | {row.peak_rss_mb:.0f} | {row.peak_threads} | {ratio} |"
        )
    found = ratios(rows)
    engine = [r for r in rows if r.name.startswith("engine")]
    lines.append("")
    if "five_steps_vs_one" in found:
        verdict = "met" if found["five_steps_vs_one"] <= FIVE_STEP_TARGET else "missed"
        lines.append(
            f"- five steps vs one: {found['five_steps_vs_one']:.2f}x "
            f"(target at most {FIVE_STEP_TARGET}x: {verdict})"
        )
    if "ansible_raw_vs_one_step" in found:
        lines.append(f"- Ansible -m raw vs one step: {found['ansible_raw_vs_one_step']:.2f}x")
    if engine:
        peak = max(r.peak_rss_mb for r in engine)
        verdict = "met" if peak < RSS_TARGET_MB else "missed"
        lines.append(
            f"- runbook process peak RSS: {peak:.0f} MB (target under {RSS_TARGET_MB} MB: "
            f"{verdict}); peak threads {max(r.peak_threads for r in engine)}"
        )
    for row in engine:
        if row.steps:
            lines.append(f"- {row.name}: steps took {', '.join(f'{s:.2f}' for s in row.steps)} s")
    return "\n".join(lines)
