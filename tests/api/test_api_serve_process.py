"""``runbook serve`` as a process of its own: the API on the port it picked, a run started and
followed to its end over HTTP, and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runbook_engine.auth.tokens import create_token
from runbook_engine.store import Store
from tests.api.conftest import ADMIN, ALICE, HELLO_2, bearer, read_sse, wait_for


def runbook_command() -> list[str]:
    installed = Path(sys.executable).with_name("runbook")
    if installed.exists():
        return [str(installed)]
    found = shutil.which("runbook")
    assert found, "the runbook command is not installed"
    return [found]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The URL of a ``runbook serve`` in ``tmp_path``, and tokens made on its store."""
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "hello.yaml").write_text(HELLO_2, encoding="utf-8")
    (tmp_path / "policy.yaml").write_text(f"admins: [{ADMIN}]\n", encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RUNBOOK_", "SLACK_")) or k == "RUNBOOK_MAX_STEP_OUTPUT"
    }
    env["RUNBOOK_DB"] = str(tmp_path / "runbook.db")
    env["RUNBOOK_POLICY"] = str(tmp_path / "policy.yaml")
    store = Store.open(env["RUNBOOK_DB"])
    try:
        tokens = {
            "alice": create_token(store, ALICE).secret,
            "admin": create_token(store, ADMIN).secret,
        }
    finally:
        store.close()
    proc = subprocess.Popen(
        [*runbook_command(), "serve", "--port", "0", "--grace", "5"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        url = None
        for _ in range(50):
            line = proc.stderr.readline()
            if not line:
                break
            found = re.search(r"(http://127\.0\.0\.1:\d+)/api/v1", line)
            if found:
                url = found.group(1)
                break
        assert url, "runbook serve did not say where it serves the API"
        yield url, tokens
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_runbook_serve_answers_the_api(served: tuple[str, dict[str, str]]) -> None:
    url, tokens = served
    with httpx.Client(base_url=url, timeout=15.0) as client:
        wait_for("the server to be healthy", lambda: client.get("/healthz").status_code == 200)
        api = "/api/v1"
        assert client.get(f"{api}/me").status_code == 401
        me = client.get(f"{api}/me", headers=bearer(tokens["alice"])).json()
        assert me["name"] == ALICE and me["via"].startswith("token:")
        doc = client.get(f"{api}/openapi.json").json()
        assert "/runs/{run_id}/logs" in doc["paths"]
        alice = httpx.Client(base_url=url + api, headers=bearer(tokens["alice"]), timeout=15.0)
        with alice:
            started = alice.post(
                "/runs", json={"runbook": "hello", "params": {"who": "proc", "count": 2}}
            )
            assert started.status_code == 201, started.text
            run_id = started.json()["id"]
            messages = read_sse(alice, f"/runs/{run_id}/logs", follow="true")
            assert messages[-1].event == "end"
            assert messages[-1].data == {"run_id": run_id, "status": "succeeded", "exit_code": 0}
            said = [
                line
                for m in messages
                if m.event == "step.output"
                for line in m.data["data"]["lines"]
            ]
            assert said == ["[info] hello proc x2 []", "[info] bye proc"]
        listed = client.get(f"{api}/tokens", headers=bearer(tokens["admin"])).json()
        assert {t["user"] for t in listed} == {ALICE, ADMIN}
