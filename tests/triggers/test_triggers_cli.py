"""``runbook triggers``: the list, and ``--test`` of a notification file (nothing starts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runbook_engine.cli import main
from tests.triggers._runbooks import API, DISK, PAYLOADS


@pytest.fixture
def books(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "disk-cleanup.yaml").write_text(DISK)
    (folder / "api-triage.yaml").write_text(API)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNBOOK_PATH", raising=False)
    # nothing may be started: a store would only be made by a start
    monkeypatch.setenv("RUNBOOK_DB", str(tmp_path / "absent" / "runbook.db"))
    return tmp_path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["triggers", *args], catch_exceptions=False)


def test_the_list_as_json(books: Path) -> None:
    result = invoke("--output", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["runbook"], r["trigger"], r["source"]) for r in rows] == [
        ("api-triage", 0, "pagerduty"),
        ("api-triage", 1, "sns"),
        ("disk-cleanup", 0, "alertmanager"),
        ("disk-cleanup", 1, "webhook"),
    ]
    disk = rows[2]
    assert disk["match"] == {
        "alertname": "DiskFull",
        "instance": "~(web|db)-[0-9]+:9100",
        "severity": "page",
    }
    assert disk["params"]["host"] == "{{ alert.labels.instance.split(':')[0] }}"
    assert (disk["on_resolved"], disk["cooldown"], disk["max_concurrent"]) == ("cancel", 600, 2)
    assert rows[3]["name"] == "disk" and rows[3]["cooldown"] is None


def test_the_list_as_text(books: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # one row a line: rich wraps to the terminal
    result = invoke()
    assert result.exit_code == 0, result.output
    assert "disk-cleanup@2" in result.output
    assert "webhook/disk" in result.output
    assert "instance=~(web|db)-[0-9]+:9100" in result.output
    assert "10m00s" in result.output


def test_no_triggers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNBOOK_PATH", raising=False)
    assert "no runbook has a trigger" in invoke().output


def test_a_grouped_alertmanager_notification(books: Path) -> None:
    result = invoke("--test", str(PAYLOADS / "alertmanager-group.json"), "--source", "alertmanager")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("firing alertmanager 4d2c9a71b3e0f6a1")
    assert "would start disk-cleanup@2 as run a" in lines[1]
    assert "host=web-1 mount=/var" in lines[1]
    assert "would cancel run" in result.output
    assert not (books / "absent").exists()


def test_a_notification_as_json(books: Path) -> None:
    result = invoke(
        "--test", str(PAYLOADS / "sns-alarm.json"), "--source", "sns", "--output", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["alerts"][0]["labels"]["alarm_name"] == "api-high-5xx"
    [match] = data["matches"]
    assert match["runbook"] == "api-triage" and match["action"] == "start"
    assert match["params"] == {
        "service": "app/api/50dc6c495c0c9188",
        "incident": "",
        "token": "***",
    }


def test_a_webhook_needs_its_name(books: Path, tmp_path: Path) -> None:
    body = tmp_path / "hook.json"
    body.write_text('{"fingerprint": "f", "labels": {"host": "web-9"}}')
    result = invoke("--test", str(body), "--source", "webhook")
    assert result.exit_code == 2 and "--name" in result.output
    result = invoke("--test", str(body), "--source", "webhook", "--name", "disk")
    assert result.exit_code == 0, result.output
    assert "host=web-9" in result.output and "percent=95" in result.output


def test_an_alert_nothing_matches(books: Path) -> None:
    result = invoke("--test", str(PAYLOADS / "sns-text.json"), "--source", "sns")
    assert result.exit_code == 0 and "no runbook" in result.output


def test_a_malformed_notification(books: Path, tmp_path: Path) -> None:
    body = tmp_path / "bad.json"
    body.write_text('{"version": "4", "alerts": [{"status": "firing"}]}')
    result = invoke("--test", str(body), "--source", "alertmanager")
    assert result.exit_code == 2
    assert "alertmanager payload: alerts[0].labels: missing" in result.output


def test_a_missing_file(books: Path) -> None:
    result = invoke("--test", "nowhere.json", "--source", "pagerduty")
    assert result.exit_code == 2 and "cannot read" in result.output


def test_test_needs_a_source(books: Path) -> None:
    result = invoke("--test", str(PAYLOADS / "sns-text.json"))
    assert result.exit_code == 2 and "--source" in result.output
