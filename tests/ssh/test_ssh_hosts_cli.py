"""``runbook hosts PATTERN``: what a pattern matches, as a table or JSON; exit 2 on errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runbook_engine.cli.hosts_cmd import hosts
from tests.ssh.ssh_helpers import INI, YAML


def invoke(*args: str) -> Result:
    return CliRunner().invoke(hosts, list(args), catch_exceptions=False)


@pytest.fixture
def inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNBOOK_INVENTORY", raising=False)
    path = tmp_path / "inventory.yaml"
    path.write_text(YAML)
    return path


def test_table_from_the_default_inventory(inventory: Path) -> None:
    result = invoke("web,!web0[2:4]")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.split()[:4] == ["web01", "│", "10.0.0.1", "│"] for line in lines)
    assert any("web05" in line and "2222" in line and "override" in line for line in lines)
    assert "web02" not in result.output
    assert lines[-1] == "2 host(s) (inventory inventory.yaml)"


def test_json_with_vars_and_an_explicit_ini_inventory(inventory: Path, tmp_path: Path) -> None:
    ini = tmp_path / "fleet.ini"
    ini.write_text(INI)
    result = invoke("db1", "--inventory", str(ini), "--vars", "--output", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["inventory"] == str(ini)
    (db,) = data["hosts"]
    assert db["name"] == "db1"
    assert db["jump"] == "jumper@bastion:2200"
    assert db["groups"] == ["prod", "db"]  # by precedence: prod is db's parent
    assert db["vars"]["user"] == "produser"


def test_environment_variable_and_errors(
    inventory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("all:\n  hosts:\n    solo: {address: 10.1.1.1}\n")
    monkeypatch.setenv("RUNBOOK_INVENTORY", str(other))
    assert "solo" in invoke("all").output
    bad = invoke("wbe")
    assert bad.exit_code == 2
    assert "matches no host or group" in bad.output
    missing = invoke("all", "-i", str(tmp_path / "nope.ini"))
    assert missing.exit_code == 2
    assert "does not exist" in missing.output
    as_json = invoke("wbe", "-o", "json")
    assert as_json.exit_code == 2
    assert "matches no host" in json.loads(as_json.output)["error"]


def test_literal_hosts_without_inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNBOOK_INVENTORY", raising=False)
    result = invoke("deploy@10.0.0.9:2222", "-o", "json")
    assert result.exit_code == 0, result.output
    (host,) = json.loads(result.output)["hosts"]
    assert (host["address"], host["port"], host["user"], host["literal"]) == (
        "10.0.0.9",
        2222,
        "deploy",
        True,
    )
