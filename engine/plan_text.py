"""A plan as people read it, from plain data: ``runbook plan`` prints the same text whether
the plan was built here or by the server (``POST /runbooks/{ref}/plan``)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from runbook_engine.terminal import printable

#: the fields of a step shown under its head line, in this order, when they have a value
_SHOWN = (
    "if",
    "for_each",
    "each",
    "call",
    "with",
    "message",
    "approvers",
    "fields",
    "from",
    "goto",
    "cases",
    "retry",
    "timeout",
    "rollback",
)


def print_steps(name: str, version: int, digest: str, steps: list[dict[str, Any]]) -> None:
    console = Console(soft_wrap=True, highlight=False)
    console.print(
        f"[bold]plan for {escape(printable(name))}@{version}[/bold] ({escape(digest[:19])}) "
        "— nothing is called"
    )

    def show(items: list[dict[str, Any]], indent: str) -> None:
        for n, s in enumerate(items, 1):
            head = f"{indent}{n}. {s['id']} [{s['kind']}]"
            if s["kind"] == "action":
                head += f" {s['action']}"
            elif s["kind"] == "call":
                head += f" {s['runbook']} (a child run)"
            console.print(escape(printable(head)))
            for key in _SHOWN:
                if s.get(key) not in (None, [], {}):
                    console.print(escape(printable(f"{indent}     {key}: {s[key]}")))
            if s["kind"] == "parallel":
                show(s["steps"], indent + "   ")

    show(steps, "  ")
