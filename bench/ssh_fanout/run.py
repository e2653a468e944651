"""Fan-out benchmark: ``uptime`` on 100 loopback hosts, this engine against its peers.

    sudo .venv/bin/python bench/ssh_fanout/run.py [--hosts 100] [--forks 100]

Starts 7 ``sshd`` (at most 16 addresses each) on 127.0.1.1-100, then runs, one after the
other in the same run: this engine through ``runbook run`` (a one-step and a five-step
runbook) and through the action called directly; Ansible ``-m raw`` and ``-m command``
(forks=100, pipelining on); Fabric's ThreadingGroup; parallel OpenSSH clients (``xargs -P``,
ControlMaster off); and a bare paramiko pool of 16 threads. For each: wall time, client CPU
(user+system of the child processes, from ``getrusage``), how many hosts answered, and the
ratio of its wall time to this engine's.

``--scale [N]`` is the fleet-scale mode instead (``scale.py``): N hosts (default 1,000) on
127.1.x.y, 15 addresses per sshd; one step against five steps of ``runbook run``, and Ansible
``-m raw -f 100``, with the runbook process's peak RSS and threads.

Ansible and Fabric are not project dependencies: they are installed into venvs under
``/tmp/bench-venvs`` (``--venvs``) on first use. Not run in CI; results go in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _common import RUNBOOK_CLI, ensure_venv, fleet_inventory  # noqa: E402  (the paths above)
from _common import engine_env as isolated_env  # noqa: E402

from tests.ssh.sshd import Fleet, addresses  # noqa: E402

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


#: a client's command line, environment, and how to count the hosts that answered
Prepared = tuple[list[str], dict[str, str], Callable[[str], int]]


@dataclass
class Row:
    name: str
    wall: float
    cpu: float
    answered: int


@dataclass
class Setup:
    fleet: Fleet
    hosts: list[str]
    work: Path
    forks: int
    venvs: Path

    @property
    def hosts_file(self) -> Path:
        return self.work / "hosts.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--forks", type=int, default=16, help="this engine's forks (default 16)")
    parser.add_argument("--venvs", type=Path, default=Path("/tmp/bench-venvs"))
    parser.add_argument("--only", nargs="*", help="run only these clients (by name prefix)")
    parser.add_argument(
        "--scale",
        type=int,
        nargs="?",
        const=1000,
        metavar="N",
        help="fleet scale instead: N hosts (default 1000), 1 vs 5 steps, ansible -m raw",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the fleet's sshd log in as root")
    if args.scale:
        from scale import main as scale_main  # imports this module: loaded only when asked

        scale_main(args)
        return
    work = Path(tempfile.mkdtemp(prefix="ssh-fanout-"))
    fleet = Fleet(work / "fleet")
    hosts = addresses(args.hosts)
    fleet.start(hosts)
    setup = Setup(fleet, hosts, work, args.forks, args.venvs)
    setup.hosts_file.write_text("\n".join(hosts) + "\n")
    clients: list[tuple[str, Callable[[Setup], Prepared]]] = [
        ("engine: runbook run, 1 step", lambda s: engine_cli(s, steps=1)),
        ("engine: ssh.command action", engine_action),
        ("engine: ssh.command action, forks=100", lambda s: engine_action(s, forks=100)),
        ("engine: runbook run, 5 steps", lambda s: engine_cli(s, steps=5)),
        ("ansible -m raw", lambda s: ansible(s, "raw")),
        ("ansible -m command", lambda s: ansible(s, "command")),
        ("fabric ThreadingGroup", fabric),
        ("openssh: ssh x100 (xargs -P)", openssh),
        ("paramiko: bare pool of 16", bare_paramiko),
    ]
    rows: list[Row] = []
    try:
        for name, prepare in clients:
            if args.only and not any(name.startswith(p) for p in args.only):
                continue
            argv, env, answered = prepare(setup)
            rows.append(measure(name, argv, env, answered))
            print(
                f"{name:32} {rows[-1].wall:7.2f} s  cpu {rows[-1].cpu:6.2f} s  "
                f"{rows[-1].answered} answered",
                flush=True,
            )
            stop_control_masters(work)
    finally:
        fleet.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(rows, args.hosts))
    print()
    print(
        json.dumps(
            {
                "hosts": args.hosts,
                "forks": args.forks,
                "load": os.getloadavg(),
                "rows": [row.__dict__ for row in rows],
            },
            indent=2,
        )
    )


def measure(name: str, argv: list[str], env: dict[str, str], answered: Callable[[str], int]) -> Row:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    try:
        count = answered(done.stdout)
    except (ValueError, KeyError, json.JSONDecodeError):
        count = 0
    if count == 0:
        print(f"{name}: exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return Row(name, wall, cpu, count)


def table(rows: list[Row], hosts: int) -> str:
    reference = next((r for r in rows if r.name.startswith("engine: runbook run, 1")), rows[0])
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"`uptime` on {hosts} loopback hosts, {os.cpu_count()} cores, load average after: {load}",
        "",
        "| client | wall (s) | client CPU (s) | hosts answered | wall vs engine (runbook run) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        ratio = row.wall / reference.wall if reference.wall else 0.0
        lines.append(
            f"| {row.name} | {row.wall:.2f} | {row.cpu:.2f} | {row.answered} | {ratio:.2f}x |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- clients


def engine_env(setup: Setup) -> dict[str, str]:
    inventory = fleet_inventory(setup.fleet, setup.hosts, setup.work / "inventory.yaml")
    return isolated_env(setup.work, db=setup.work / "runs.db", inventory=inventory)


def engine_cli(setup: Setup, *, steps: int) -> Prepared:
    body = "".join(
        f"""  - id: uptime-{i}
    action: ssh.command
    with: {{hosts: fleet, command: uptime, forks: {setup.forks}, max_failures: "100%"}}
    outputs: {{answered: "{{{{ result.ok | length }}}}"}}
