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
from runbook_engine.spec.models import ActionStep, ApprovalStep, CallStep, InputStep, Runbook
from runbook_engine.spec.params import coerce_value
from runbook_engine.spec.yamlmarks import Path
from runbook_engine.templating import is_template, references

#: the runbook a call names, in the version it would run (None: the newest), or None if none
Lookup = Callable[[str, int | None], Runbook | None]

_TEMPLATE = re.compile(r"\{\{|\{%")
_PARAM_READ = re.compile(r"\bparams\s*(?:\.\s*([a-z_][a-z0-9_]*)|\[\s*['\"]([a-z_][a-z0-9_]*))")


def call_steps(runbook: Runbook) -> Iterator[tuple[int, CallStep]]:
    """The call steps with their position among the top-level steps."""
    for index, step in enumerate(runbook.steps):
        if isinstance(step, CallStep):
            yield index, step


def check_calls(
    runbook: Runbook, lookup: Lookup, document: dict[str, Any] | None = None
) -> list[Finding]:
    """Findings about the calls of one runbook, each at the place in the file it concerns
    (``document``: the runbook as data, for the templates that read a call's outputs)."""
    findings: list[Finding] = []
    children: dict[str, Runbook] = {}
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
        if not step.outputs and not step.looped:
            children[step.id] = child
        findings.extend(_check_with(runbook, step, child, where))
    if children and document is not None:
        findings.extend(_check_reads(document, children))
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


def _declared_outputs(child: Runbook) -> dict[str, set[str] | None]:
    """What each step of ``child`` gives a caller as outputs (None: anything, a call of its
    own that passes its child's on)."""
    out: dict[str, set[str] | None] = {}
    for step in child.steps:
        if isinstance(step, ActionStep | CallStep) and step.outputs:
            out[step.id] = set(step.outputs)
        elif isinstance(step, CallStep):
            out[step.id] = None
        elif isinstance(step, ApprovalStep):
            out[step.id] = {"approved_by", "timed_out"}
        elif isinstance(step, InputStep):
            out[step.id] = set(step.input.fields)
    return out


def _check_reads(document: dict[str, Any], children: dict[str, Runbook]) -> list[Finding]:
    """A template reading ``steps.CALL.outputs.STEP.NAME`` of a call step without ``outputs:``
    names a step of the child that gives outputs, and one of them."""
    out: list[Finding] = []
    declared = {sid: _declared_outputs(child) for sid, child in children.items()}
    for path, text in _strings(document.get("steps"), ("steps",)):
        if not is_template(text):
            continue
        for chain in references(text, "steps"):
            if len(chain) < 3 or chain[0] not in declared or chain[1] != "outputs":
                continue
            child, gives = children[chain[0]], declared[chain[0]]
            if chain[2] not in gives:
                have = ", ".join(sorted(gives)) or "none"
                out.append(
                    Finding(
                        path,
                        f"reads steps.{chain[0]}.outputs.{chain[2]}, but {child.name} has no "
                        f"step {chain[2]!r} with outputs (its steps with outputs: {have})",
                    )
                )
                continue
            names = gives[chain[2]]
            if len(chain) > 3 and names is not None and chain[3] not in names:
                out.append(
                    Finding(
                        path,
                        f"reads steps.{chain[0]}.outputs.{chain[2]}.{chain[3]}, but step "
                        f"{chain[2]!r} of {child.name} declares: {', '.join(sorted(names))}",
                    )
                )
    return out


def _strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))


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
