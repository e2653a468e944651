"""The checks of a whole runbook: every action call (steps, rollback blocks, parallel children)
and the warnings, on the document as plain data.

The data may be of any shape (``runbook validate`` runs this on documents the format rejects,
to report everything at once): what is not a mapping or a list where one belongs is left to the
format checks, never a traceback here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from runbook_engine.errors import RunbookError
from runbook_engine.plugin import Registry, StaticContext
from runbook_engine.preflight.calls import accepted_keys, check_call
from runbook_engine.preflight.findings import Finding
from runbook_engine.preflight.rollbacks import Call, approval_warnings, rollback_warnings
from runbook_engine.preflight.shell_quoting import (
    loop_item_sources,
    secret_argv_warnings,
    shell_warnings,
)
from runbook_engine.spec.yamlmarks import Path


def _action_steps(data: Mapping[str, Any]) -> Iterator[tuple[Path, dict[str, Any]]]:
    steps = data.get("steps")
    if not isinstance(steps, list):
        return
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        if "action" in step:
            yield ("steps", i), step
        children = step.get("parallel")
        if isinstance(children, list):
            for j, child in enumerate(children):
                if isinstance(child, dict) and "action" in child:
                    yield ("steps", i, "parallel", j), child


def check_data(data: Any, registry: Registry, ctx: StaticContext) -> list[Finding]:
    """Errors and warnings for the document ``data``, in no particular order."""
    if not isinstance(data, dict):
        return []
    declared = data.get("parameters")
    if not isinstance(declared, dict):
        declared = {}
    findings: list[Finding] = []
    calls: list[Call] = []
    for path, step in _action_steps(data):
        blocks: list[tuple[Path, Mapping[str, Any]]] = [(path, step)]
        rollback = step.get("rollback")
        if isinstance(rollback, dict):
            blocks.append(((*path, "rollback"), rollback))
        items = loop_item_sources(step, declared)  # a loop's items are parameters' values
        for where, block in blocks:
            findings.extend(
                check_call(block.get("action"), block.get("with"), where, registry, ctx, declared)
            )
            findings.extend(_shell(block, where, registry, declared, items))
        call = _call(path, step, registry)
        if call is not None:
            calls.append(call)
    findings.extend(rollback_warnings(calls))
    findings.extend(approval_warnings(data))
    return findings


def _known_action(block: Mapping[str, Any], registry: Registry) -> Any:
    name = block.get("action")
    if not isinstance(name, str) or name not in registry:
        return None
    try:
        return registry.get_class(name)
    except RunbookError:
        return None


def _shell(
    block: Mapping[str, Any],
    where: Path,
    registry: Registry,
    declared: Mapping[str, Any],
    loop_items: Mapping[str, str] | None = None,
) -> list[Finding]:
    cls = _known_action(block, registry)
    given = block.get("with")
    if cls is None or not isinstance(given, dict):
        return []
    keys = accepted_keys(cls.Params)
    out: list[Finding] = []
    for key, value in given.items():
        field = keys.get(key)
        at = (*where, "with", key)
        if field in cls.shell_fields:
            out.extend(shell_warnings(value, at, f"with.{key}", declared, loop_items))
        if field in cls.argv_fields:
            out.extend(secret_argv_warnings(value, at, f"with.{key}", declared))
    return out


def _call(path: Path, step: Mapping[str, Any], registry: Registry) -> Call | None:
    cls = _known_action(step, registry)
    given = step.get("with")
    ident = step.get("id")
    if cls is None or not isinstance(ident, str):
        return None
    return Call(
        path,
        ident,
        cls,
        given if isinstance(given, dict) else {},
        isinstance(step.get("rollback"), dict),
    )
