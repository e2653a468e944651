"""The runbooks in runbooks/ run end to end here, on real processes, files and HTTP servers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runbook_engine.cli import main

RUNBOOKS = Path(__file__).resolve().parent.parent / "runbooks"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_all_shipped_runbooks_validate() -> None:
    result = invoke("validate", str(RUNBOOKS))
    assert result.exit_code == 0, result.output
    assert len(list(RUNBOOKS.glob("*.yaml"))) >= 3


def test_disk_usage_check_passes_and_fails(workdir: Path) -> None:
    ok = invoke(
        "run",
        "disk-usage-check",
        "-p",
        f"mount={workdir}",
        "-p",
        "threshold=100",
        "--yes",
        "-o",
        "json",
    )
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.output)
    assert 0 <= data["steps"]["measure"]["outputs"]["used_percent"] <= 100
    assert data["steps"]["healthy"]["status"] == "succeeded"
    assert "biggest" not in data["steps"]

    (workdir / "big").mkdir()
    (workdir / "big" / "blob").write_bytes(b"x" * 100_000)
    full = invoke(
        "run",
        "disk-usage-check",
        "-p",
        f"mount={workdir}",
        "-p",
        "threshold=1",
        "--yes",
        "-o",
        "json",
    )
    assert full.exit_code == 1, full.output
    data = json.loads(full.output)
    assert data["steps"]["too-full"]["status"] == "failed"
    assert "% full (threshold 1%)" in data["failure"]["message"]
    logs = invoke("logs", data["run_id"]).output
    assert "/big" in logs  # the biggest directories were listed


class _Flaky(BaseHTTPRequestHandler):
    failures_left = 2

    def do_GET(self) -> None:
        cls = type(self)
        if self.path == "/flaky" and cls.failures_left > 0:
            cls.failures_left -= 1
            self.send_response(503)
        elif self.path in ("/flaky", "/ok"):
            self.send_response(200)
        else:
            self.send_response(500)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_health_check_retries_then_passes(workdir: Path, http_server: str) -> None:
    _Flaky.failures_left = 2
    result = invoke(
        "run", "http-health-check", "-p", f"url={http_server}/flaky", "--yes", "-o", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["steps"]["probe"]["attempts"] == 3
    assert data["steps"]["probe"]["outputs"]["status"] == 200


def test_http_health_check_fails_when_unhealthy(workdir: Path, http_server: str) -> None:
    result = invoke(
        "run", "http-health-check", "-p", f"url={http_server}/broken", "--yes", "-o", "json"
    )
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["steps"]["probe"]["attempts"] == 4
    assert data["steps"]["probe"]["error"]["retryable"] is True


def test_maintenance_window_approve_then_roll_back(workdir: Path) -> None:
    (workdir / "groups.yaml").write_text("sre-leads: [bob]\n")
    flag = workdir / "maint.flag"
    flag.write_text("previous\n")
    args = (
        "run",
        "maintenance-window",
        "-p",
        f"flag_file={flag}",
        "-p",
        "reason=kernel upgrade",
        "--yes",
        "--no-wait",
        "-o",
        "json",
    )
    ok_run = json.loads(invoke(*args).output)
    assert ok_run["status"] == "waiting_approval"
    done = invoke("approve", ok_run["run_id"], "--as", "bob", "-o", "json")
    assert done.exit_code == 0, done.output
    assert flag.read_text() == "maintenance by alice: kernel upgrade\n"

    flag.write_text("previous\n")
    failing = json.loads(
        invoke(*args[:-4], "-p", 'check=["false"]', "--yes", "--no-wait", "-o", "json").output
    )
    rolled = invoke("approve", failing["run_id"], "--as", "bob", "-o", "json")
    assert rolled.exit_code == 1, rolled.output
    data = json.loads(rolled.output)
    assert data["status"] == "rolled_back"
    assert data["steps"]["verify"]["attempts"] == 3
    assert flag.read_text() == "previous\n"  # restored by file.write's automatic undo
