"""Fixtures: ``runbook serve``'s server in-process on 127.0.0.1:0 with the API at /api/v1, a
store of its own, a policy file, a groups file, the loopback identity provider, and a few
small runbooks written for these tests.

One server serves a whole module (starting one per test would cost more than the tests), so
each module starts with an empty store and its tests make the runs they look at."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from joserfc.jwk import Key

from runbook_engine.auth.tokens import create_token
from runbook_engine.core.statuses import next_status
from runbook_engine.server.serve import ServeOptions, Server
from runbook_engine.store import EventRecord, Store
from tests.auth.idp import AUDIENCE, FakeIdp, serve_idp

T = TypeVar("T")

ALICE = "alice@example.com"  # starts runs; an approver of the gates too
BOB = "bob@example.com"  # approver
CAROL = "carol@example.com"  # approver
DAVE = "dave@example.com"  # staff, but in no runbook's lists
OUTSIDER = "outsider@example.com"  # not staff: sees only what names them
ADMIN = "admin@example.com"  # the policy's admin

OPTIONS = ServeOptions(host="127.0.0.1", port=0, grace=5.0, sweep_interval=0.2)

POLICY = f"""\
admins: [{ADMIN}]
defaults:
  view: ["@staff"]
"""

GROUPS = f"""\
staff: [{ALICE}, {BOB}, {CAROL}, {DAVE}]
"""

HELLO_1 = """\
apiVersion: runbook/v1
name: hello
version: 1
description: greets
parameters:
  who: {type: string, default: world}
steps:
  - {id: greet, action: log, with: {message: "hello {{ params.who }}"}}
"""

HELLO_2 = """\
apiVersion: runbook/v1
name: hello
version: 2
description: greets, more than once
parameters:
  who: {type: string, default: world, pattern: "[a-z]+"}
  count: {type: integer, default: 1, minimum: 1, maximum: 5}
  loud: {type: boolean, default: false}
  tags: {type: list, default: []}
steps:
  - id: greet
    action: log
    with: {message: "hello {{ params.who }} x{{ params.count }} [{{ params.tags | join('+') }}]"}
  - {id: bye, action: log, with: {message: "bye {{ params.who }}"}}
"""

# two approvals from three approvers, alice among them (she is also the one who starts it)
GATE = f"""\
apiVersion: runbook/v1
name: gate
version: 1
description: two people approve
permissions:
  run: [{ALICE}, "@deployers"]
steps:
  - {{id: prepare, action: log, with: {{message: preparing}}}}
  - id: approve
    approval:
      message: go?
      approvers: [{ALICE}, {BOB}, {CAROL}]
      required: 2
  - {{id: apply, action: log, with: {{message: applied}}}}
"""

# one approval (the default), requester excluded by default
GATE1 = f"""\
apiVersion: runbook/v1
name: gate1
version: 1
description: one person approves
permissions:
  run: [{ALICE}]
  approve: [{ALICE}, {BOB}, {CAROL}]
steps:
  - {{id: prepare, action: log, with: {{message: preparing}}}}
  - id: approve
    approval: {{message: go?}}
  - {{id: apply, action: log, with: {{message: applied}}}}
"""

HOSTS = """\
apiVersion: runbook/v1
name: hosts
version: 1
description: output as SSH steps write it, one line per host
steps:
  - id: fleet
    action: shell.command
    with: {command: "printf 'web1: up\\nweb2: down\\nweb1: still up\\n'"}
  - {id: after, action: log, with: {message: done}}
"""

# non-idempotent steps and a rollback, for runs whose engine dies in one (see ``crashed``)
CRASHY = """\
apiVersion: runbook/v1
name: crashy
version: 1
description: steps that must not run twice on their own
parameters:
  fail: {type: boolean, default: false}
steps:
  - id: prep
    action: shell.command
    with: {command: "true"}
    rollback: {action: shell.command, with: {command: "true"}}
  - {id: work, action: shell.command, with: {command: "true"}}
  - id: check
    action: assert
    with: {that: "{{ not params.fail }}", message: told to fail}
  - {id: after, action: log, with: {message: after}}
"""

LEADS = """\
apiVersion: runbook/v1
name: leads-only
version: 1
description: only the IdP group sre-leads runs it
permissions:
  run: ["@sre-leads"]
steps:
  - {id: one, action: log, with: {message: one}}
"""

OUTSIDE = f"""\
apiVersion: runbook/v1
name: outside-job
version: 1
description: the one runbook the outsider is named in
permissions:
  run: [{OUTSIDER}]
steps:
  - {{id: one, action: log, with: {{message: one}}}}
"""

NIGHTLY = """\
apiVersion: runbook/v1
name: nightly
version: 1
description: a scheduled check
schedule:
  - {cron: "0 3 * * *", timezone: UTC, params: {}}
steps:
  - {id: check, action: log, with: {message: checked}}
