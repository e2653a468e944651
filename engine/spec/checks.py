"""Checks that need the whole document: step ids, goto targets, templates and what they read.

They run on the raw data (not the validated model) so that a file with a type error *and* a bad
reference reports both at once."""

from __future__ import annotations

import difflib
from typing import Any

from runbook_engine.errors import Problem
from runbook_engine.spec.errors_map import format_path
from runbook_engine.spec.loop_checks import loop_names_problem
from runbook_engine.spec.models import GOTO_END
from runbook_engine.spec.trigger_checks import check_triggers
from runbook_engine.spec.yamlmarks import Marked, Path
from runbook_engine.templating import check_syntax, condition_source, is_template, references

# names a template may use besides the ones declared by the runbook
_ROOTS = ("params", "steps", "run", "result", "item", "loop", "range", "true", "false", "none")


#: what an approval step provides to later steps, without an ``outputs`` section
APPROVAL_OUTPUTS = frozenset({"approved_by", "timed_out"})


class _Step:
    def __init__(self, raw: dict[str, Any], path: Path, top: int, group: str | None) -> None:
        self.raw = raw
        self.path = path
        self.top = top  # position of the top-level step (a parallel child: its group's position)
        self.group = group  # id of the parallel group this step belongs to
        ident = raw.get("id")
        self.id = ident if isinstance(ident, str) else None
        outputs = raw.get("outputs")
        self.outputs = set(outputs) if isinstance(outputs, dict) else set()
        if "approval" in raw:
            self.outputs |= APPROVAL_OUTPUTS
        # a call step without an ``outputs`` section passes on its child's, by child step id:
        # another file's (checked with the child, by ``runbook validate``)
        self.open_outputs = "call" in raw and not isinstance(outputs, dict)
        spec = raw.get("input")
        if isinstance(spec, dict) and isinstance(spec.get("fields"), dict):
            self.outputs |= {str(name) for name in spec["fields"]}  # an input step's values


def _steps(data: dict[str, Any]) -> list[_Step]:
    out: list[_Step] = []
    steps = data.get("steps")
    if not isinstance(steps, list):
        return out
    for i, raw in enumerate(steps):
        if not isinstance(raw, dict):
            continue
        step = _Step(raw, ("steps", i), i, None)
        out.append(step)
        children = raw.get("parallel")
        if isinstance(children, list):
            for j, child in enumerate(children):
                if isinstance(child, dict):
                    out.append(_Step(child, ("steps", i, "parallel", j), i, step.id))
    return out


def _walk_strings(value: Any, path: Path) -> list[tuple[Path, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in _walk_strings(v, (*path, i))]
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in _walk_strings(v, (*path, k))]
    return []