"""
        for i in range(1, steps + 1)
    )
    runbook = setup.work / f"fanout-{steps}.yaml"
    runbook.write_text(f"apiVersion: runbook/v1\nname: fanout-{steps}\nversion: 1\nsteps:\n{body}")

    def answered(stdout: str) -> int:
        data = json.loads(stdout)
        return min(int(s["outputs"]["answered"]) for s in data["steps"].values())

    return (
        [*runbook_command(setup), "run", str(runbook), "--yes", "-o", "json"],
        engine_env(setup),
        answered,
    )


def runbook_command(setup: Setup) -> list[str]:
    """The installed ``runbook`` command (the SSH actions are built in)."""
    del setup
    return [str(RUNBOOK_CLI)]


def engine_action(setup: Setup, forks: int | None = None) -> Prepared:
    argv = [
        PYTHON,
        str(HERE / "drivers.py"),
        "action",
        str(setup.hosts_file),
        str(forks or setup.forks),
    ]
    return argv, engine_env(setup), lambda out: int(out.split()[-1])


def ansible(setup: Setup, module: str) -> Prepared:
    venv = ensure_venv(setup.venvs / "ansible", "ansible-core", "ansible")
    inventory = setup.work / "ansible.ini"
    inventory.write_text(
        "[fleet]\n" + "\n".join(setup.hosts) + "\n\n[fleet:vars]\n"
        f"ansible_port={setup.fleet.port}\nansible_user=root\n"
        f"ansible_ssh_private_key_file={setup.fleet.client_key}\n"
        f"ansible_ssh_common_args='-o UserKnownHostsFile={setup.fleet.known_hosts}'\n"
        "ansible_python_interpreter=/usr/bin/python3\n"
    )
    control = setup.work / "ansible-cp"
    control.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(
        ANSIBLE_PIPELINING="True",
        ANSIBLE_FORKS="100",
        ANSIBLE_HOME=str(setup.work / "ansible-home"),
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(control),
        ANSIBLE_LOCAL_TEMP=str(setup.work / "ansible-tmp"),
        ANSIBLE_HOST_KEY_CHECKING="True",
    )
    argv = [
        str(venv / "bin" / "ansible"),
        "fleet",
        "-i",
        str(inventory),
        "-f",
        "100",
        "-m",
        module,
        "-a",
        "uptime",
    ]
    return argv, env, lambda out: out.count("load average")


def fabric(setup: Setup) -> Prepared:
    venv = ensure_venv(setup.venvs / "fabric", "fabric", "fabric")
    fleet = setup.fleet
    argv = [
        str(venv / "bin" / "python"),
        str(HERE / "drivers.py"),
        "fabric",
        str(setup.hosts_file),
        str(fleet.port),
        str(fleet.client_key),
        str(fleet.known_hosts),
    ]
    return argv, dict(os.environ), lambda out: int(out.split()[-1])


def openssh(setup: Setup) -> Prepared:
    fleet = setup.fleet
    ssh = (
        f"ssh -o ControlMaster=no -o BatchMode=yes -o StrictHostKeyChecking=yes "
        f"-o UserKnownHostsFile={fleet.known_hosts} -i {fleet.client_key} -p {fleet.port} "
        f"root@{{}} uptime"
    )
    argv = ["sh", "-c", f"xargs -P 100 -I{{}} {ssh} < {setup.hosts_file}"]
    return argv, dict(os.environ), lambda out: out.count("load average")


def bare_paramiko(setup: Setup) -> Prepared:
    fleet = setup.fleet
    argv = [
        PYTHON,
        str(HERE / "drivers.py"),
        "paramiko",
        str(setup.hosts_file),
        str(fleet.port),
        str(fleet.client_key),
        str(fleet.known_hosts),
        "16",
    ]
    return argv, dict(os.environ), lambda out: int(out.split()[-1])


# ---------------------------------------------------------------------------------- helpers


def stop_control_masters(work: Path) -> None:
    """Ansible's ControlPersist masters outlive its run; stop them by their sockets, so the
    next client does not find warm connections."""
    control = work / "ansible-cp"
    if not control.is_dir():
        return
    for socket_path in control.iterdir():
        subprocess.run(
            ["ssh", "-o", f"ControlPath={socket_path}", "-O", "exit", "x"],
            capture_output=True,
            check=False,
        )


if __name__ == "__main__":
    main()