"""

RUNBOOKS = {
    "hello-1.yaml": HELLO_1,
    "hello.yaml": HELLO_2,
    "gate.yaml": GATE,
    "gate1.yaml": GATE1,
    "hosts.yaml": HOSTS,
    "crashy.yaml": CRASHY,
    "leads.yaml": LEADS,
    "outside.yaml": OUTSIDE,
    "nightly.yaml": NIGHTLY,
}


def write_env(root: Path, mp: pytest.MonkeyPatch) -> None:
    """The tests' runbooks, policy and groups in ``root``, and the environment naming them
    (the shipped runbooks stay out: the tests count what the catalog lists)."""
    books = root / "runbooks"
    books.mkdir()
    for name, text in RUNBOOKS.items():
        (books / name).write_text(text, encoding="utf-8")
    (root / "policy.yaml").write_text(POLICY, encoding="utf-8")
    (root / "groups.yaml").write_text(GROUPS, encoding="utf-8")
    mp.chdir(root)
    mp.setenv("RUNBOOK_DB", str(root / "runbook.db"))
    mp.setenv("RUNBOOK_POLICY", str(root / "policy.yaml"))
    mp.setenv("RUNBOOK_GROUPS", str(root / "groups.yaml"))
    for var in (
        "RUNBOOK_PATH",
        "RUNBOOK_USER",
        "RUNBOOK_SERVER",
        "RUNBOOK_LOG_FORMAT",
        "RUNBOOK_OIDC_USER_CLAIM",
        "RUNBOOK_OIDC_GROUPS_CLAIM",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
    ):
        mp.delenv(var, raising=False)


@dataclass(frozen=True)
class Sse:
    """One server-sent event: ``id`` is the event's seq (none on ``end``)."""

    id: str | None
    event: str
    data: dict[str, Any]


def read_sse(
    client: httpx.Client, path: str, headers: dict[str, str] | None = None, **params: Any
) -> list[Sse]:
    """Every message of an SSE stream, read until the server ends it (after ``end``)."""
    out: list[Sse] = []
    fields: dict[str, str] = {}
    with client.stream("GET", path, params=params, headers=headers or {}) as answer:
        assert answer.status_code == 200, answer.read().decode()
        assert answer.headers["content-type"].startswith("text/event-stream")
        for line in answer.iter_lines():
            if line.startswith(":"):
                continue  # a keep-alive comment
            if line:
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value
                continue
            if fields:
                data = json.loads(fields.get("data", "null"))
                out.append(Sse(fields.get("id"), fields.get("event", "message"), data))
                fields = {}
    return out


def crashed(store: Store, source: str, run_id: str, upto: Callable[[EventRecord], bool]) -> None:
    """A copy of run ``source``'s log up to (and with) the first event ``upto`` picks, as an
    engine that died there leaves it: active, owned by nobody, its last step in flight."""
    record = store.get_run(source)
    assert record is not None
    events = store.events(source)
    cut = next(i for i, e in enumerate(events) if upto(e))
    store.create_run(
        run_id,
        runbook=record.runbook,
        version=record.version,
        digest=record.digest,
        params=record.params,
        requester=record.requester,
    )
    status = "pending"
    for event in events[1 : cut + 1]:  # create_run wrote run.created
        status = next_status(status, event.type, event.data)
        store.append_event(run_id, event.type, event.data, step_id=event.step_id, status=status)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    """``probe``'s first truthy answer, or a failure naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class Api:
    """The running server, its store, and clients for it."""

    root: Path
    server: Server
    store: Store
    idp: FakeIdp
    idp_key: Key
    clients: list[httpx.Client] = field(default_factory=list)
    _admin: httpx.Client | None = None

    @property
    def url(self) -> str:
        return self.server.url + "/api/v1"

    def token(
        self, user: str, roles: list[str] | None = None, lifetime: timedelta | None = None
    ) -> str:
        return create_token(self.store, user, roles=roles, lifetime=lifetime).secret

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        """A client of the API, authenticated by ``token`` when one is given."""
        headers = bearer(token) if token else {}
        made = httpx.Client(base_url=self.url, headers=headers, timeout=15.0, **kwargs)
        self.clients.append(made)
        return made

    def as_user(self, user: str, roles: list[str] | None = None) -> httpx.Client:
        return self.client(self.token(user, roles))

    def jwt(self, **claims: Any) -> str:
        return self.idp.token(self.idp_key, **claims)

    def run(self, run_id: str) -> dict[str, Any]:
        answer = self.as_admin.get(f"/runs/{run_id}")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def wait_status(self, run_id: str, *statuses: str, timeout: float = 10.0) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            body = self.run(run_id)
            return body if body["status"] in statuses else None

        return wait_for(f"run {run_id} to be {' or '.join(statuses)}", probe, timeout)

    def wait_settled(self, run_id: str, *statuses: str) -> dict[str, Any]:
        """The run in one of ``statuses`` and no longer driven by the server (a decision made
        now finds it where it stopped)."""
        body = self.wait_status(run_id, *statuses)
        wait_for(f"run {run_id} to be let go", lambda: run_id not in self.driving())
        return body

    def driving(self) -> set[str]:
        return self.server.executor.driving()

    @property
    def as_admin(self) -> httpx.Client:
        if self._admin is None:
            self._admin = self.as_user(ADMIN)
        return self._admin

    def close(self) -> None:
        for made in self.clients:
            made.close()


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeIdp]:
    with serve_idp() as served:
        yield served


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, idp: FakeIdp) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("api")
    key = idp.publish(idp.new_key())
    with pytest.MonkeyPatch.context() as mp:
        write_env(root, mp)
        mp.setenv("RUNBOOK_OIDC_ISSUER", idp.issuer)
        mp.setenv("RUNBOOK_OIDC_AUDIENCE", AUDIENCE)
        server = Server(None, OPTIONS)
        server.start()
        made = Api(root, server, server.store, idp, key)
        try:
            yield made
        finally:
            made.close()
            server.stop()
