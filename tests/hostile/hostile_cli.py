"""Run the installed ``runbook`` command the way CI does (no terminal, no stdin) in a fresh
folder with its own SQLite store, and check what every hostile run must satisfy."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_engine.core.statuses import NEEDS_ATTENTION, TERMINAL, WAITING_APPROVAL

RUNBOOK_BIN = Path(sys.executable).parent / "runbook"
#: a run of a hostile runbook must end within this (templates have a 10 s budget at most)
RUN_TIMEOUT = 60.0


@dataclass(frozen=True)
class Done:
    code: int
    out: bytes
    err: bytes

    @property
    def text(self) -> str:
        return (self.out + self.err).decode("utf-8", "replace")


@dataclass
class Sandbox:
    """A folder with ``runbooks/`` and a store, and the environment the CLI runs with."""

    root: Path
    secret: str
    outputs: list[Done]

    @property
    def store_files(self) -> list[Path]:
        return sorted(self.root.glob("runbook.db*"))

    def write(self, name: str, text: str) -> Path:
        path = self.root / "runbooks" / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    def cli(self, *args: str | bytes) -> Done:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "LC_ALL": "C.UTF-8",
            "CI": "true",
            "RUNBOOK_DB": str(self.root / "runbook.db"),
            "RUNBOOK_PATH": str(self.root / "runbooks"),
            "RUNBOOK_USER": "alice",
            "RUNBOOK_SECRET_TOKEN": self.secret,
        }
        proc = subprocess.run(
            [str(RUNBOOK_BIN), *args],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        done = Done(proc.returncode, proc.stdout, proc.stderr)
        self.outputs.append(done)
        assert b"Traceback" not in proc.stdout + proc.stderr, done.text
        return done

    def run(self, runbook: str, params: Sequence[bytes] = ()) -> tuple[Done, dict[str, Any] | None]:
        """``runbook run``; the run as ``runbook show RUN -o json`` gives it (None when the
        run was refused before it was created, which must then say why in one line)."""
        args: list[str | bytes] = ["run", runbook, "--yes", "-o", "json"]
        for param in params:
            args += ["-p", param]
        done = self.cli(*args)
        try:
            run_id = json.loads(done.out)["run_id"]
        except (ValueError, KeyError, TypeError):
            assert done.code == 2, done.text  # refused input: the invalid-input exit code
            assert done.err.startswith(b"error: "), done.text
            return done, None
        shown = self.cli("show", run_id, "-o", "json")
        assert shown.code == 0, shown.text
        run: dict[str, Any] = json.loads(shown.out)
        return done, run


@contextmanager
def sandbox(secret: str) -> Iterator[Sandbox]:
    # a folder per example: hypothesis runs many examples in one test function
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        root = Path(tmp)
        (root / "runbooks").mkdir()
        yield Sandbox(root, secret, [])


def assert_settled(done: Done, run: dict[str, Any]) -> None:
    """The run ended, or waits for someone with a reason; the exit code says which."""
    status = run["status"]
    assert status in TERMINAL or status in (NEEDS_ATTENTION, WAITING_APPROVAL), status
    if status == NEEDS_ATTENTION:
        attention = run["state"]["attention"] or {}
        assert attention.get("reason"), run["state"]
    assert json.loads(done.out)["status"] == status
    assert done.code == json.loads(done.out)["exit_code"]


def plain_forms(secret: str) -> list[bytes]:
    return [secret.encode()]


def derived_forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [
        secret.upper().encode(),
        secret.lower().encode(),
        base64.b64encode(raw).rstrip(b"="),
    ]


def leaks(box: Sandbox, forms: Sequence[bytes]) -> list[str]:
    """Where any of ``forms`` shows: a store file, or what a command printed."""
    found: list[str] = []
    for path in box.store_files:
        data = path.read_bytes()
        found += [f"{path.name}: {form!r}" for form in forms if form in data]
    for i, done in enumerate(box.outputs):
        found += [f"output {i}: {form!r}" for form in forms if form in done.out + done.err]
    return found
