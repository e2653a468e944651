"""The inventory: YAML and INI files, variables and their precedence, Ansible's names, host
patterns, and where the file is found. No SSH server needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_engine.actions.ssh.targets import Overrides, resolve_targets
from runbook_engine.errors import ActionInputError
from runbook_engine.inventory import Inventory, InventoryError, inventory_path, load_file, select
from runbook_engine.inventory.literal import parse_literal
from runbook_engine.inventory.ranges import expand
from tests.ssh.ssh_helpers import INI, YAML


@pytest.fixture(params=["yaml", "ini"])
def inventory(request: pytest.FixtureRequest, tmp_path: Path) -> Inventory:
    path = tmp_path / f"inventory.{request.param}"
    path.write_text(YAML if request.param == "yaml" else INI)
    return load_file(path)


def names(inventory: Inventory, pattern: str | list[str]) -> list[str]:
    return [h.name for h in select(inventory, pattern)]


def test_ranges() -> None:
    assert expand("web[01:03]") == ["web01", "web02", "web03"]
    assert expand("n[1:10:4]") == ["n1", "n5", "n9"]
    assert expand("db-[a:c]") == ["db-a", "db-b", "db-c"]
    assert expand("r[1:2]x[a:b]") == ["r1xa", "r1xb", "r2xa", "r2xb"]
    assert expand("plain") == ["plain"]
    with pytest.raises(InventoryError, match="runs backwards"):
        expand("web[09:01]")
    with pytest.raises(InventoryError, match="more than"):
        expand("web[1:10000000]")


def test_both_formats_give_the_same_hosts_and_groups(inventory: Inventory) -> None:
    assert inventory.host_names == ["bastion", "web01", "web02", "web03", "web04", "web05", "db1"]
    assert inventory.group_hosts("prod") == ["web01", "web02", "web03", "web04", "web05", "db1"]
    assert inventory.group_hosts("ungrouped") == ["bastion"]


def test_variables_deeper_groups_and_hosts_win(inventory: Inventory) -> None:
    web = inventory.host("web02")
    # all < prod (depth 1) < web (child of prod, depth 2) < the host
    assert (web.address, web.port, web.user, web.key_file) == (
        "10.0.0.1",
        22,
        "deploy",
        "/keys/ops",
    )
    assert inventory.host("web05").user == "override"
    assert inventory.host("web05").port == 2222
    assert inventory.host("db1").user == "produser"
    assert inventory.host("bastion").user == "ops"
    assert inventory.host("web02").groups == ("prod", "web")


def test_ansible_ssh_args_give_jump_and_host_key_checking(inventory: Inventory) -> None:
    db = inventory.host("db1")
    assert db.jump == "jumper@bastion:2200"
    assert db.host_key_checking is False
    assert inventory.host("web01").host_key_checking is True


def test_targets_resolve_jump_hosts_through_the_inventory(inventory: Inventory) -> None:
    (db,) = resolve_targets("db1", Overrides(), inventory)
    assert db.jump is not None
    assert (db.jump.name, db.jump.address, db.jump.port, db.jump.user) == (
        "bastion",
        "203.0.113.7",
        2200,
        "jumper",
    )
    assert db.jump.jump is None
    (web,) = resolve_targets("web01", Overrides(user="root", jump="bastion"), inventory)
    assert web.user == "root"
    assert web.jump is not None and web.jump.user == "ops"  # the hop keeps its own user
    (bastion,) = resolve_targets("bastion", Overrides(jump="bastion"), inventory)
    assert bastion.jump is None  # a fleet-wide jump host does not jump through itself


def test_jump_chain_and_loops(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        "all:\n  hosts:\n"
        "    a: {address: 10.0.0.1, jump: b}\n"
        "    b: {address: 10.0.0.2, jump: a}\n"
        "    c: {address: 10.0.0.3, jump: 'x@10.0.9.1,y@10.0.9.2:2022'}\n"
    )
    inventory = load_file(path)
    (c,) = resolve_targets("c", Overrides(), inventory)
    assert c.jump is not None and c.jump.endpoint == "y@10.0.9.2:2022"
    assert c.jump.jump is not None and c.jump.jump.endpoint == "x@10.0.9.1:22"
    with pytest.raises(ActionInputError, match="loop"):
        resolve_targets("a", Overrides(), inventory)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("all", ["bastion", "web01", "web02", "web03", "web04", "web05", "db1"]),
        ("*", ["bastion", "web01", "web02", "web03", "web04", "web05", "db1"]),
        ("web", ["web01", "web02", "web03", "web04", "web05"]),
        ("db1,bastion", ["db1", "bastion"]),
        (["db1", "web01"], ["db1", "web01"]),
        ("web[02:03]", ["web03", "web04"]),  # a slice of group web, 0-based, as in Ansible
        ("prod,!web", ["db1"]),
        ("prod,!web0[1:4]", ["web05", "db1"]),
        ("web,&prod,!web05", ["web01", "web02", "web03", "web04"]),
        ("!web", ["bastion", "db1"]),
        ("web0*", ["web01", "web02", "web03", "web04", "web05"]),
        ("~web0[15]", ["web01", "web05"]),
        (" web01 , web02 ", ["web01", "web02"]),
    ],
)
def test_patterns(inventory: Inventory, pattern: str | list[str], expected: list[str]) -> None:
    assert names(inventory, pattern) == expected


def test_literal_hosts(inventory: Inventory) -> None:
    found = select(inventory, "10.9.8.7,deploy@db.example.com:2222,[2001:db8::1]:22,web01")
    assert [h.name for h in found] == [
        "10.9.8.7",
        "deploy@db.example.com:2222",
        "[2001:db8::1]:22",
        "web01",
    ]
    ip, named, v6, web = found
    assert (ip.address, ip.port, ip.user, ip.literal) == ("10.9.8.7", 22, "ops", True)
    assert (named.address, named.port, named.user) == ("db.example.com", 2222, "deploy")
    assert v6.address == "2001:db8::1"
    assert web.literal is False
    assert names(inventory, "127.0.1.[1:3]") == ["127.0.1.1", "127.0.1.2", "127.0.1.3"]
    assert parse_literal("web01") is None  # a bare word is a misspelt name, not a host
    assert parse_literal("root@web01") == {"address": "web01", "user": "root"}


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("wbe", "'wbe' matches no host or group .*did you mean 'web'"),
        ("web,!dbb", "'dbb' matches no host or group"),
        ("web,&db", "matches no hosts"),
        ("", "empty"),
        ("~(", "invalid regular expression"),  # "~[" is "~": Ansible cuts at the bracket
    ],
)
def test_pattern_errors(inventory: Inventory, pattern: str, message: str) -> None:
    with pytest.raises(InventoryError, match=message):
        select(inventory, pattern)


def test_empty_inventory_explains_itself() -> None:
    with pytest.raises(InventoryError, match="the inventory is empty"):
        select(Inventory.empty(), "web")


def test_file_errors(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("all:\n  hots: {}\n")
    with pytest.raises(InventoryError, match="unknown key 'hots'"):
        load_file(bad_yaml)
    bad_ini = tmp_path / "bad.ini"
    bad_ini.write_text("[web:varz]\n")
    with pytest.raises(InventoryError, match=r"bad.ini:1: unknown section kind 'varz'"):
        load_file(bad_ini)
    loop = tmp_path / "loop.ini"
    loop.write_text("[a:children]\nb\n[b:children]\na\n")
    with pytest.raises(InventoryError, match="groups contain each other: a -> b -> a"):
        load_file(loop)
    port = tmp_path / "port.ini"
    port.write_text("h ansible_port=http\n")
    with pytest.raises(InventoryError, match="port 'http' is not a number"):
        _ = load_file(port).host("h").port


def test_a_file_without_extension_is_recognised(tmp_path: Path) -> None:
    for text in (YAML, INI):
        path = tmp_path / "hosts"
        path.write_text(text)
        assert "web05" in load_file(path).host_names


def test_where_the_inventory_comes_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNBOOK_INVENTORY", raising=False)
    assert inventory_path() is None
    (tmp_path / "inventory.ini").write_text(INI)
    assert inventory_path() == Path("inventory.ini")
    (tmp_path / "inventory.yaml").write_text(YAML)
    assert inventory_path() == Path("inventory.yaml")  # YAML first
    other = tmp_path / "other.yml"
    other.write_text(YAML)
    monkeypatch.setenv("RUNBOOK_INVENTORY", str(other))
    assert inventory_path() == other
    assert inventory_path(str(tmp_path / "inventory.ini")) == tmp_path / "inventory.ini"
    monkeypatch.setenv("RUNBOOK_INVENTORY", str(tmp_path / "missing.yaml"))
    with pytest.raises(InventoryError, match="RUNBOOK_INVENTORY"):
        inventory_path()
