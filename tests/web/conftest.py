"""Fixtures: ``runbook serve``'s server in-process on 127.0.0.1:0 with the console at ``/``,
the runbooks, policy and groups of tests/api, and clients signed in as its people.

One server serves a whole module (as in tests/api); each module starts with an empty store."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from runbook_engine.auth.tokens import create_token
from runbook_engine.server.serve import ServeOptions, Server
from runbook_engine.store import Store
from tests.api.conftest import ADMIN, ALICE, BOB, CAROL, DAVE, OUTSIDER, wait_for, write_env

__all__ = ["ADMIN", "ALICE", "BOB", "CAROL", "DAVE", "OUTSIDER", "Console", "csrf_of"]

OPTIONS = ServeOptions(host="127.0.0.1", port=0, grace=5.0, sweep_interval=0.2)

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Console:
    """The running server, its store, and clients of its console."""

    root: Path
    server: Server
    store: Store
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, user: str, roles: list[str] | None = None) -> str:
        return create_token(self.store, user, roles=roles).secret

    def client(self, **kwargs: Any) -> httpx.Client:
        """A browser-like client: cookies kept, redirects not followed (tests look at them)."""
        made = httpx.Client(base_url=self.url, timeout=15.0, **kwargs)
        self.clients.append(made)
        return made

    def sign_in(self, client: httpx.Client, token: str, next_path: str = "/") -> httpx.Response:
        page = client.get("/signin")
        assert page.status_code == 200, page.text
        return client.post(
            "/signin",
            data={"csrf_token": csrf_of(page.text), "token": token, "next": next_path},
        )

    def as_user(self, user: str, roles: list[str] | None = None) -> httpx.Client:
        """A client signed in with a new token of ``user``."""
        made = self.client()
        answer = self.sign_in(made, self.token(user, roles))
        assert answer.status_code == 303, answer.text
        return made

    def form(self, client: httpx.Client, page: str, action: str, **data: str) -> httpx.Response:
        """POST ``data`` to ``action`` with the CSRF token of ``page``, as its form would."""
        html = client.get(page).text
        return client.post(action, data={"csrf_token": csrf_of(html), **data})

    def api(self, user: str) -> httpx.Client:
        """A client of the API (bearer token), to start and inspect runs."""
        made = httpx.Client(
            base_url=self.url + "/api/v1",
            headers={"Authorization": f"Bearer {self.token(user)}"},
            timeout=15.0,
        )
        self.clients.append(made)
        return made

    def start(self, user: str, runbook: str, **params: Any) -> str:
        """A run of ``runbook`` started through the API by ``user``; its id."""
        answer = self.api(user).post("/runs", json={"runbook": runbook, "params": params})
        assert answer.status_code == 201, answer.text
        run_id: str = answer.json()["id"]
        return run_id

    def status(self, run_id: str) -> str:
        record = self.store.get_run(run_id)
        assert record is not None
        return record.status

    def wait_status(self, run_id: str, *statuses: str, timeout: float = 10.0) -> str:
        """The run's status once it is one of ``statuses`` and no engine drives it."""
        wait_for(
            f"run {run_id} to be {' or '.join(statuses)}",
            lambda: (
                self.status(run_id) in statuses and run_id not in self.server.executor.driving()
            ),
            timeout,
        )
        return self.status(run_id)

    def close(self) -> None:
        for made in self.clients:
            made.close()


@contextmanager
def serving(root: Path, extra: Mapping[str, str] | None = None) -> Iterator[Console]:
    """A server with tests/api's runbooks and ``extra`` ones (file name -> YAML) beside them,
    its console signed in with tokens (no OIDC), stopped at the end."""
    with pytest.MonkeyPatch.context() as mp:
        write_env(root, mp)
        for name, text in (extra or {}).items():
            (root / "runbooks" / name).write_text(text, encoding="utf-8")
        for var in ("RUNBOOK_SESSION_KEY", "RUNBOOK_TRUST_PROXY", "RUNBOOK_OIDC_ISSUER"):
            mp.delenv(var, raising=False)
        server = Server(None, OPTIONS)
        server.start()
        made = Console(root, server, server.store)
        try:
            yield made
        finally:
            made.close()
            server.stop()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with serving(tmp_path_factory.mktemp("web")) as made:
        yield made
