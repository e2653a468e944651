"""The remote halves of ``run``, ``submit``, ``resume``, ``approve``, ``reject`` and ``cancel``:
the server records and drives the run; this side sends the request, then follows the run's
events and ends as the local command would, with the same output and exit code.

Nothing here opens a store or reads a runbook file: what this side must know of a runbook
(which parameters are secret, the step order) comes from the source the server runs. Secret
values go in the request body only, never on a line printed here.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import click

from runbook_engine.cli._common import emit_json
from runbook_engine.cli.progress import ConsoleProgress, JsonLog
from runbook_engine.cli.remote.follow import Watcher, current_seq, finish, follow
from runbook_engine.cli.remote.records import fetch_runbook, run_info, run_path
from runbook_engine.client.transport import ApiClient
from runbook_engine.errors import InputRefused, RunbookError
from runbook_engine.runtime.bus import Subscriber
from runbook_engine.spec.loader import LoadedRunbook


def _refuse_inventory(inventory: str | None) -> None:
    if inventory:
        raise InputRefused(
            "--inventory is refused with RUNBOOK_SERVER set: the server runs its steps on the "
            "hosts of its own inventory"
        )


def _subscribers(output: str, log_format: str = "text") -> list[Subscriber]:
    """What a local engine would print with: progress for text, JSON lines on stderr."""
    subscribers: list[Subscriber] = []
    if output == "text":
        subscribers.append(ConsoleProgress())
    if log_format == "json":
        subscribers.append(JsonLog())
    return subscribers


def _inputs(loaded: LoadedRunbook, params: tuple[str, ...]) -> dict[str, str]:
    """``-p`` text with the secret values read from @FILE, ``-`` or RUNBOOK_SECRET_<NAME>."""
    from runbook_engine.cli.secret_input import secret_inputs
    from runbook_engine.spec.params import parse_assignments

    return secret_inputs(loaded.runbook, parse_assignments(params))


def _confirm(loaded: LoadedRunbook, given: Mapping[str, str]) -> None:
    """The local prompt, with the parameters typed and masked from the server's runbook."""
    from runbook_engine.spec.params import redact_params, resolve_params
    from runbook_engine.terminal import printable

    typed = resolve_params(loaded.runbook, given, from_text=True)
    shown = ", ".join(
        f"{k}={printable(v)}" for k, v in redact_params(loaded.runbook, typed).items()
    )
    click.confirm(f"Run {loaded.ref} ({shown or 'no parameters'})?", abort=True)


def _dry_run(api: ApiClient, loaded: LoadedRunbook, given: Mapping[str, str], output: str) -> None:
    from urllib.parse import quote

    from runbook_engine.plan_text import print_steps

    body = {"params": dict(given), "params_from_text": True}
    plan = api.post(f"/runbooks/{quote(loaded.ref, safe='@')}/plan", body)
    if output == "json":
        emit_json(
            {
                "dry_run": True,
                "runbook": plan["runbook"],
                "version": plan["version"],
                "steps": plan["steps"],
            }
        )
    else:
        print_steps(plan["runbook"], plan["version"], plan["digest"], plan["steps"])


def _create(api: ApiClient, loaded: LoadedRunbook, given: Mapping[str, str]) -> dict[str, Any]:
    # the version just read, by number: the run is of the runbook whose parameters were read
    body = {"runbook": loaded.ref, "params": dict(given), "params_from_text": True}
    created: dict[str, Any] = api.post("/runs", body)
    return created


def start(
    ref: str,
    params: tuple[str, ...],
    *,
    dry_run: bool,
    yes: bool,
    no_wait: bool,
    log_format: str,
    inventory: str | None,
    output: str,
) -> None:
    """``runbook run``: the server starts and drives the run; this follows it to its end."""
    from runbook_engine.auth.local import acting_user
    from runbook_engine.core.apply import Layout

    _refuse_inventory(inventory)
    if not dry_run:
        acting_user()  # refuses RUNBOOK_USER: the server acts as the token's user
    with ApiClient.from_env() as api:
        loaded = fetch_runbook(api, ref)
        given = _inputs(loaded, params)
        if dry_run:
            _dry_run(api, loaded, given, output)
            return
        if not yes and sys.stdin.isatty() and output == "text":
            _confirm(loaded, given)
        created = _create(api, loaded, given)
        watcher = Watcher(
            run_info(created),
            _subscribers(output, log_format),
            layout=Layout.of(loaded.runbook),  # folded for the JSON log's status
        )
        detail = follow(api, watcher, wait_for_approval=not no_wait)
    finish(detail, output, message=watcher.reason)