def check_document(marked: Marked, file: str) -> list[Problem]:
    data = marked.data
    problems: list[Problem] = []

    def add(path: Path, message: str, *, key: bool = False) -> None:
        where = marked.mark(path, key=key)
        problems.append(
            Problem(
                file,
                where.line if where else None,
                where.column if where else None,
                format_path(path),
                message,
            )
        )

    for path, mark in marked.duplicates:
        problems.append(
            Problem(
                file,
                mark.line,
                mark.column,
                format_path(path),
                f"duplicate key {path[-1]!r}; the earlier value would be lost",
            )
        )

    if not isinstance(data, dict):
        return problems
    steps = _steps(data)
    by_id: dict[str, _Step] = {}
    for step in steps:
        if step.id is None:
            continue
        if step.id in by_id:
            first = marked.mark(by_id[step.id].path)
            line = f" (first defined on line {first.line})" if first else ""
            add((*step.path, "id"), f"duplicate step id {step.id!r}{line}")
        else:
            by_id[step.id] = step

    def suggest(name: str) -> str:
        hint = difflib.get_close_matches(name, list(by_id), n=1)
        return f"; did you mean {hint[0]!r}?" if hint else ""

    # goto targets
    for step in steps:
        targets: list[tuple[Path, Any]] = []
        if "goto" in step.raw:
            targets.append(((*step.path, "goto"), step.raw["goto"]))
        branch = step.raw.get("branch")
        if isinstance(branch, list):
            for k, case in enumerate(branch):
                if isinstance(case, dict) and "goto" in case:
                    targets.append(((*step.path, "branch", k, "goto"), case["goto"]))
                if isinstance(case, dict) and "if" not in case and k != len(branch) - 1:
                    add(
                        (*step.path, "branch", k),
                        "a case without `if` is the default and must come last",
                    )
        for path, target in targets:
            if not isinstance(target, str):
                continue
            if target == GOTO_END:
                continue
            if target not in by_id:
                add(path, f"goto refers to unknown step {target!r}{suggest(target)}")
            elif by_id[target].group is not None:
                add(path, f"goto cannot jump into parallel group {by_id[target].group!r}")

    params = data.get("parameters")
    declared_params = set(params) if isinstance(params, dict) else set()

    schedules = data.get("schedule")
    if isinstance(schedules, list) and isinstance(params, dict):
        for i, sched in enumerate(schedules):
            given = sched.get("params") if isinstance(sched, dict) else None
            for name in given if isinstance(given, dict) else ():
                if name not in declared_params:
                    hint = difflib.get_close_matches(name, list(declared_params), n=1)
                    extra = f"; did you mean {hint[0]!r}?" if hint else ""
                    add(
                        ("schedule", i, "params", name),
                        f"unknown parameter {name!r}{extra}",
                        key=True,
                    )

    # templates: syntax, and what they read
    for step in steps:
        own_id = step.id
        for path, text in _walk_strings(step.raw, step.path):
            rel = path[len(step.path) :]
            if rel and rel[0] in ("id", "action", "goto", "name", "description"):
                continue
            if rel and rel[0] == "parallel":
                continue  # children are checked as steps of their own
            # a step's `if` or a branch case's `if`; not a key named "if" inside `with`
            is_condition = bool(rel) and rel[-1] == "if" and rel[0] in ("if", "branch")
            source = condition_source(text) if is_condition else text
            if not is_condition and not is_template(text):
                continue
            error = check_syntax(source)
            if error:
                add(path, error)
                continue
            in_rollback = bool(rel) and rel[0] == "rollback"
            in_outputs = bool(rel) and rel[0] == "outputs"
            problem = loop_names_problem(step.raw, rel, source)
            if problem:
                add(path, problem)
            for chain in references(source, "params"):
                if chain[0] not in declared_params:
                    hint = difflib.get_close_matches(chain[0], list(declared_params), n=1)
                    extra = f"; did you mean {hint[0]!r}?" if hint else ""
                    add(path, f"reads params.{chain[0]}, which is not a declared parameter{extra}")
            for chain in references(source, "steps"):
                target_id = chain[0]
                section = chain[1] if len(chain) > 1 else None
                target = by_id.get(target_id)
                if target is None:
                    add(
                        path,
                        f"reads steps.{target_id}, but there is no step "
                        f"{target_id!r}{suggest(target_id)}",
                    )
                    continue
                if target_id == own_id:
                    if in_rollback:
                        continue
                    where = "its own outputs: use `result`" if in_outputs else "itself"
                    add(path, f"step {own_id!r} reads {where}")
                    continue
                ran_before = target.top < step.top or (
                    target.group is not None and target.group == own_id
                )
                if (
                    target.group is not None
                    and target.group == step.group
                    and step.group is not None
                ):
                    ran_before = False
                if not ran_before:
                    add(
                        path,
                        f"reads steps.{target_id}.{section or ''} before step {target_id!r} "
                        "can have run".replace(". before", " before"),
                    )
                    continue
                if (
                    section == "outputs"
                    and len(chain) > 2
                    and not target.open_outputs
                    and chain[2] not in target.outputs
                ):
                    have = ", ".join(sorted(target.outputs)) or "none"
                    add(
                        path, f"step {target_id!r} has no output {chain[2]!r} (it declares: {have})"
                    )

    # runbook-level templates
    conc = data.get("concurrency")
    if isinstance(conc, dict) and isinstance(conc.get("lock"), str):
        error = check_syntax(conc["lock"])
        if error:
            add(("concurrency", "lock"), error)
        for chain in references(conc["lock"], "steps"):
            add(
                ("concurrency", "lock"),
                f"a lock key is taken before any step runs; it cannot read steps.{chain[0]}",
            )
    check_triggers(data, add)
    return problems
