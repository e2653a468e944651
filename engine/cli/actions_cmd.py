"""``runbook actions``: the actions this installation has, where each came from, and the
plugins that could not be loaded."""

from __future__ import annotations

import sys
from typing import Any

import click

from runbook_engine.cli._common import emit_json, output_option


@click.command("actions")
@output_option
def actions(output: str) -> None:
    """List the registered actions (built-in and plugins) and any broken plugin.

    Exit 1 when a plugin could not be loaded or validated (its actions are unavailable)."""
    from runbook_engine.plugin import default_registry

    registry = default_registry()
    rows: list[dict[str, Any]] = []
    for name in registry.names():
        cls = registry.get_class(name)
        rows.append(
            {
                "name": name,
                "origin": registry.origin(name),
                "idempotent": cls.idempotent,
                "undo": cls.has_undo(),
                "description": cls.description,
            }
        )
    broken = [{"entry_point": b.entry_point, "error": b.message} for b in registry.broken]
    if output == "json":
        emit_json({"actions": rows, "broken": broken})
    else:
        width = max((len(r["name"]) for r in rows), default=0)
        for row in rows:
            flags = ", ".join(
                f for f, on in (("idempotent", row["idempotent"]), ("undo", row["undo"])) if on
            )
            click.echo(f"{row['name']:<{width}}  {row['origin']}{f'  ({flags})' if flags else ''}")
        for item in broken:
            click.echo(f"broken plugin {item['entry_point']!r}: {item['error']}", err=True)
    if broken:
        sys.exit(1)