def submit(ref: str, params: tuple[str, ...], *, wait: bool, output: str) -> None:
    """``runbook submit``: the server records and drives the run (it is its own queue)."""
    from runbook_engine.auth.local import acting_user
    from runbook_engine.cli.worker_cmds import submitted

    acting_user()
    with ApiClient.from_env() as api:
        loaded = fetch_runbook(api, ref)
        created = _create(api, loaded, _inputs(loaded, params))
        if not submitted(str(created["id"]), loaded, output, wait=wait):
            return
        watcher = Watcher(run_info(created), _subscribers(output))
        detail = follow(api, watcher, wait_for_approval=True)
    finish(detail, output, message=watcher.reason)


def resume(
    run_id: str,
    choice: str | None,
    params: tuple[str, ...],
    *,
    no_wait: bool,
    inventory: str | None,
    output: str,
) -> None:
    """``runbook resume``: the server continues the run (with ``choice``); this follows it."""
    from runbook_engine.auth.local import acting_user
    from runbook_engine.cli.secret_input import ask_secrets
    from runbook_engine.core.statuses import TERMINAL

    _refuse_inventory(inventory)
    acting_user()
    with ApiClient.from_env() as api:
        before: dict[str, Any] = api.get(run_path(run_id))
        if before["status"] in TERMINAL:
            # a local resume says so and exits with the run's code
            return finish(before, output, message="the run has already finished")
        loaded = fetch_runbook(api, f"{before['runbook']}@{before['version']}")
        given = _inputs(loaded, params)
        blocked = before.get("blocked")
        if isinstance(blocked, dict):
            # what the server lacks to go on: asked for on a terminal, as a local resume does
            needs = [str(n) for n in blocked.get("needs", []) if n not in given]
            given.update({k: str(v) for k, v in ask_secrets(needs).items()})
        body = {"choice": choice, "params": given, "params_from_text": True}
        api.post(run_path(before["id"], "resume"), body)
        watcher = Watcher(run_info(before), _subscribers(output), after=current_seq(before))
        detail = follow(api, watcher, wait_for_approval=not no_wait)
    finish(detail, output, message=watcher.reason)


def decide(
    run_id: str, approve: bool, reason: str, as_user: str | None, no_resume: bool, output: str
) -> None:
    """``runbook approve`` / ``reject``: the server records the decision and drives the run on;
    this follows it until it ends or stops for a person again (``--no-resume``: not at all)."""
    from runbook_engine.auth.local import acting_user
    from runbook_engine.terminal import printable

    acting_user(as_user)  # refuses --as and RUNBOOK_USER: the server knows who decides
    with ApiClient.from_env() as api:
        before: dict[str, Any] = api.get(run_path(run_id))
        verb = "approved" if approve else "rejected"
        answer = api.post(
            run_path(before["id"], "approve" if approve else "reject"), {"reason": reason}
        )
        decided = {
            "run_id": answer["run_id"],
            "step": answer["step"],
            "decision": verb,
            "user": answer["user"],
        }
        if output == "text":
            click.echo(
                f"{verb} step {answer['step']} of run {answer['run_id']} as "
                f"{printable(answer['user'])}"
            )
        follow_after(api, before, decided, no_resume=no_resume, output=output)


def follow_after(
    api: ApiClient,
    before: dict[str, Any],
    done: dict[str, Any],
    *,
    no_resume: bool,
    output: str,
) -> None:
    """After a decision or an input the server recorded (``done``): follow the run the server
    drives on, until it ends or stops for a person again (``no_resume``: not at all)."""
    if no_resume:
        if output == "json":
            emit_json(done)
        else:
            click.echo(
                f"note: the server continues run {done['run_id']} "
                "(--no-resume only stops this command from following it)",
                err=True,
            )
        return
    watcher = Watcher(run_info(before), _subscribers(output), after=current_seq(before))
    detail = follow(api, watcher, wait_for_approval=False)
    finish(detail, output, message=watcher.reason, decided=done)


def cancel(run_id: str, reason: str, output: str) -> None:
    """``runbook cancel``: the server stops the run and rolls it back; this follows it."""
    from runbook_engine.auth.local import acting_user
    from runbook_engine.core.statuses import TERMINAL

    acting_user()
    with ApiClient.from_env() as api:
        before: dict[str, Any] = api.get(run_path(run_id))
        if before["status"] in TERMINAL:
            # as the local command says it (the server answers a 400 for it, exit 2)
            raise RunbookError(f"run {before['id']} has already finished ({before['status']})")
        answer = api.post(run_path(before["id"], "cancel"), {"reason": reason})
        if output == "text":
            click.echo(f"cancel requested for run {answer['run_id']}")
        watcher = Watcher(run_info(before), _subscribers(output), after=current_seq(before))
        detail = follow(api, watcher, wait_for_approval=False)
    finish(detail, output, message=watcher.reason)
