"""What the differential tests cannot show: errors (file and line), the deliberate
differences from Ansible, and the connection settings Ansible's variables map onto."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from runbook_engine.cli.hosts_cmd import hosts
from runbook_engine.inventory import InventoryError, load_file, select, split_pattern
from runbook_engine.inventory.ini_values import ini_value
from runbook_engine.inventory.ranges import expand


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_ansible_splits_patterns_at_commas_or_else_colons() -> None:
    assert split_pattern("webservers:!atlanta") == ["webservers", "!atlanta"]
    assert split_pattern("web[1:3]:&db") == ["web[1:3]", "&db"]
    assert split_pattern("2001:db8::1") == ["2001:db8::1"]
    assert split_pattern("db.example.com:2222") == ["db.example.com:2222"]
    assert split_pattern("deploy@db.example.com:2222") == ["deploy@db.example.com:2222"]
    assert split_pattern("a, b ,!c") == ["a", "b", "!c"]


def test_ranges_and_ini_values() -> None:
    assert expand("www[01:06:2]") == ["www01", "www03", "www05"]
    assert expand("n[y:B]") == ["ny", "nz", "nA", "nB"]  # a..z then A..Z, as in Ansible
    with pytest.raises(InventoryError, match="equal width"):
        expand("web[01:100]")
    assert [ini_value(v) for v in ("22", "True", "true", "'22'", "[1, 2]", "a b", "0x10")] == [
        22,
        True,
        "true",
        "22",
        [1, 2],
        "a b",
        16,
    ]


def test_malformed_lines_name_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "hosts", "[web]\nweb1\nweb2 novalue\n")
    with pytest.raises(InventoryError, match=r"hosts:3: expected key=value"):
        load_file(bad)
    undefined = write(tmp_path / "u.ini", "[prod:children]\nweb\n")
    with pytest.raises(InventoryError, match=r"u.ini:2: \[prod:children\] names group 'web'"):
        load_file(undefined)
    header = write(tmp_path / "h.ini", "[web servers]\n")
    with pytest.raises(InventoryError, match=r"h.ini:1: invalid section header"):
        load_file(header)
    yaml_bad = write(tmp_path / "inv.yml", "all:\n  hosts:\n    a: [\n")
    with pytest.raises(InventoryError, match=r"inv.yml:\d+: YAML syntax error"):
        load_file(yaml_bad)


def test_group_vars_missing_is_fine_unreadable_is_an_error(tmp_path: Path) -> None:
    source = write(tmp_path / "hosts", "[web]\nw1\n")
    assert load_file(source).host("w1").vars == {}
    write(tmp_path / "group_vars" / "web.yml", "port_hint: 1\n")
    broken = write(tmp_path / "host_vars" / "w1.yml", "a: [\n")
    with pytest.raises(InventoryError, match=r"host_vars/w1.yml:\d+: YAML syntax error"):
        load_file(source).host("w1")
    broken.write_text("- a list\n")
    with pytest.raises(InventoryError, match="expected a mapping of variables"):
        load_file(source).host("w1")
    broken.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(InventoryError, match=r"cannot read .*w1.yml"):
        load_file(source).host("w1")
    if os.geteuid() != 0:  # root reads a file whatever its mode
        broken.write_text("a: 1\n")
        broken.chmod(0)
        with pytest.raises(InventoryError, match=r"cannot read .*w1.yml: Permission denied"):
            load_file(source).host("w1")


def test_connection_settings_from_ansible_variables(tmp_path: Path) -> None:
    source = write(
        tmp_path / "hosts",
        "[web]\nbar.example.com:2200 ansible_become=true ansible_become_user=www\n"
        "[web:vars]\nansible_user=deploy\n"
        "ansible_ssh_common_args='-o ProxyJump=ops@jump.example.com:2022'\n"
        "ansible_ssh_private_key_file=/keys/web\n",
    )
    write(tmp_path / "group_vars" / "all.yml", "ansible_user: everyone\ncolor: blue\n")
    host = load_file(source).host("bar.example.com")
    # group_vars/all comes after the inventory's own group variables, as in Ansible
    assert (host.address, host.port, host.user, host.key_file) == (
        "bar.example.com",
        2200,
        "everyone",
        "/keys/web",
    )
    assert host.jump == "ops@jump.example.com:2022"
    assert (host.become, host.become_user) == (True, "www")
    assert host.vars["color"] == "blue"


def test_deliberate_differences(tmp_path: Path) -> None:
    inventory = load_file(write(tmp_path / "hosts", "[web]\nweb01\nweb02\nweb03\n[db]\ndb1\n"))
    with pytest.raises(InventoryError, match=r"'wbe' matches no host or group.*did you mean 'web'"):
        select(inventory, "wbe")
    with pytest.raises(InventoryError, match="'dbb' matches no host or group"):
        select(inventory, "web:!dbb")
    with pytest.raises(InventoryError, match="matches no hosts"):
        select(inventory, "web:&db")
    with pytest.raises(InventoryError, match="no host \\[5\\]"):
        select(inventory, "web[5]")
    # a bare word is never a host outside the inventory, even with a user
    with pytest.raises(InventoryError, match="did you mean 'web01'"):
        select(inventory, "root@web1")
    warnings: list[str] = []
    found = select(inventory, "web[0],10.0.0.5,deploy@db.example.com:2222", warn=warnings.append)
    assert [h.name for h in found] == ["web01", "10.0.0.5", "deploy@db.example.com:2222"]
    assert found[2].user == "deploy" and found[2].port == 2222 and found[2].literal
    assert len(warnings) == 2 and "not in the inventory" in warnings[0]
    # a range of inventory names where no group has the name before the brackets
    assert [h.name for h in select(inventory, "web0[2:3]")] == ["web02", "web03"]


def test_runbook_hosts_exits_2_with_a_suggestion(tmp_path: Path) -> None:
    source = write(tmp_path / "hosts", "[webservers]\nweb01\n")
    runner = CliRunner()
    bad = runner.invoke(hosts, ["webservrs", "-i", str(source)])
    assert bad.exit_code == 2
    assert "did you mean 'webservers'" in bad.output
    good = runner.invoke(hosts, ["webservers:10.1.1.1", "-i", str(source), "-o", "json"])
    assert good.exit_code == 0, good.output
    data = json.loads(good.stdout)
    assert [h["name"] for h in data["hosts"]] == ["web01", "10.1.1.1"]
    assert data["warnings"]
