"""Fixtures: ``runbook serve`` in-process on 127.0.0.1:0 with its own store and runbooks, and
a CLI run as a separate process that has neither: no store, no runbook files, no database
settings, only ``RUNBOOK_SERVER`` and ``RUNBOOK_TOKEN``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runbook_engine.auth.tokens import create_token
from runbook_engine.server.serve import ServeOptions, Server

#: the installed command, as a user runs it
RUNBOOK = str(Path(sys.executable).parent / "runbook")

#: the policy file of the server: who administers it
POLICY = "admins: [root@example.com]\n"

#: environment variables a client process must not see: they would point it at a store or at
#: runbook files, which client mode must not need
_LOCAL_ONLY = ("RUNBOOK_DB", "RUNBOOK_PATH", "RUNBOOK_USER", "RUNBOOK_GROUPS", "RUNBOOK_POLICY")


@dataclass
class Remote:
    """A running server, and tokens for its users."""

    server: Server
    home: Path  # the client's home and working directory: empty
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, user: str, roles: list[str] | None = None) -> str:
        key = f"{user}:{','.join(roles or [])}"
        if key not in self.tokens:
            made = create_token(self.server.store, user, roles=roles)
            self.tokens[key] = made.secret
        return self.tokens[key]

    def cli(
        self,
        *args: str,
        user: str = "alice@example.com",
        roles: list[str] | None = None,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """``runbook ARGS`` as a client of the server, acting with a token of ``user``."""
        return subprocess.run(
            [RUNBOOK, *args],
            check=False,  # the exit code is what the tests look at
            cwd=self.home,
            env=self.environment(user, roles, env),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def environment(
        self,
        user: str = "alice@example.com",
        roles: list[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The environment of a client process: the server and a token, nothing local."""
        clean = {k: v for k, v in os.environ.items() if k not in _LOCAL_ONLY}
        clean.update(
            HOME=str(self.home),
            XDG_DATA_HOME=str(self.home / "data"),
            RUNBOOK_SERVER=self.url,
            RUNBOOK_TOKEN=self.token(user, roles),
        )
        clean.update(env or {})
        return clean

    def spawn(
        self,
        *args: str,
        user: str = "alice@example.com",
        roles: list[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[str]:
        """``runbook ARGS`` started in the background (to watch what it prints as it goes)."""
        return subprocess.Popen(
            [RUNBOOK, *args],
            cwd=self.home,
            env=self.environment(user, roles, env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def local_files(self) -> list[Path]:
        """What the client side wrote that only a local store would: none, in client mode."""
        return [p for p in self.home.rglob("*") if p.suffix in (".db", ".sqlite")]


def write_runbooks(folder: Path, books: Mapping[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in books.items():
        (folder / f"{name}.yaml").write_text(text)


@pytest.fixture
def remote_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Mapping[str, str]], Remote]]:
    """Start a server with these runbooks (name → YAML); stopped at the end of the test."""
    started: list[Server] = []

    def start(books: Mapping[str, str]) -> Remote:
        side = tmp_path / "server"
        write_runbooks(side / "runbooks", books)
        (side / "policy.yaml").write_text(POLICY)
        monkeypatch.chdir(side)
        monkeypatch.setenv("RUNBOOK_DB", str(side / "runbook.db"))
        monkeypatch.setenv("RUNBOOK_PATH", str(side / "runbooks"))
        monkeypatch.setenv("RUNBOOK_POLICY", str(side / "policy.yaml"))
        monkeypatch.delenv("RUNBOOK_SERVER", raising=False)
        monkeypatch.delenv("RUNBOOK_USER", raising=False)
        for var in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
            monkeypatch.delenv(var, raising=False)
        server = Server(None, ServeOptions(port=0, sweep_interval=0.5, grace=5.0))
        server.start()
        started.append(server)
        home = tmp_path / "client"
        home.mkdir(exist_ok=True)
        return Remote(server, home)

    yield start
    for server in started:
        server.stop()
