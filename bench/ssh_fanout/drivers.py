"""The clients the fan-out benchmark measures that are Python programs of their own.

Each is run as a child process (so its CPU time is counted) with the interpreter of the venv
that has its library: ``action`` and ``paramiko`` with the project's, ``fabric`` with a venv
holding Fabric. Each prints one line: how many hosts answered.

    python drivers.py action   HOSTS_FILE FORKS           (RUNBOOK_INVENTORY names the hosts)
    python drivers.py paramiko HOSTS_FILE PORT KEY KNOWN_HOSTS THREADS
    python drivers.py fabric   HOSTS_FILE PORT KEY KNOWN_HOSTS
"""

from __future__ import annotations

import sys
from pathlib import Path


def action(hosts_file: str, forks: str) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from runbook_engine.actions.ssh import SshCommandAction
    from runbook_engine.plugin.contract import ActionContext

    hosts = Path(hosts_file).read_text().split()
    ctx = ActionContext(run_id="bench", step_id="uptime")
    action = SshCommandAction()
    params = action.Params.model_validate(
        {"hosts": hosts, "command": "uptime", "forks": int(forks), "max_failures": "100%"}
    )
    try:
        result = action.run(params, ctx)
    finally:
        for resource in ctx.resources.values():
            getattr(resource, "close", lambda: None)()
    return len(result["ok"])


def bare_paramiko(hosts_file: str, port: str, key: str, known_hosts: str, threads: str) -> int:
    from concurrent.futures import ThreadPoolExecutor

    import paramiko

    pkey = paramiko.PKey.from_path(key)

    def one(address: str) -> bool:
        client = paramiko.SSHClient()
        client.load_host_keys(known_hosts)
        client.connect(
            address, int(port), username="root", pkey=pkey, allow_agent=False, look_for_keys=False
        )
        try:
            _, out, _ = client.exec_command("uptime")
            return b"load average" in out.read()
        finally:
            client.close()

    hosts = Path(hosts_file).read_text().split()
    with ThreadPoolExecutor(int(threads)) as pool:
        return sum(pool.map(one, hosts))


def fabric(hosts_file: str, port: str, key: str, known_hosts: str) -> int:
    from fabric import ThreadingGroup

    hosts = [f"root@{a}:{port}" for a in Path(hosts_file).read_text().split()]
    group = ThreadingGroup(
        *hosts,
        connect_kwargs={"key_filename": key, "look_for_keys": False, "allow_agent": False},
    )
    for connection in group:
        connection.client.load_host_keys(known_hosts)
    results = group.run("uptime", hide=True, warn=True)
    group.close()
    return sum(1 for r in results.values() if getattr(r, "ok", False))


if __name__ == "__main__":
    kind, *args = sys.argv[1:]
    run = {"action": action, "paramiko": bare_paramiko, "fabric": fabric}[kind]
    print(run(*args))
