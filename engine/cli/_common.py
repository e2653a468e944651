"""Helpers shared by the CLI commands: errors without tracebacks, JSON output, the store."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from runbook_engine.core.statuses import EXIT_INVALID
from runbook_engine.errors import (
    ApprovalError,
    CatalogError,
    ParameterError,
    RunbookError,
    RunbookInvalid,
    TemplateError,
)

if TYPE_CHECKING:
    from runbook_engine.runtime.bus import Subscriber
    from runbook_engine.service import Engine
    from runbook_engine.store import Store

F = TypeVar("F", bound=Callable[..., Any])

_INPUT_ERRORS = (RunbookInvalid, ParameterError, CatalogError, TemplateError, ApprovalError)


def output_option(f: F) -> F:
    return click.option(
        "--output",
        "-o",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="text for people, json for scripts",
    )(f)


def params_option(f: F) -> F:
    """``-p key=value``, repeatable: a runbook parameter."""
    return click.option(
        "-p",
        "--param",
        "params",
        multiple=True,
        metavar="KEY=VALUE",
        help="a runbook parameter; repeat for several",
    )(f)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, sort_keys=False))


def user_errors(f: F) -> F:
    """User mistakes become one clear message and exit code 2, never a traceback."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except RunbookInvalid as exc:
            output = kwargs.get("output", "text")
            if output == "json":
                emit_json({"valid": False, "problems": [p.as_dict() for p in exc.problems]})
            else:
                for problem in exc.problems:
                    click.echo(f"error: {problem}", err=True)
            sys.exit(EXIT_INVALID)
        except _INPUT_ERRORS as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INVALID)
        except RunbookError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the signature


def open_store() -> Store:
    from runbook_engine.store import Store

    return Store.open()


def make_engine(
    store: Store, *, progress: bool, json_logs: bool, stream: TextIO | None = None
) -> Engine:
    """The engine the CLI drives runs with: progress on the terminal, JSON event lines, and
    under ``RUNBOOK_EXECUTOR=queue`` continuations handed to the workers."""
    from runbook_engine.cli.progress import ConsoleProgress, JsonLog
    from runbook_engine.service import Engine
    from runbook_engine.worker.queue import enqueue_if_queued

    subscribers: list[Subscriber] = []
    if progress:
        subscribers.append(ConsoleProgress(stream))
    if json_logs:
        subscribers.append(JsonLog())

    def hand_off(run_id: str) -> bool:
        return enqueue_if_queued(store, run_id)

    return Engine(store=store, subscribers=subscribers, hand_off=hand_off)
