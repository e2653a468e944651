"""``runbook hosts PATTERN``: which hosts a pattern selects, and how they would be reached."""

from __future__ import annotations

import sys
from typing import Any

import click

from runbook_engine.cli._common import emit_json, output_option
from runbook_engine.core.statuses import EXIT_INVALID


@click.command("hosts")
@click.argument("pattern")
@click.option(
    "--inventory",
    "-i",
    "inventory_file",
    metavar="PATH",
    help="inventory file or directory (default: $RUNBOOK_INVENTORY, else ./inventory.yaml|yml|ini)",
)
@click.option("--vars", "show_vars", is_flag=True, help="also show each host's variables")
@output_option
def hosts(pattern: str, inventory_file: str | None, show_vars: bool, output: str) -> None:
    """List the hosts PATTERN matches, in Ansible's order, as `ansible PATTERN --list-hosts`
    would: groups (web), hosts, lists (web,db or web:db), exclusions (web:!atlanta),
    intersections (web:&staging), globs (web*), regexes (~(web|db).*), subscripts (web[0],
    web[1:3]), all.

    Hosts not in the inventory can be named by address or full name (10.0.0.5,
    deploy@db.example.com:2222), with a warning. Exit 2 when the inventory or the pattern is
    invalid or a term matches nothing.
    """
    from runbook_engine.errors import ActionError
    from runbook_engine.inventory import InventoryError, inventory_path, load_file, select
    from runbook_engine.inventory.model import Inventory
    from runbook_engine.plugin import PluginError, default_registry

    warnings: list[str] = []
    try:
        path = inventory_path(inventory_file)
        inventory = Inventory.empty() if path is None else load_file(path)
        source = default_registry().inventory_source_for(pattern)
        if source is not None:  # ec2:tag:Role=web and other registered sources
            found = list(source(pattern.strip(), inventory, options={"address": "private"}))
        else:
            found = select(inventory, pattern, warn=warnings.append)
    except (InventoryError, ActionError, PluginError) as exc:
        if output == "json":
            emit_json({"error": str(exc)})
        else:
            click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    rows = []
    for host in found:
        try:
            row = host.describe()
        except InventoryError as exc:  # a bad port or flag in the host's variables
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INVALID)
        if show_vars:
            row["vars"] = host.shown_vars()
        rows.append(row)
    if output == "json":
        document: dict[str, Any] = {
            "inventory": str(path) if path else None,
            "pattern": pattern,
            "hosts": rows,
        }
        if warnings:
            document["warnings"] = warnings
        emit_json(document)
        return
    for message in warnings:
        click.echo(f"warning: {message}", err=True)
    _table(rows, show_vars)
    where = f"inventory {path}" if path else "no inventory file"
    click.echo(f"{len(rows)} host(s) ({where})")


def _table(rows: list[dict[str, Any]], show_vars: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    columns = ["host", "address", "port", "user", "groups", "jump", "sudo"]
    if show_vars:
        columns.append("vars")
    for column in columns:
        table.add_column(column)
    for row in rows:
        cells = [
            str(row["name"]),
            str(row["address"]),
            str(row["port"]),
            str(row["user"] or "-"),
            ", ".join(row["groups"]),
            str(row["jump"] or "-"),
            (str(row["become_user"] or "root") if row["become"] else "-"),
        ]
        if show_vars:
            cells.append(" ".join(f"{k}={v}" for k, v in row["vars"].items()))
        table.add_row(*cells)
    Console(soft_wrap=True, highlight=False).print(table)
