"""Turn pydantic's validation errors into Problems that point into the YAML file."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from runbook_engine.errors import Problem
from runbook_engine.spec.models import (
    ActionStep,
    ApprovalStep,
    BranchStep,
    GotoStep,
    InputStep,
    ParallelStep,
    Runbook,
)
from runbook_engine.spec.yamlmarks import Marked, Path

_TAGS: dict[str, type[BaseModel]] = {
    "action": ActionStep,
    "approval": ApprovalStep,
    "goto": GotoStep,
    "branch": BranchStep,
    "parallel": ParallelStep,
    "input": InputStep,
}


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _data_path(loc: tuple[str | int, ...], data: Any) -> tuple[Path, list[str | int]]:
    """Pydantic's ``loc`` with discriminator tags removed, following the actual data.

    Returns the path and the loc parts that were kept (same thing, as a list)."""
    path: list[str | int] = []
    node = data
    tag_skipped = False
    for part in loc:
        at_step = len(path) == 2 and path[0] == "steps" and isinstance(path[1], int)
        if at_step and isinstance(part, str) and part in _TAGS and not tag_skipped:
            tag_skipped = True
            # pydantic puts the discriminated-union tag in loc right after the step's index;
            # it names the step kind, not a key of the document
            continue
        path.append(part)
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]  # same action, but mypy narrows each branch
        else:
            node = None
    return tuple(path), path


def _strip(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _model_for(path: Path, data: Any) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` (for "did you mean")."""
    tp: Any = Runbook
    node = data
    for part in path:
        tp = _strip(tp)
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            tp = _pick_member(typing.get_args(tp), node)
            if tp is None:
                return None
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = next(
                (f for n, f in tp.model_fields.items() if part in (f.alias or n, n)),
                None,
            )
            if field is None:
                return None
            tp = field.annotation
        elif typing.get_origin(_strip(tp)) in (list, dict):
            args = typing.get_args(_strip(tp))
            tp = args[-1]
        else:
            return None
        node = (
            node.get(part)
            if isinstance(node, dict)
            else (
                node[part]
                if isinstance(node, list) and isinstance(part, int) and part < len(node)
                else None
            )
        )
    tp = _strip(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        tp = _pick_member(typing.get_args(tp), node)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _pick_member(members: tuple[Any, ...], node: Any) -> Any:
    members = tuple(_strip(m) for m in members)
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    if isinstance(node, dict):
        for tag, cls in _TAGS.items():
            if tag in node and cls in models:
                return cls
    if len(models) == 1:
        return models[0]
    return next((m for m in members if m is not type(None)), None)


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def problems_from_validation(exc: ValidationError, marked: Marked, file: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        path, _ = _data_path(tuple(err["loc"]), marked.data)
        kind = err["type"]
        message = str(err["msg"])
        if message.startswith(("Value error, ", "Assertion failed, ")):
            message = message.split(", ", 1)[1]
        at_key = False
        if kind == "extra_forbidden":
            at_key = True
            key = str(path[-1])
            model = _model_for(path[:-1], marked.data)
            allowed = _keys_of(model) if model else []
            hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            message = f"unknown field {key!r}"
            if hint:
                message += f"; did you mean {hint[0]!r}?"
            elif allowed:
                message += f" (expected one of: {', '.join(allowed)})"
        elif kind == "missing":
            message = f"missing required field {str(path[-1])!r}"
            path = path[:-1] if len(path) > 1 else path
            path_str = format_path(path)
            where = marked.mark(path)
            key_seen = (path_str, message)
            if key_seen not in seen:
                seen.add(key_seen)
                problems.append(
                    Problem(
                        file,
                        where.line if where else None,
                        where.column if where else None,
                        path_str,
                        message,
                    )
                )
            continue
        elif kind == "step_kind":
            present = [t for t in _TAGS if isinstance(err.get("input"), dict) and t in err["input"]]
            if len(present) > 1:
                message = (
                    "a step has exactly one of action, approval, goto, branch, parallel; "
                    f"found {', '.join(present)}"
                )
            elif not present and isinstance(err.get("input"), dict):
                # most often a misspelt kind key ("acton"): point at it and suggest the fix
                known = {k for cls in _TAGS.values() for k in _keys_of(cls)}
                for key in err["input"]:
                    if key in known:
                        continue
                    hint = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
                    text = f"unknown field {key!r}" + (
                        f"; did you mean {hint[0]!r}?" if hint else ""
                    )
                    where = marked.mark((*path, key), key=True)
                    problems.append(
                        Problem(
                            file,
                            where.line if where else None,
                            where.column if where else None,
                            format_path((*path, key)),
                            text,
                        )
                    )
        elif "input" in err and kind not in ("model_type", "dict_type", "list_type", "value_error"):
            shown = repr(err["input"])
            if len(shown) <= 60 and not isinstance(err["input"], dict | list):
                message = f"{message} (got {shown})"
        where = marked.mark(path, key=at_key)
        path_str = format_path(path)
        if (path_str, message) in seen:
            continue
        seen.add((path_str, message))
        problems.append(
            Problem(
                file,
                where.line if where else None,
                where.column if where else None,
                path_str,
                message,
            )
        )
    return problems
