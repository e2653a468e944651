"""The engine reads the corpus in tests/fixtures/inventories exactly as Ansible does: the same
hosts for every pattern, in Ansible's order, and the same variables for every host.

Ansible runs in-process (its InventoryManager and VariableManager), and a few cases go through
the real ``ansible`` and ``ansible-inventory`` commands to show that the in-process reference
is what the commands print.
"""

from __future__ import annotations

import functools
import json
import os
import stat
from pathlib import Path

import pytest

from runbook_engine.inventory import Inventory, load_file, select
from tests.inventory.ansible_oracle import (
    Reference,
    ansible_cli_hosts,
    ansible_cli_vars,
    ansible_list_json,
)
from tests.inventory.differential import assert_same_hosts, assert_same_vars, load_both

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "inventories"
SOURCES = {
    "classic_ini": CORPUS / "classic_ini" / "hosts",
    "nested_yaml": CORPUS / "nested_yaml" / "inventory.yml",
    "mixed_dir": CORPUS / "mixed_dir",
}

PATTERNS = {
    "classic_ini": [
        "all",
        "*",
        "webservers",
        "dbservers",
        "ungrouped",
        "southeast",
        "usa",
        "v6",
        "webservers:dbservers",
        "webservers:!atlanta",
        "webservers:&staging",
        "webservers,&staging",
        "staging:webservers",
        "webservers[0]",
        "webservers[-1]",
        "webservers[1:3]",
        "webservers[2:]",
        "webservers[0:0]",
        "webservers[1-2]",
        "~(web|db).*",
        "~www0[13]",
        "*.example.com",
        "www*",
        "web-?.example.com",
        "w*[1:4]",
        "usa:!raleigh",
        "southeast:&webservers",
        "!webservers",
        "&dbservers",
        "foo.example.com,bar.example.com",
        "atlanta, raleigh, !two.example.com",
        "2001:db8::11",
        "all:!v6:!ungrouped",
        "dbservers[1:]:&usa",
        "*servers:!staging",
        "~.*\\.example\\.com:&southeast",
        "all[-2:]",
        "webservers:!nosuchgroup",
        "webservers:&dbservers",
    ],
    "nested_yaml": [
        "all",
        "production",
        "eu",
        "us_web",
        "web",
        "db",
        "canary",
        "legacy",
        "production:!canary",
        "web:&eu",
        "web:&canary",
        "eu:us",
        "production[0]",
        "production[3:5]",
        "web[-1]",
        "~eu-(web|db)0[12].*",
        "*db*",
        "eu-web0*",
        "all:!production",
        "canary,legacy",
        "db:!eu_db",
        "bastion.example.net",
        "web:db:!us",
        "us-db1.example.net",
    ],
    "mixed_dir": [
        "all",
        "frontend",
        "app",
        "workers",
        "batch",
        "frontend:!lb",
        "workers:&batch",
        "app[1:2]",
        "~worker-[ab].*",
        "*.corp.example",
        "app*",
        "lb:workers",
        "!app",
        "ignored",
    ],
}


@functools.cache
def corpus(name: str) -> tuple[Inventory, Reference]:
    return load_both(SOURCES[name])


def test_the_corpus_has_enough_patterns() -> None:
    assert sum(len(p) for p in PATTERNS.values()) >= 50


@pytest.mark.parametrize(
    ("name", "pattern"), [(name, p) for name, patterns in PATTERNS.items() for p in patterns]
)
def test_patterns_select_what_ansible_selects(name: str, pattern: str) -> None:
    ours, ansible = corpus(name)
    assert_same_hosts(SOURCES[name], ours, ansible, pattern)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_host_has_the_variables_ansible_gives_it(name: str) -> None:
    ours, ansible = corpus(name)
    assert_same_vars(ours, ansible)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_list_export_reads_back_as_ansible_reads_it(name: str, tmp_path: Path) -> None:
    """``ansible-inventory --list`` JSON (how dynamic inventories are exported): read by the
    engine as a file, and by Ansible through its script plugin (a script printing it)."""
    exported = tmp_path / "inventory.json"
    exported.write_text(ansible_list_json(SOURCES[name]))
    script = tmp_path / "inventory.sh"
    script.write_text(f"#!/bin/sh\ncat '{exported}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    ours, ansible = load_file(exported), Reference(script)
    assert_same_vars(ours, ansible)
    original, _ = corpus(name)
    for group in ["all", *original.group_names]:
        assert_same_hosts(script, ours, ansible, group)


def test_the_in_process_reference_is_what_the_ansible_commands_print() -> None:
    for name, pattern in [
        ("classic_ini", "webservers:!atlanta"),
        ("classic_ini", "webservers[1:3]"),
        ("nested_yaml", "web:&canary"),
        ("mixed_dir", "all"),
    ]:
        ours = [h.name for h in select(load_file(SOURCES[name]), pattern)]
        assert ansible_cli_hosts(SOURCES[name], pattern) == ours, (name, pattern)
    for name, host in [
        ("classic_ini", "one.example.com"),
        ("classic_ini", "bar.example.com"),
        ("nested_yaml", "eu-web02.example.net"),
        ("mixed_dir", "worker-c.corp.example"),
    ]:
        got = json.loads(json.dumps(dict(load_file(SOURCES[name]).host(host).vars)))
        assert ansible_cli_vars(SOURCES[name], host) == got, (name, host)


def test_the_corpus_is_read_with_no_ansible_cfg() -> None:
    assert os.environ["ANSIBLE_CONFIG"].endswith("ansible.cfg")
    assert Path(os.environ["ANSIBLE_CONFIG"]).read_text() == ""
