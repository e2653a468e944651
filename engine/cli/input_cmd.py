"""``runbook input RUN --set NAME=VALUE``: give the values an input step waits for.

The values are checked like parameters (``--set`` text is read as ``-p`` text is); a refused
value names the field and what it expected, records nothing, and leaves the step waiting
(exit 2). Without ``--set`` on a terminal, each field is asked for in turn (a secret one
without echo). A secret field's value can also be ``--set token=-`` (asked for, hidden) or
``--set token=@FILE``; it is never stored, so the run then goes on in this process (locally),
or on the server that received it (``RUNBOOK_SERVER``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from runbook_engine.auth.local import server_mode
from runbook_engine.cli._common import (
    as_user_option,
    echo_error,
    emit_json,
    make_engine,
    open_store,
    output_option,
    user_errors,
)
from runbook_engine.cli.secret_input import FROM_FILE, FROM_PROMPT, ask_secrets, read_file
from runbook_engine.errors import FieldError, ParameterError

__all__ = ["ask_fields", "input_", "set_values", "shown_values"]


def set_values(pairs: Sequence[str], fields: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``--set`` text by field; a secret field's ``-`` is asked for without echo and its
    ``@FILE`` read. ``fields``: the step's field descriptions (``core.inputs.describe``)."""
    from runbook_engine.spec.params import parse_assignments

    try:
        given = parse_assignments(list(pairs))
    except ParameterError as exc:
        raise FieldError(exc.name, str(exc).partition(": ")[2]) from None
    secret = {str(f["name"]) for f in fields if f.get("secret")}
    for name, value in list(given.items()):
        if name not in secret:
            continue
        if value == FROM_PROMPT:
            given[name] = _hidden(name)
        elif value.startswith(FROM_FILE):
            given[name] = read_file(name, value[len(FROM_FILE) :])
    return given


def _hidden(name: str) -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise FieldError(name, "`-` reads the value from stdin, which was empty")
        return line.rstrip("\n")
    value: str = click.prompt(f"{name} (secret)", hide_input=True, err=True)
    return value


def ask_fields(fields: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Each field asked for on the terminal, its description and default shown; an empty
    answer to an optional field leaves it out (its default applies)."""
    given: dict[str, str] = {}
    for field in fields:
        name = str(field["name"])
        if field.get("secret"):
            given.update(ask_secrets([name]))
            continue
        what = [str(field.get("type", "string"))]
        if field.get("choices"):
            what = [" | ".join(str(c) for c in field["choices"])]
        if field.get("description"):
            what.append(str(field["description"]))
        prompt = f"{name} ({'; '.join(what)})"
        if field.get("required"):
            given[name] = click.prompt(prompt, err=True)
            continue
        default = field.get("default")
        answer: str = click.prompt(
            prompt, default="" if default is None else str(default), show_default=True, err=True
        )
        if answer != "":
            given[name] = answer
    return given


def shown_values(values: Mapping[str, Any]) -> str:
    from runbook_engine.terminal import printable

    return ", ".join(f"{k}={printable(v)}" for k, v in values.items()) or "no values"


@click.command("input")
@click.argument("run_id")
@click.option(
    "--set",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="a field's value (repeatable); a secret field: - to be asked, @FILE; without --set on "
    "a terminal, each field is asked for",
)
@as_user_option
@click.option("--no-resume", is_flag=True, help="only record the input")
@output_option
@user_errors
def input_(
    run_id: str, pairs: tuple[str, ...], as_user: str | None, no_resume: bool, output: str
) -> None:
    """Give the values an input step of a run waits for. If no engine is driving the run, it
    continues here."""
    if server_mode():
        from runbook_engine.cli.remote.inputs import give

        return give(run_id, pairs, as_user, no_resume, output)
    from runbook_engine.auth.local import acting_user
    from runbook_engine.cli.run_cmds import _report
    from runbook_engine.core.inputs import describe
    from runbook_engine.core.statuses import EXIT_WAITING
    from runbook_engine.spec.params import SecretMissing

    user = acting_user(as_user)
    with open_store(create=False) as store:
        engine = make_engine(store, progress=output == "text", json_logs=False)
        run = engine.load_run(run_id)
        lacking = engine.missing_input_secrets(run)
        if lacking:
            # given to a process that is gone: only these, again
            step = engine.loaded_step(run, lacking[0].partition(".")[0])
            wanted = {n.partition(".")[2] for n in lacking}
            fields = [f for f in describe(step.input) if f["name"] in wanted]
        else:
            fields = describe(engine.input_step(run).input)
        given = set_values(pairs, fields)
        if not pairs and sys.stdin.isatty() and output == "text":
            given = ask_fields(fields)
        recorded = engine.give_input(run, user=user, values=given)
        gave = {
            "run_id": recorded.record.id,
            "step": recorded.step,
            "values": recorded.values,
            "user": user,
        }
        if output == "text":
            from runbook_engine.terminal import printable

            click.echo(
                f"gave input to step {recorded.step} of run {recorded.record.id} as "
                f"{printable(user)}: {shown_values(recorded.values)}"
            )
        if no_resume and not recorded.secret:
            if output == "json":
                emit_json(gave)
            return
        if no_resume:
            # a secret value lives in this process only: the run goes on here or not at all
            echo_error("note: a secret value is never stored, so the run goes on here")
        try:
            after = engine.continue_after_input(recorded, by=user, ask=ask_secrets)
        except SecretMissing as exc:
            if output == "json":
                emit_json({**gave, "blocked": exc.reason})
            else:
                echo_error(f"the run cannot go on here: {exc.reason}")
            sys.exit(EXIT_WAITING)
        _report(engine, after, gave, output)
