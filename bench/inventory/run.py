"""Inventory benchmark: load a 10,000-host INI inventory with ``group_vars/`` and
``host_vars/`` and resolve one pattern, with the engine and with Ansible's own
``InventoryManager`` on the same files, in the same run.

The inventory: 10,000 hosts (``--hosts``) in 100 groups of 100 (``web``/``db``/``cache``
tiers, ``eu``/``us`` regions as parents, a ``canary`` group across them), inline variables on
every host, ``group_vars/`` for ``all`` and every group, ``host_vars/`` for one host in ten.
Timed, after imports: reading the inventory, then the pattern ``--pattern`` (default
``web:&eu:!canary``). For the engine that includes every selected host's variables, with
``group_vars`` and ``host_vars`` resolved; for Ansible only the host list (its variables
are resolved per host later, by the VariableManager, and cost more). Best of ``--repeat``.

Prints one JSON document on stdout. Needs ansible-core (the dev extra). Not run in CI.

    .venv/bin/python bench/inventory/run.py
    .venv/bin/python bench/inventory/run.py --hosts 50000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TIERS = ("web", "db", "cache")
REGIONS = ("eu", "us")


def write_inventory(root: Path, hosts: int) -> Path:
    groups = 100
    per_group = hosts // groups
    lines: list[str] = []
    (root / "group_vars").mkdir()
    (root / "host_vars").mkdir()
    (root / "group_vars" / "all.yml").write_text("ansible_user: deploy\nntp: ntp.example.com\n")
    names: list[str] = []
    for g in range(groups):
        tier, region = TIERS[g % len(TIERS)], REGIONS[g % len(REGIONS)]
        group = f"{tier}_{region}_{g:03d}"
        names.append(group)
        lines.append(f"[{group}]")
        for h in range(per_group):
            n = g * per_group + h
            lines.append(
                f"{tier}{n:05d}.example.com ansible_host=10.{g}.{h // 250}.{h % 250} rack=r{h % 8}"
            )
            if n % 10 == 0:
                (root / "host_vars" / f"{tier}{n:05d}.example.com.yml").write_text(f"slot: {n}\n")
        (root / "group_vars" / f"{group}.yml").write_text(f"group_id: {g}\ntier: {tier}\n")
    for parent in (*TIERS, *REGIONS):
        lines.append(f"[{parent}:children]")
        lines.extend(n for n in names if parent in n.split("_")[:2])
    lines.append("[canary]")
    lines.extend(
        f"web{n:05d}.example.com" for n in range(0, hosts, 97) if (n // per_group) % 3 == 0
    )
    lines.append("[all:vars]\nansible_port=22")
    source = root / "hosts.ini"
    source.write_text("\n".join(lines) + "\n")
    return source


def time_ours(source: Path, pattern: str) -> tuple[float, float, int]:
    from runbook_engine.inventory import load_file, select

    start = time.perf_counter()
    inventory = load_file(source)
    loaded = time.perf_counter()
    found = select(inventory, pattern)
    for host in found:
        _ = host.vars
    done = time.perf_counter()
    return loaded - start, done - loaded, len(found)


def time_ansible(source: Path, pattern: str) -> tuple[float, float, int]:
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.vars import host_group_vars

    host_group_vars.FOUND.clear()
    host_group_vars.NAK.clear()
    start = time.perf_counter()
    manager = InventoryManager(loader=DataLoader(), sources=[str(source)])
    loaded = time.perf_counter()
    found = manager.get_hosts(pattern)
    done = time.perf_counter()
    return loaded - start, done - loaded, len(found)


def best(runs: list[tuple[float, float, int]]) -> dict[str, Any]:
    load, resolve, count = min(runs, key=lambda r: r[0] + r[1])
    return {
        "load_s": round(load, 4),
        "pattern_s": round(resolve, 4),
        "total_s": round(load + resolve, 4),
        "hosts_selected": count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--pattern", default="web:&eu:!canary")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="bench-ansible-")
    os.environ.update({"ANSIBLE_HOME": home, "ANSIBLE_LOCAL_TEMP": home, "ANSIBLE_NOCOLOR": "1"})
    with tempfile.TemporaryDirectory() as tmp:
        source = write_inventory(Path(tmp), args.hosts)
        ours = best([time_ours(source, args.pattern) for _ in range(args.repeat)])
        ansible = best([time_ansible(source, args.pattern) for _ in range(args.repeat)])
    assert ours["hosts_selected"] == ansible["hosts_selected"], (ours, ansible)
    result = {
        "hosts": args.hosts,
        "pattern": args.pattern,
        "python": platform.python_version(),
        "ours": ours,
        "ansible": ansible,
        "ansible_over_ours": round(ansible["total_s"] / ours["total_s"], 2),
    }
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
