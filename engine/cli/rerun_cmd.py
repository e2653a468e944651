"""``runbook rerun RUN``: a new run of the version RUN ran, with its parameters, linked to it;
from a step on (``--from``), on the hosts that failed (``--failed-hosts``). Followed here like
``runbook run`` (the same progress and exit codes), locally or through the API."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from runbook_engine.auth.local import server_mode
from runbook_engine.cli._common import (
    inventory_option,
    make_engine,
    open_store,
    output_option,
    use_inventory,
    user_errors,
)
from runbook_engine.cli.secret_input import ask_secrets, secret_inputs

if TYPE_CHECKING:
    from runbook_engine.runtime.rerun import RerunPlan
    from runbook_engine.service import Checked


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option(
    "--from",
    "from_step",
    metavar="STEP",
    help="start at this top-level step; the steps before it are carried over with the "
    "outputs RUN recorded, not run again",
)
@click.option(
    "--failed-hosts",
    is_flag=True,
    help="the first SSH step from the start on runs only on the hosts that failed or never "
    "ran there in RUN; without --from, the re-run starts at the step RUN failed at",
)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="override a parameter of RUN; secret ones are never stored: give them again "
    "(KEY=@FILE, KEY=- to be asked, or RUNBOOK_SECRET_<KEY>; asked on a terminal otherwise)",
)
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation on a terminal")
@click.option(
    "--no-wait",
    is_flag=True,
    help="at an approval step, leave the run waiting and exit 5 instead of waiting",
)
@click.option(
    "--no-follow",
    is_flag=True,
    help="with RUNBOOK_SERVER: print the new run's id and leave it to the server",
)
@inventory_option
@output_option
@user_errors
def rerun(
    run_id: str,
    from_step: str | None,
    failed_hosts: bool,
    params: tuple[str, ...],
    yes: bool,
    no_wait: bool,
    no_follow: bool,
    inventory: str | None,
    output: str,
) -> None:
    """Run RUN's runbook version again with RUN's parameters, as a new run linked to RUN.

    The version is the one RUN ran, even if the file has changed since. Secret parameters
    were never stored and are asked for again. Carried-over steps are never rolled back by
    the re-run. Exit codes as for `runbook run`.
    """
    if server_mode():
        from runbook_engine.cli.remote.rerun import rerun as remote

        remote(
            run_id,
            from_step=from_step,
            failed_hosts=failed_hosts,
            params=params,
            yes=yes,
            no_wait=no_wait,
            no_follow=no_follow,
            inventory=inventory,
            output=output,
        )
        return
    from runbook_engine.auth.local import acting_user
    from runbook_engine.cli.run_cmds import _finish, _order
    from runbook_engine.errors import InputRefused
    from runbook_engine.spec.params import parse_assignments

    if no_follow:
        raise InputRefused(
            "--no-follow needs RUNBOOK_SERVER: without a server, this command drives the re-run"
        )
    use_inventory(inventory)
    with open_store(create=False) as store:
        engine = make_engine(store, progress=output == "text", json_logs=False)
        original = engine.load_run(run_id)
        given = secret_inputs(original.loaded.runbook, parse_assignments(params))
        confirming = not yes and sys.stdin.isatty() and output == "text"
        made = engine.create_rerun(
            original,
            by=acting_user(),
            from_step=from_step,
            failed_hosts=failed_hosts,
            given=given,
            ask=ask_secrets,
            confirm=_confirm if confirming else None,
        )
        if output == "text":
            from runbook_engine.runtime.rerun import link_text

            click.echo(f"run {made.record.id}: {link_text(made.plan.link)}", err=True)
        outcome = engine.execute(made.record.id, params=made.params, wait_for_approval=not no_wait)
        _finish(outcome, output, _order(made.loaded))


def _confirm(checked: Checked, plan: RerunPlan) -> None:
    from runbook_engine.runtime.rerun import link_text
    from runbook_engine.spec.params import redact_params
    from runbook_engine.terminal import printable

    loaded = checked.loaded
    shown = ", ".join(
        f"{k}={printable(v)}" for k, v in redact_params(loaded.runbook, checked.params).items()
    )
    carried = f"; carried over: {', '.join(c.step for c in plan.carried)}" if plan.carried else ""
    click.confirm(
        f"Run {loaded.ref} ({shown or 'no parameters'}), "
        f"{printable(link_text(plan.link))}{carried}?",
        abort=True,
    )
