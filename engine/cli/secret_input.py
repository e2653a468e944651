"""Secret parameters given without putting them on the command line.

``-p token=s3cr3t`` is readable by every local user in ``ps`` for as long as the run lasts,
approval waits included. So for a parameter the runbook declares ``secret``:

* ``-p token=@/path/to/file``: the file's content (one trailing newline dropped);
* ``-p token=-``: asked for on the terminal without echo (one line of stdin when it is not a
  terminal: ``vault read ... | runbook run x -p token=-``);
* not given at all: ``RUNBOOK_SECRET_TOKEN`` from the environment, when it is set.

Other parameters keep their text as it is (``-p path=@home`` stays ``@home``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import click

from runbook_engine.errors import ParameterError
from runbook_engine.spec.models import Runbook

__all__ = ["ask_secrets", "env_name", "read_file", "secret_inputs"]

FROM_PROMPT = "-"
FROM_FILE = "@"


def env_name(name: str) -> str:
    return f"RUNBOOK_SECRET_{name.upper()}"


def read_file(name: str, path: str) -> str:
    """A value given as ``@PATH``: the file's content, one trailing newline dropped."""
    return _read_file(name, path)


def _read_file(name: str, path: str) -> str:
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(name, f"cannot read {path}: {exc}") from None
    return text[:-1] if text.endswith("\n") else text


def _prompt(name: str) -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise ParameterError(name, "`-` reads the value from stdin, which was empty")
        return line.rstrip("\n")
    value: str = click.prompt(f"{name} (secret)", hide_input=True, err=True)
    return value


def secret_inputs(runbook: Runbook, given: Mapping[str, str]) -> dict[str, str]:
    """``given`` (``-p`` text) with the secret parameters read from where they were pointed
    to, and those left out taken from ``RUNBOOK_SECRET_<NAME>`` where set."""
    out = dict(given)
    for name, param in runbook.parameters.items():
        if not param.secret:
            continue
        value = out.get(name)
        if value is None:
            env = os.environ.get(env_name(name))
            if env is not None:
                out[name] = env
        elif value == FROM_PROMPT:
            out[name] = _prompt(name)
        elif value.startswith(FROM_FILE):
            out[name] = _read_file(name, value[len(FROM_FILE) :])
    return out


def ask_secrets(names: list[str]) -> dict[str, str]:
    """For a run that continues here and needs secrets this process lacks: ask on a terminal
    (nothing without one: the run then says what it needs and waits)."""
    if not sys.stdin.isatty():
        return {}
    return {name: _prompt(name) for name in names}
