"""What ``list``, ``diff`` and ``plan`` print, from plain data, so that a command answered
by the server (``runbook_engine.cli.remote.catalog``) prints the text and JSON it prints locally.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from runbook_engine.cli._common import emit_json
from runbook_engine.errors import Problem


def runbook_row(
    name: str, version: int, description: str, file: str | None, digest: str
) -> dict[str, Any]:
    """One runbook as ``list -o json`` shows it."""
    return {
        "name": name,
        "version": version,
        "description": description,
        "file": file,
        "digest": digest,
    }


def show_runbooks(
    rows: Sequence[Mapping[str, Any]], problems: Sequence[Problem], output: str
) -> None:
    if output == "json":
        emit_json({"runbooks": list(rows), "problems": [p.as_dict() for p in problems]})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for col in ("name", "version", "description"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["name"], str(row["version"]), row["description"])
    Console(soft_wrap=True).print(table)
    for p in problems:
        click.echo(f"warning: skipped invalid runbook: {p}", err=True)


def show_diff(left: str, right: str, text: str) -> None:
    """A unified diff, or a line saying there is no difference."""
    click.echo(text if text else f"{left} and {right} are identical", nl=not text)


def show_plan(plan: Mapping[str, Any], output: str) -> None:
    """``plan``: a mapping with ``runbook``, ``version``, ``digest`` and ``steps``."""
    if output == "json":
        emit_json(
            {
                "runbook": plan["runbook"],
                "version": plan["version"],
                "digest": plan["digest"],
                "steps": plan["steps"],
            }
        )
        return
    from runbook_engine.plan_text import print_steps

    print_steps(plan["runbook"], plan["version"], plan["digest"], plan["steps"])
