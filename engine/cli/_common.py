"""Helpers shared by the CLI commands: errors without tracebacks, JSON output, the store."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from runbook_engine.core.statuses import EXIT_INVALID, EXIT_NEEDS_HUMAN
from runbook_engine.errors import (
    ApprovalError,
    CatalogError,
    InputRefused,
    ParameterError,
    RunbookError,
    RunbookInvalid,
    RunNotFound,
    StoreNotFound,
    StoreWriteError,
    TemplateError,
)
from runbook_engine.terminal import printable

if TYPE_CHECKING:
    from runbook_engine.runtime.bus import Subscriber
    from runbook_engine.service import Engine
    from runbook_engine.spec.loader import LoadedRunbook
    from runbook_engine.store import Store

F = TypeVar("F", bound=Callable[..., Any])

_INPUT_ERRORS = (
    RunbookInvalid,
    InputRefused,
    ParameterError,
    CatalogError,
    TemplateError,
    ApprovalError,
    RunNotFound,
    StoreNotFound,
)


def output_option(f: F) -> F:
    return click.option(
        "--output",
        "-o",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="text for people, json for scripts",
    )(f)


def as_user_option(f: F) -> F:
    """``--as USER``: who decides or gives input, on a local store (a server knows who)."""
    return click.option(
        "--as",
        "as_user",
        help="act as this user (default: RUNBOOK_USER or login name); a local store only: "
        "refused with RUNBOOK_SERVER",
    )(f)


def inventory_option(f: F) -> F:
    """``--inventory FILE``: the hosts a run's SSH steps reach (see ``use_inventory``)."""
    return click.option(
        "--inventory",
        "-i",
        type=click.Path(exists=True, dir_okay=False),
        help="hosts inventory (YAML or Ansible INI); default RUNBOOK_INVENTORY or ./inventory.*",
    )(f)


def use_inventory(path: str | None) -> None:
    """Point this process's actions at ``path`` (``--inventory``), if given: they find the
    inventory through the environment, like every other setting."""
    if path:
        import os

        os.environ["RUNBOOK_INVENTORY"] = os.path.abspath(path)


def params_option(f: F) -> F:
    """``-p key=value``, repeatable: a runbook parameter."""
    return click.option(
        "-p",
        "--param",
        "params",
        multiple=True,
        metavar="KEY=VALUE",
        help="a runbook parameter; repeat for several. A secret one: KEY=@FILE, KEY=- (asked "
        "for, hidden) or left out for RUNBOOK_SECRET_<KEY>",
    )(f)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, sort_keys=False))


def echo_error(message: object) -> None:
    """``error: ...`` on stderr; the message may quote parameters or output, so it is made
    printable first."""
    click.echo(f"error: {printable(message, newlines=True)}", err=True)


def user_errors(f: F) -> F:
    """User mistakes become one clear message and exit code 2, never a traceback.

    A store that refused a write exits 3, like a run that needs attention: the engine may have
    acted without recording it, so a person must look before anything runs again."""

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
                    echo_error(problem)
            sys.exit(EXIT_INVALID)
        except _INPUT_ERRORS as exc:
            echo_error(exc)
            sys.exit(EXIT_INVALID)
        except StoreWriteError as exc:
            echo_error(
                f"{exc}\nnothing was rolled back: what the store records may be behind what "
                "was done; check the run (runbook show RUN) before resuming it"
            )
            sys.exit(EXIT_NEEDS_HUMAN)
        except RunbookError as exc:
            echo_error(exc)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the signature


def open_store(*, create: bool = True) -> Store:
    """The store of ``RUNBOOK_DB``. Commands that only look (``create=False``) never create
    one: a missing store is an error naming where it was looked for."""
    from runbook_engine.store import Store

    return Store.open(create=create)


def existing_store() -> Store | None:
    """The store when there is one (nothing is created), for commands that can do without:
    a location whose folder is missing is still an error, a mistake rather than no store."""
    try:
        return open_store(create=False)
    except StoreNotFound as exc:
        if exc.folder:
            raise
        return None


def resolve_refs(*refs: str) -> list[LoadedRunbook]:
    """Runbooks by NAME, NAME@VERSION or PATH for commands that only read them (plan, diff,
    run --dry-run): the files first, then the versions in the store when there is one. No
    store is created; without one, the files are all there is."""
    from runbook_engine.catalog import Catalog

    catalog = Catalog()
    store = existing_store()
    try:
        return [catalog.resolve(ref, store) for ref in refs]
    finally:
        if store is not None:
            store.close()


def make_engine(
    store: Store, *, progress: bool, json_logs: bool, stream: TextIO | None = None
) -> Engine:
    """The engine the CLI drives runs with: progress on the terminal, JSON event lines, and
    continuations (after ``approve``, ``reject``, ``cancel``) handed to the workers under
    ``RUNBOOK_EXECUTOR=queue``, else to a ``runbook serve`` watching the store: it holds the
    secrets of the runs it started and posts to Slack as it drives. With neither, the CLI
    continues the run itself."""
    import socket

    from runbook_engine.auth.audit import AuditTrail
    from runbook_engine.cli.progress import ConsoleProgress, JsonLog
    from runbook_engine.presence import serve_watching
    from runbook_engine.service import Engine, Taker
    from runbook_engine.worker.queue import enqueue_if_queued

    subscribers: list[Subscriber] = []
    if progress:
        subscribers.append(ConsoleProgress(stream))
    if json_logs:
        subscribers.append(JsonLog())

    def hand_off(run_id: str) -> Taker | None:
        if enqueue_if_queued(store, run_id):
            return "queued"
        # serve's store watcher sees the decision this process just committed within a second
        return "served" if serve_watching(store) else None

    # local mode: the acting user is a name (auth.local), proved by being able to open the store
    trail = AuditTrail(store, via="local", source=f"cli@{socket.gethostname()}")
    return Engine(store=store, subscribers=subscribers, hand_off=hand_off, audit=trail)
