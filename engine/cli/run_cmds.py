"""Commands that start or continue runs: run, resume, approve, reject, cancel."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

import click

from runbook_engine.auth.local import server_mode
from runbook_engine.cli._common import (
    as_user_option,
    echo_error,
    emit_json,
    inventory_option,
    make_engine,
    open_store,
    output_option,
    params_option,
    resolve_refs,
    use_inventory,
    user_errors,
)
from runbook_engine.cli.secret_input import ask_secrets, secret_inputs

if TYPE_CHECKING:
    from runbook_engine.service import Continuation, Engine, RunOutcome
    from runbook_engine.spec.loader import LoadedRunbook


def _finish(outcome: RunOutcome, output: str, order: list[str]) -> None:
    from runbook_engine.core.statuses import NEEDS_ATTENTION, WAITING_APPROVAL, WAITING_INPUT

    state = outcome.state
    if output == "json":
        emit_json(
            {
                "run_id": outcome.run_id,
                "status": outcome.status,
                "exit_code": outcome.exit_code,
                "message": outcome.message,
                "waiting_on": outcome.waiting_on,
                "failure": state.failure,
                "attention": state.attention,
                "steps": {
                    sid: {
                        "status": st.status,
                        "attempts": st.attempt,
                        "duration": st.duration,
                        "outputs": st.outputs,
                        "error": st.error,
                    }
                    for sid, st in state.steps.items()
                },
            }
        )
        sys.exit(outcome.exit_code)
    from rich.console import Console
    from rich.markup import escape

    from runbook_engine.cli.progress import summary_table
    from runbook_engine.terminal import printable

    console = Console(soft_wrap=True, highlight=False)
    console.print(summary_table(state, order))
    colour = {"succeeded": "green", WAITING_APPROVAL: "magenta", WAITING_INPUT: "magenta"}.get(
        outcome.status, "red"
    )
    line = f"run {outcome.run_id}: [{colour}]{outcome.status}[/{colour}]"
    # the reason quotes the failing step's error: output and parameters, not markup
    if outcome.message:
        line += f" — {escape(printable(outcome.message))}"
    elif state.failure:
        where = f"{state.failure['step']}: " if state.failure.get("step") else ""
        line += f" — {escape(printable(where + str(state.failure.get('message'))))}"
    console.print(line)
    if outcome.status == WAITING_APPROVAL:
        console.print(
            f"approve with: runbook approve {outcome.waiting_on or outcome.run_id}   "
            f"(or reject with --reason; then the run continues)"
        )
    if outcome.status == WAITING_INPUT:
        console.print(
            f"give the input with: runbook input {outcome.waiting_on or outcome.run_id} "
            "--set NAME=VALUE ...   (then the run continues)"
        )
    if outcome.status == NEEDS_ATTENTION and outcome.waiting_on:
        console.print(
            f"see: runbook show {outcome.waiting_on}; then runbook resume "
            f"{outcome.waiting_on} --retry | --skip | --rollback (this run goes on after)"
        )
    elif outcome.status == NEEDS_ATTENTION:
        choices = " | ".join(f"--{c}" for c in (state.attention or {}).get("choices", []))
        console.print(f"decide with: runbook resume {outcome.run_id} {choices}")
    sys.exit(outcome.exit_code)


def _order(loaded: LoadedRunbook) -> list[str]:
    from runbook_engine.spec.models import iter_steps

    return [s.id for s, _ in iter_steps(loaded.runbook)]


@click.command()
@click.argument("ref")
@params_option
@click.option(
    "--dry-run", is_flag=True, help="print the plan with rendered parameters; call nothing"
)
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation on a terminal")
@click.option(
    "--no-wait",
    is_flag=True,
    help="at an approval step, leave the run waiting and exit 5 instead of waiting",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    envvar="RUNBOOK_LOG_FORMAT",
    help="json: one JSON event per line on stderr",
)
@inventory_option
@output_option
@user_errors
def run(
    ref: str,
    params: tuple[str, ...],
    dry_run: bool,
    yes: bool,
    no_wait: bool,
    log_format: str,
    inventory: str | None,
    output: str,
) -> None:
    """Run a runbook by NAME, NAME@VERSION or PATH.

    Exit codes: 0 succeeded; 1 failed (rolled back); 2 invalid input; 3 rollback incomplete or
    needs attention; 4 cancelled or rejected; 5 waiting for approval (--no-wait); 6 lock held.
    """
    if server_mode():
        from runbook_engine.cli.remote import runs as remote

        return remote.start(
            ref,
            params,
            dry_run=dry_run,
            yes=yes,
            no_wait=no_wait,
            log_format=log_format,
            inventory=inventory,
            output=output,
        )
    from runbook_engine.auth.local import acting_user
    from runbook_engine.catalog import Catalog
    from runbook_engine.spec.params import parse_assignments

    given = parse_assignments(params)
    use_inventory(inventory)
    if dry_run:
        from runbook_engine.plan import build_plan, print_plan
        from runbook_engine.plugin import default_registry

        [loaded] = resolve_refs(ref)
        steps = build_plan(loaded, secret_inputs(loaded.runbook, given), default_registry())
        if output == "json":
            emit_json(
                {
                    "dry_run": True,
                    "runbook": loaded.runbook.name,
                    "version": loaded.runbook.version,
                    "steps": steps,
                }
            )
        else:
            print_plan(loaded, steps)
        return
    with open_store() as store:
        loaded = Catalog().resolve(ref, store)
        engine = make_engine(store, progress=output == "text", json_logs=log_format == "json")
        from runbook_engine.spec.params import redact_params

        checked = engine.check(
            loaded, secret_inputs(loaded.runbook, given), requester=acting_user()
        )
        if not yes and sys.stdin.isatty() and output == "text":
            from runbook_engine.terminal import printable

            shown = ", ".join(
                f"{k}={printable(v)}"
                for k, v in redact_params(loaded.runbook, checked.params).items()
            )
            click.confirm(f"Run {loaded.ref} ({shown or 'no parameters'})?", abort=True)
        outcome = engine.start_checked(checked, wait_for_approval=not no_wait)
        _finish(outcome, output, _order(loaded))


@click.command()
@click.argument("run_id")
@click.option("--retry", "choice", flag_value="retry", help="run the interrupted step again")
@click.option("--skip", "choice", flag_value="skip", help="treat the interrupted step as done")
@click.option("--rollback", "choice", flag_value="rollback", help="roll the run back")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="secret parameters are never stored: give them again (@FILE, - to be asked, or "
    "RUNBOOK_SECRET_<NAME>)",
)
@click.option("--no-wait", is_flag=True, help="do not wait at an approval step")
@inventory_option
@output_option
@user_errors
def resume(
    run_id: str,
    choice: str | None,
    params: tuple[str, ...],
    no_wait: bool,
    inventory: str | None,
    output: str,
) -> None:
    """Continue a run whose engine stopped (crash, kill -9, reboot) or that needs attention.

    Completed steps are never run again. A step that was in flight is re-run only when its action
    is idempotent; otherwise the run needs attention and you choose --retry, --skip or --rollback.
    """
    if server_mode():
        from runbook_engine.cli.remote import runs as remote

        return remote.resume(
            run_id, choice, params, no_wait=no_wait, inventory=inventory, output=output
        )
    from runbook_engine.auth.local import acting_user
    from runbook_engine.spec.params import parse_assignments

    use_inventory(inventory)

    with open_store(create=False) as store:
        engine = make_engine(store, progress=output == "text", json_logs=False)
        record, loaded, _state = engine.state_of(run_id)
        outcome = engine.resume(
            record.id,
            choice=choice,
            given=secret_inputs(loaded.runbook, parse_assignments(params)),
            by=acting_user(),
            wait_for_approval=not no_wait,
            ask=ask_secrets,
        )
        _finish(outcome, output, _order(loaded))


def _decide(
    run_id: str, approve: bool, reason: str, as_user: str | None, no_resume: bool, output: str
) -> None:
    if server_mode():
        from runbook_engine.cli.remote import runs as remote

        return remote.decide(run_id, approve, reason, as_user, no_resume, output)
    from runbook_engine.auth.local import acting_user
    from runbook_engine.core.statuses import EXIT_WAITING
    from runbook_engine.spec.params import SecretMissing

    user = acting_user(as_user)
    with open_store(create=False) as store:
        engine = make_engine(store, progress=output == "text", json_logs=False)
        decision = engine.decide(run_id, user=user, approve=approve, reason=reason)
        record, step = decision.record, decision.step
        verb = "approved" if approve else "rejected"
        decided = {"run_id": record.id, "step": step, "decision": verb, "user": user}
        if output == "text":
            from runbook_engine.terminal import printable

            click.echo(f"{verb} step {step} of run {record.id} as {printable(user)}")
        if no_resume:
            if output == "json":
                emit_json(decided)
            return
        try:
            after = engine.continue_after_decision(decision.run, by=user, ask=ask_secrets)
        except SecretMissing as exc:
            # the decision stands; the run waits for the secret (its log says so too)
            if output == "json":
                emit_json({**decided, "blocked": exc.reason})
            else:
                echo_error(f"the run cannot go on here: {exc.reason}")
            sys.exit(EXIT_WAITING)
        _report(engine, after, decided, output)


def _report(
    engine: Engine, after: Continuation, recorded: Mapping[str, object], output: str
) -> None:
    """Say where the run went after a decision or a cancel (the service decided)."""
    if after.outcome is not None:
        loaded = engine.loaded_for(engine.run_record(after.run_id))
        _finish(after.outcome, output, _order(loaded))
    if output == "json":
        # who took the run on, when it was not continued here
        taken = {after.how: True} if after.how in ("queued", "served") else {}
        emit_json({**recorded, **taken})
    elif after.how == "queued":
        click.echo(f"run {after.run_id} queued: a worker continues it")
    elif after.how == "served":
        click.echo(f"run {after.run_id} left to the store's watcher: runbook serve continues it")


@click.command()
@click.argument("run_id")
@click.option("--reason", default="", help="why (shown in the run log)")
@as_user_option
@click.option("--no-resume", is_flag=True, help="only record the decision")
@output_option
@user_errors
def approve(run_id: str, reason: str, as_user: str | None, no_resume: bool, output: str) -> None:
    """Approve the approval step a run is waiting on. If no engine is driving the run, it
    continues here."""
    _decide(run_id, True, reason, as_user, no_resume, output)


@click.command()
@click.argument("run_id")
@click.option("--reason", required=True, help="why (required; shown in the run log)")
@as_user_option
@click.option("--no-resume", is_flag=True, help="only record the decision")
@output_option
@user_errors
def reject(run_id: str, reason: str, as_user: str | None, no_resume: bool, output: str) -> None:
    """Reject the approval step a run is waiting on; completed steps are rolled back."""
    _decide(run_id, False, reason, as_user, no_resume, output)


@click.command()
@click.argument("run_id")
@click.option("--reason", default="", help="why (shown in the run log)")
@output_option
@user_errors
def cancel(run_id: str, reason: str, output: str) -> None:
    """Cancel a run: what is running is stopped and completed steps are rolled back."""
    if server_mode():
        from runbook_engine.cli.remote import runs as remote

        return remote.cancel(run_id, reason, output)
    from runbook_engine.auth.local import acting_user

    with open_store(create=False) as store:
        engine = make_engine(store, progress=output == "text", json_logs=False)
        record = engine.cancel(run_id, by=acting_user(), reason=reason)
        if output == "text":
            click.echo(f"cancel requested for run {record.id}")
        after = engine.continue_after_cancel(record.id, by=acting_user(), ask=ask_secrets)
        _report(engine, after, {"run_id": record.id, "cancel_requested": True}, output)
