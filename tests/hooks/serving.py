"""An in-process ``runbook serve`` for the hook tests: its store, the test runbooks, a
``trigger`` token, and the secrets of the signed sources."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from runbook_engine.auth.tokens import create_token
from runbook_engine.server.serve import ServeOptions, Server
from runbook_engine.store import RunRecord, Store
from tests.hooks.books import RUNBOOKS

T = TypeVar("T")

OPTIONS = ServeOptions(host="127.0.0.1", port=0, grace=2.0, sweep_interval=0.2)
TRIGGER_USER = "alertmanager"
WEBHOOK_SECRET = "whsec-deploy-secret"
FLOOD_SECRET = "whsec-flood-secret"
PAGERDUTY_SECRET = "pd-signing-secret"
ADMIN = "admin@example.com"
POLICY = f"admins: [{ADMIN}]\n"


def write_env(root: Path, mp: pytest.MonkeyPatch) -> None:
    books = root / "runbooks"
    books.mkdir()
    for name, text in RUNBOOKS.items():
        (books / name).write_text(text, encoding="utf-8")
    mp.chdir(root)
    mp.setenv("RUNBOOK_DB", str(root / "runbook.db"))
    mp.setenv("RUNBOOK_PATH", str(books))
    (root / "policy.yaml").write_text(POLICY, encoding="utf-8")
    mp.setenv("RUNBOOK_POLICY", str(root / "policy.yaml"))
    mp.setenv("RUNBOOK_WEBHOOK_SECRET_DEPLOY", WEBHOOK_SECRET)
    mp.setenv("RUNBOOK_WEBHOOK_SECRET_FLOOD", FLOOD_SECRET)
    mp.setenv("RUNBOOK_PAGERDUTY_SECRET", PAGERDUTY_SECRET)
    for var in (
        "RUNBOOK_USER",
        "RUNBOOK_SERVER",
        "RUNBOOK_GROUPS",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
    ):
        mp.delenv(var, raising=False)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Serving:
    root: Path
    server: Server
    store: Store
    token: str
    admin_token: str

    @property
    def url(self) -> str:
        return self.server.url

    def runs(self, runbook: str) -> list[RunRecord]:
        return self.store.list_runs(runbook=runbook, limit=5000)

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(self.url + path, content=body, headers=headers or {}, timeout=30.0)

    def bearer(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def status(self, run_id: str) -> str:
        record = self.store.get_run(run_id)
        assert record is not None, run_id
        return record.status

    def wait_status(self, run_id: str, *statuses: str, timeout: float = 10.0) -> str:
        def probe() -> str | None:
            now = self.status(run_id)
            return now if now in statuses else None

        return wait_for(f"run {run_id} to be {' or '.join(statuses)}", probe, timeout)


def start_serving(root: Path) -> Serving:
    server = Server(None, OPTIONS)
    server.start()
    token = create_token(server.store, TRIGGER_USER, roles=["trigger"]).secret
    admin = create_token(server.store, ADMIN).secret
    return Serving(root, server, server.store, token, admin)


def results(answer: httpx.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["results"]
    return found
