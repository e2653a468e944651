"""Follow a run the server drives, from its event stream, and end the way a local command that
drove it would: the progress lines while it goes, then ``_finish``'s summary and exit code.

The server never parks a thread at an approval, so its stream can end when the run stops for
a person (``until=settled``). A command that waits through approvals (``run``, ``resume``,
``submit --wait``) then waits for the run's next event and follows on; one that does not
(``--no-wait``, a decision, a cancel) finishes there.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import click

from runbook_engine.cli._common import echo_error, emit_json
from runbook_engine.cli.remote.records import bus_event, run_path
from runbook_engine.client.transport import ApiClient, ServerUnreachable
from runbook_engine.core.apply import Layout, apply
from runbook_engine.core.events import EventType
from runbook_engine.core.state import RunState
from runbook_engine.core.statuses import EXIT_WAITING, TERMINAL, WAITING
from runbook_engine.runtime.bus import RunInfo, Subscriber

#: a stream lost after it worked (a proxy's idle cut, a server restart) is opened again after
#: its last event this many times in a row, a second apart, before the command gives up
RECONNECTS = 5


class Watcher:
    """Hands each event of the stream to the subscribers a local engine would have (the
    progress printer, the JSON log); folds the run's state when it knows the runbook."""

    def __init__(
        self,
        run: RunInfo,
        subscribers: list[Subscriber],
        *,
        layout: Layout | None = None,
        after: int = 0,
        state: RunState | None = None,
    ) -> None:
        self.run = run
        self.subscribers = subscribers
        self.layout = layout
        self.seq = after
        self.state = state or RunState()
        #: why the run finished, as its ``run.finished`` says (a lock refused: exit 6)
        self.reason = ""

    def on(self, data: Mapping[str, Any]) -> None:
        event = bus_event(self.run.id, data)
        self.seq = event.seq
        if self.layout is not None:
            self.state = apply(self.layout, self.state, event.type, event.data, event.ts, event.seq)
        if event.type == EventType.RUN_FINISHED:
            self.reason = str(event.data.get("reason") or "")
        for subscriber in self.subscribers:
            subscriber.on_event(self.run, event, self.state)


def stream(
    api: ApiClient,
    run_id: str,
    handle: Callable[[Mapping[str, Any]], None],
    *,
    after: int = 0,
    first_only: bool = False,
    **query: Any,
) -> None:
    """The run's events after ``after``, each given to ``handle``, until the stream's ``end``
    (``first_only``: until the first event, which is how a wait for news ends). ``query``:
    the stream's ``follow``, ``until``, ``step``, ``host``."""
    lost = 0
    opened = False
    seq = after
    path = run_path(run_id, "logs")
    while True:
        try:
            with api.stream(path, after=seq, **query) as messages:
                opened = True
                for message in messages:
                    if message.event == "end":
                        return
                    lost = 0
                    data = message.json()
                    handle(data)
                    seq = int(data["seq"])
                    if first_only:
                        return
        except ServerUnreachable:
            lost += 1
            if not opened or lost > RECONNECTS:
                raise  # never reached, or gone for good
            time.sleep(1.0)
            continue
        # closed without its end message: open it again after the last event seen
        lost += 1
        if lost > RECONNECTS:
            raise ServerUnreachable(f"{api.server} keeps closing the stream of the run's events")


def follow(api: ApiClient, watcher: Watcher, *, wait_for_approval: bool) -> dict[str, Any]:
    """Follow the run until it ends or stops for a person; returns its detail then."""
    run_id = watcher.run.id
    try:
        while True:
            stream(api, run_id, watcher.on, after=watcher.seq, follow=True, until="settled")
            detail: dict[str, Any] = api.get(run_path(run_id))
            if (
                wait_for_approval
                and detail["status"] in WAITING
                and not isinstance(detail.get("blocked"), dict)
            ):
                # the run waits for a person: its next event (a decision, a timeout) ends the
                # wait
                stream(api, run_id, watcher.on, after=watcher.seq, follow=True, first_only=True)
                continue
            return detail
    except KeyboardInterrupt:
        # unlike a local run, this one does not stop with the command: say where it is
        click.echo(
            f"\nrun {run_id} goes on on the server: runbook logs --follow {run_id}", err=True
        )
        raise


def finish(
    detail: Mapping[str, Any],
    output: str,
    *,
    message: str = "",
    decided: Mapping[str, Any] | None = None,
) -> None:
    """Print the end of the run as ``_finish`` does, and exit with its code. A run the server
    cannot drive on for want of secrets exits 5, as a local continuation does."""
    from runbook_engine.cli.run_cmds import _finish
    from runbook_engine.service import RunOutcome

    run_id, status = str(detail["id"]), str(detail["status"])
    blocked = detail.get("blocked")
    if isinstance(blocked, dict) and status not in TERMINAL:
        reason = str(blocked.get("reason") or "it needs secret parameters")
        if output == "json":
            emit_json({**(decided or {"run_id": run_id, "status": status}), "blocked": reason})
        elif any("." in str(n) for n in blocked.get("needs", [])):
            echo_error(f"the run cannot go on: {reason}")  # says how: runbook input
        else:
            echo_error(f"the run cannot go on: {reason}; give them with runbook resume {run_id}")
        sys.exit(EXIT_WAITING)
    state = RunState.from_dict(detail["state"]) if detail.get("state") else RunState()
    _finish(RunOutcome(run_id, status, state, message=message), output, list(detail["order"]))


def current_seq(detail: Mapping[str, Any]) -> int:
    """The newest event of a run, as its detail says: a command that acts on the run shows
    what happens from there on."""
    state = detail.get("state") or {}
    return int(state.get("last_seq") or 0)
