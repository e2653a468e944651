"""What can be known about ``call:`` steps before a run: that each called runbook exists in the
version it would run, that the ``with:`` block fits its parameters, that no secret of the
caller lands in a parameter the child stores in the clear, and that no runbook ends up calling
itself. ``runbook validate`` asks this over the files it checks and the catalog; a run's
preflight asks it over the catalog.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from runbook_engine.preflight.findings import Finding
from runbook_engine.spec.models import CallStep, Runbook
from runbook_engine.spec.params import coerce_value

#: the runbook a call names, in the version it would run (None: the newest), or None if none
Lookup = Callable[[str, int | None], Runbook | None]

_TEMPLATE = re.compile(r"\{\{|\{%")
_PARAM_READ = re.compile(r"\bparams\s*(?:\.\s*([a-z_][a-z0-9_]*)|\[\s*['\"]([a-z_][a-z0-9_]*))")


def call_steps(runbook: Runbook) -> Iterator[tuple[int, CallStep]]:
    """The call steps with their position among the top-level steps."""
    for index, step in enumerate(runbook.steps):
        if isinstance(step, CallStep):
            yield index, step


def check_calls(runbook: Runbook, lookup: Lookup) -> list[Finding]:
    """Findings about the calls of one runbook, each at the place in the file it concerns."""
    findings: list[Finding] = []
    for index, step in call_steps(runbook):
        where = ("steps", index, "call")
        call = step.call
        child = lookup(call.runbook, call.version)
        if child is None:
            which = f"version {call.version} of " if call.version is not None else ""
            findings.append(
                Finding(
                    (*where, "version" if call.version is not None else "runbook"),
                    f"step {step.id!r} calls {which}runbook {call.runbook!r}, "
                    "which the catalog does not have",
                )
            )
            continue
        findings.extend(_check_with(runbook, step, child, where))
    cycle = find_cycle(runbook, lookup)
    if cycle is not None:
        index, path = cycle
        findings.append(
            Finding(("steps", index, "call", "runbook"), f"call cycle: {' -> '.join(path)}")
        )
    return findings


def _check_with(
    runbook: Runbook, step: CallStep, child: Runbook, where: tuple[str | int, ...]
) -> list[Finding]:
    out: list[Finding] = []
    given = step.call.with_
    for name, value in given.items():
        param = child.parameters.get(name)
        if param is None:
            have = ", ".join(sorted(child.parameters)) or "none"
            out.append(
                Finding(
                    (*where, "with", name),
                    f"runbook {child.name!r} has no parameter {name!r} (it has: {have})",
                    key=True,
                )
            )
            continue
        if isinstance(value, str) and _TEMPLATE.search(value):
            read = {a or b for a, b in _PARAM_READ.findall(value)}
            leaked = sorted(
                n for n in read if n in runbook.parameters and runbook.parameters[n].secret
            )
            if leaked and not param.secret:
                out.append(
                    Finding(
                        (*where, "with", name),
                        f"passes the secret parameter {leaked[0]!r} to {child.name}'s "
                        f"parameter {name!r}, which is not secret: the child would store "
                        "it in the clear",
                    )
                )
            continue  # a template's value is known only when the run renders it
        try:
            coerce_value(param, value, from_text=False)
        except ValueError as exc:
            out.append(
                Finding((*where, "with", name), f"parameter {name!r} of {child.name}: {exc}")
            )
    missing = [n for n, p in child.parameters.items() if p.is_required and n not in given]
    if missing:
        out.append(
            Finding(
                (*where, "with") if "with_" in step.call.model_fields_set else where,
                f"runbook {child.name!r} needs the parameter(s) {', '.join(missing)}",
            )
        )
    return out


def find_cycle(runbook: Runbook, lookup: Lookup) -> tuple[int, list[str]] | None:
    """The first call of ``runbook`` that leads back to it, with the chain of names."""
    for index, step in call_steps(runbook):
        path = _back_to(runbook.name, step.call.runbook, step.call.version, lookup, [runbook.name])
        if path is not None:
            return index, path
    return None


def _back_to(
    origin: str, name: str, version: int | None, lookup: Lookup, path: list[str]
) -> list[str] | None:
    path = [*path, name]
    if name == origin:
        return path
    if name in path[:-1] or len(path) > 12:
        return None  # a cycle that does not involve the origin: reported at its own runbook
    child = lookup(name, version)
    if child is None:
        return None
    for _, step in call_steps(child):
        found = _back_to(origin, step.call.runbook, step.call.version, lookup, path)
        if found is not None:
            return found
    return None


def catalog_lookup(versions: Callable[[str], dict[int, Any]]) -> Lookup:
    """A lookup over ``versions(name) -> {version: LoadedRunbook}`` (a catalog's, say)."""

    def lookup(name: str, version: int | None) -> Runbook | None:
        found = versions(name)
        if not found:
            return None
        chosen = found.get(version) if version is not None else found[max(found)]
        return chosen.runbook if chosen is not None else None

    return lookup
