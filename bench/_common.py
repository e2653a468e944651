"""Helpers the benchmarks share: the installed CLI, venvs for the peers, an SSH fleet's
inventory, and measuring a child process (wall, CPU, peak memory, store files).

A benchmark script imports this module after putting ``bench/`` on ``sys.path``::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from _common import RUNBOOK_CLI, run_measured  # noqa: E402
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.ssh.sshd import Fleet

REPO = Path(__file__).resolve().parents[1]
#: the installed ``runbook`` command of the interpreter running the benchmark
RUNBOOK_CLI = Path(sys.executable).with_name("runbook")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def ensure_venv(path: Path, package: str, module: str) -> Path:
    """A venv at ``path`` holding ``package`` (importable as ``module``), created and installed
    with pip on first use."""
    if not (path / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    has = subprocess.run(
        [str(path / "bin" / "python"), "-c", f"import {module}"], capture_output=True, check=False
    )
    if has.returncode != 0:
        subprocess.run([str(path / "bin" / "pip"), "install", "-q", package], check=True)
    return path


def fleet_inventory(fleet: Fleet, hosts: Iterable[str], path: Path, group: str = "fleet") -> Path:
    """An inventory (the engine's YAML format) that puts ``hosts`` of ``fleet`` in ``group``."""
    path.write_text(
        "all:\n  vars:\n"
        f"    user: root\n    port: {fleet.port}\n"
        f"    key_file: {fleet.client_key}\n    known_hosts: {fleet.known_hosts}\n"
        f"  children:\n    {group}:\n      hosts:\n" + "".join(f"        {a}:\n" for a in hosts)
    )
    return path


def engine_env(work: Path, *, db: Path, inventory: Path | None = None) -> dict[str, str]:
    """The environment of a ``runbook`` process that sees only ``work``: its store ``db``, the
    given inventory, ``HOME`` in ``work`` (no ``~/.ssh`` of the machine's), no agent, no
    runbook folders of the user's, no JSON log lines on stderr."""
    env = dict(os.environ)
    env.update(RUNBOOK_DB=str(db), RUNBOOK_PATH="", HOME=str(work))
    if inventory is not None:
        env["RUNBOOK_INVENTORY"] = str(inventory)
    for name in ("SSH_AUTH_SOCK", "RUNBOOK_LOG_FORMAT", "RUNBOOK_EXECUTOR"):
        env.pop(name, None)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        env.pop(name, None)
    return env


def machine_cpu() -> dict[str, float]:
    """CPU seconds the whole machine has spent busy and idle since boot (``/proc/stat``), to
    tell afterwards how much else was running while a benchmark measured (the sum over
    processes, so also the ones a benchmark does not start, like PostgreSQL or another user's)."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal
    return {"busy": busy / tick, "idle": idle / tick}


def own_cpu() -> float:
    """CPU seconds (user + system) of this process and its waited-for children so far."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def sqlite_files(db: Path) -> dict[str, int]:
    """Sizes in bytes of an SQLite store: the database file, its WAL, and their sum."""

    def size(p: Path) -> int:
        try:
            return p.stat().st_size
        except FileNotFoundError:
            return 0

    main, wal = size(db), size(db.with_name(db.name + "-wal"))
    return {"db": main, "wal": wal, "total": main + wal}


@dataclass
class Measured:
    """A finished child process, as measured from outside."""

    argv: list[str]
    pid: int
    returncode: int
    timed_out: bool
    wall: float  # seconds, start to exit
    user: float  # CPU seconds of the process and the descendants it waited for
    system: float
    maxrss: int  # bytes: the largest peak RSS of the process and its waited-for descendants
    hwm: int  # bytes: the process's own VmHWM, last sampled before it exited (0: not sampled)
    stdout: Path
    stderr: Path
    #: the largest size seen of each watched SQLite store (db + WAL), sampled while it ran
    store_peak: dict[str, int] = field(default_factory=dict)

    @property
    def cpu(self) -> float:
        return self.user + self.system

    def stderr_tail(self, limit: int = 2000) -> str:
        try:
            text = self.stderr.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return text[-limit:]

    def summary(self) -> dict[str, object]:
        return {
            "exit_code": self.returncode,
            "timed_out": self.timed_out,
            "wall_s": round(self.wall, 4),
            "cpu_s": round(self.cpu, 4),
            "cpu_user_s": round(self.user, 4),
            "cpu_sys_s": round(self.system, 4),
            "peak_rss_bytes": max(self.maxrss, self.hwm),
            "vm_hwm_bytes": self.hwm,  # the process's own, sampled
            "ru_maxrss_bytes": self.maxrss,  # wait4: the process or its largest descendant
        }


def _vm_hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return 0


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    out: Path,
    timeout: float,
    watch_stores: Sequence[Path] = (),
    interval: float = 0.05,
) -> Measured:
    """Run ``argv`` to its end (stdout to ``out``, stderr to ``out`` + ``.err``) and measure it.

    CPU time and peak RSS come from ``wait4`` on the child, so they are this child's alone
    (with the descendants it waited for: a shell step's commands), not the sum over every
    child this benchmark ever started. A thread samples the child's VmHWM and the sizes of
    ``watch_stores`` every ``interval`` seconds. After ``timeout`` seconds the child's whole
    process group is killed and ``timed_out`` is set."""
    err = out.with_name(out.name + ".err")
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started = time.monotonic()
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # its own process group, killed whole on a timeout
        )
    done = threading.Event()
    hwm = 0
    peaks = {str(p): 0 for p in watch_stores}
    timed_out = False

    def sample() -> None:
        nonlocal hwm
        while not done.is_set():
            hwm = max(hwm, _vm_hwm(proc.pid))
            for p in watch_stores:
                peaks[str(p)] = max(peaks[str(p)], sqlite_files(p)["total"])
            done.wait(interval)

    def kill_on_timeout() -> None:
        nonlocal timed_out
        if not done.wait(timeout):
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    threads = [threading.Thread(target=f, daemon=True) for f in (sample, kill_on_timeout)]
    for t in threads:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    done.set()
    for t in threads:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen.wait
    for p in watch_stores:  # what the process left behind counts too
        peaks[str(p)] = max(peaks[str(p)], sqlite_files(p)["total"])
    return Measured(
        argv=list(argv),
        pid=proc.pid,
        returncode=proc.returncode,
        timed_out=timed_out,
        wall=wall,
        user=usage.ru_utime,
        system=usage.ru_stime,
        maxrss=usage.ru_maxrss * 1024,  # KiB on Linux
        hwm=hwm,
        stdout=out,
        stderr=err,
        store_peak=peaks,
    )
