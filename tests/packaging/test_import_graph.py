"""Dependencies point one way: a test over the static import graph of the installed package.

Every module of ``runbook_engine`` belongs to a room (its first name below the package:
``runbook_engine.store._store`` is in ``store``; everything under ``runbook_engine.actions``
is in ``actions``). A room may import rooms of a lower rank, never a higher one, so a new edge
in the wrong direction fails here with the file and line that made it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import runbook_engine

PACKAGE = Path(runbook_engine.__file__).parent

#: lower imports nothing above it; equal ranks may import each other only where listed
RANK = {
    "errors": 0,
    "durations": 0,
    "terminal": 0,  # text made safe to print: used by the CLI and the plan printer
    "secret_taint": 0.5,  # which rendered values read a secret: the templates report to it
    "template_limits": 0.4,  # the size and time bounds every render runs within
    "template_values": 0.5,  # what a render may produce: JSON, converted at render time
    "templating": 1,
    "identity": 1,
    "inventory": 1,
    "plugin": 2,  # the plugin contract and registry: what the engine and actions share
    "preflight": 3,  # static checks of whole runbooks: the format, the plugins, the inventory
    "spec": 2,
    "secret_texts": 2.5,  # what a run masks: secrets, values derived from them, encodings
    "core": 3,
    "store": 3,
    "lease": 3.5,  # who drives a run: read by the runtime, the service and every sweeper
    "presence": 3.6,  # is a serve watching the store: the CLI asks before driving a run
    "auth": 3.7,  # principals, tokens, OIDC, the policy and the audit trail: every door asks
    "catalog": 4,
    "permissions": 4,  # who may run, cancel, resume and decide: the service and every door
    "schedule": 4,
    "triggers": 4,  # alerts, the triggers they match and their run ids: pure, no I/O
    "runtime": 4,
    "plan_text": 4.5,  # how a plan reads as text: the local plan and the API client print it
    "plan": 5,
    "report": 5,
    "telemetry": 5,
    "metrics": 5,
    "children": 4.9,  # call steps' child runs: the parent's side, on the engine's primitives
    "service": 5,
    "slack": 6,
    "api": 6.5,  # the HTTP API: the server mounts it; it drives runs through a Driver protocol
    "web": 6.6,  # the web console beside the API: may import it; the server mounts it at /
    "hooks": 6.8,  # alert senders' endpoints: the server mounts them; they start runs
    "server": 7,
    "worker": 7.5,  # workers reuse the server's schedule loop
    "client": 7.8,  # the API's client: the CLI's commands with RUNBOOK_SERVER set
    "cli": 8,
    "<root>": 9,  # the public facade re-exports from below
    # action families see the contract and the engine's base rooms, never the engine proper
    "actions": 2.5,
    # test helpers may use anything; nothing in production may use them
    "testing": 10,
}

#: rooms that reach up today; each is a known debt (shared/STYLE.md), none may be added
KNOWN_UPWARD = {
    ("metrics", "worker"),  # the queue-depth gauge asks the worker module
    ("slack", "server"),  # the Slack app schedules continuations through the server's executor
    ("worker", "cli"),  # the worker entry point reuses the CLI's engine factory
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    where: str


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["runbook_engine", *parts])


def _edges() -> Iterator[Edge]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        source = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                yield Edge(source, target, f"{path.relative_to(PACKAGE)}:{node.lineno}")


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


def test_no_module_imports_a_source_folder_name() -> None:
    wrong = [e for e in _edges() if e.target.partition(".")[0] in {"engine", "actions"}]
    assert wrong == []


def test_every_room_has_a_rank() -> None:
    rooms = {_room(e.source) for e in _edges()}
    assert rooms <= set(RANK), sorted(rooms - set(RANK))


def test_imports_point_down() -> None:
    wrong = []
    for edge in _edges():
        if not edge.target.startswith("runbook_engine"):
            continue
        source, target = _room(edge.source), _room(edge.target)
        if source == target or (source, target) in KNOWN_UPWARD:
            continue
        if RANK[target] >= RANK[source]:
            wrong.append(f"{edge.where}: {source} ({RANK[source]}) imports {edge.target}")
    assert wrong == [], "\n".join(wrong)


def test_the_engine_never_imports_an_action_family() -> None:
    wrong = [
        f"{e.where}: {e.target}"
        for e in _edges()
        if _room(e.target) == "actions" and _room(e.source) != "actions"
    ]
    assert wrong == [], "the engine reaches action families only through the registry"


def test_production_code_never_imports_the_test_helpers() -> None:
    wrong = [
        f"{e.where}: {e.target}"
        for e in _edges()
        if _room(e.target) == "testing" and _room(e.source) != "testing"
    ]
    assert wrong == []


def test_known_debts_are_still_real() -> None:
    """Once a known upward edge is gone, it leaves the list too, so it cannot come back."""
    upward = {
        (_room(e.source), _room(e.target))
        for e in _edges()
        if e.target.startswith("runbook_engine")
    }
    assert upward >= KNOWN_UPWARD, sorted(KNOWN_UPWARD - upward)
