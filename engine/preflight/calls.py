"""One action call (a step, a rollback block, a parallel child) checked against its action.

The action's ``Params`` model is the single source: the keys it accepts, the required ones,
the types and validators of literal values. A value holding a template is left to the run,
except for its type when the template's type is known (``template_types``). Plugin-specific
checks (``Action.check_static``) run last.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from runbook_engine.errors import RunbookError
from runbook_engine.plugin import Action, Registry, StaticContext
from runbook_engine.preflight.findings import Finding
from runbook_engine.preflight.template_types import Known, known_type
from runbook_engine.spec.yamlmarks import Path
from runbook_engine.templating import is_template, strings_in

#: error kinds that mean "no value of this type fits", as opposed to "this value does not"
_TYPE_ERRORS = frozenset(
    {
        "string_type",
        "int_type",
        "float_type",
        "bool_type",
        "list_type",
        "dict_type",
        "tuple_type",
        "set_type",
        "frozen_set_type",
        "model_type",
        "model_attributes_type",
        "dataclass_type",
        "none_required",
        "is_instance_of",
        "int_parsing",
        "float_parsing",
        "bool_parsing",
        "int_from_float",
    }
)


def _templated(value: Any) -> bool:
    return any(is_template(s) for s in strings_in(value))


def accepted_keys(params: type[BaseModel]) -> dict[str, str]:
    """Each key a ``with:`` block may use, to its field's name (an alias, and with
    ``populate_by_name`` the Python name as well)."""
    by_name = bool(params.model_config.get("populate_by_name"))
    keys: dict[str, str] = {}
    for name, info in params.model_fields.items():
        keys[info.alias or name] = name
        if by_name or info.alias is None:
            keys[name] = name
    return keys


def _shown_keys(params: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in params.model_fields.items()]


_ABSENT = object()


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part, _ABSENT)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _ABSENT


def _data_path(loc: tuple[str | int, ...], value: Any) -> Path:
    """Pydantic's ``loc`` without the union member tags (``command.str``), following the data."""
    out: list[str | int] = []
    node = value
    for part in loc:
        child = _child(node, part)
        if child is not _ABSENT:
            node = child
            out.append(part)
        elif not isinstance(node, dict | list):
            break
        # else: a tag naming a member of a union, not a place in the data
    return tuple(out)


def _message(err: Mapping[str, Any]) -> str:
    message = str(err["msg"])
    if message.startswith(("Value error, ", "Assertion failed, ")):
        message = message.split(", ", 1)[1]
    shown = err.get("input")
    if err["type"] not in ("value_error", "aws_api") and not isinstance(shown, dict | list):
        text = repr(shown)
        if len(text) <= 60:
            message += f" (got {text})"
    return message


def _grouped(errors: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """Union members each report their own error; say them once per place, joined."""
    by_path: dict[Path, list[str]] = {}
    for path, message in errors:
        found = by_path.setdefault(path, [])
        if message not in found:
            found.append(message)
    return [(path, "; or ".join(messages)) for path, messages in by_path.items()]


@functools.cache
def _adapter(params: type[BaseModel], name: str) -> TypeAdapter[Any]:
    info: FieldInfo = params.model_fields[name]
    annotation: Any = info.annotation
    if info.metadata:
        annotation = Annotated[annotation, *info.metadata]
    return TypeAdapter(annotation)


def _substitute(value: Any, known: dict[str, Known], k: int) -> Any:
    """``value`` with each template replaced by its k-th sample."""
    if isinstance(value, str):
        if value in known:
            samples = known[value].samples
            return samples[k % len(samples)]
        return value
    if isinstance(value, list):
        return [_substitute(v, known, k) for v in value]
    if isinstance(value, dict):
        return {key: _substitute(v, known, k) for key, v in value.items()}
    return value


def _typed_template(
    params: type[BaseModel], name: str, value: Any, where: Path, declared: Mapping[str, Any]
) -> list[Finding]:
    """Report a templated value only when no value the templates can give would fit."""
    known: dict[str, Known] = {}
    for text in strings_in(value):
        if is_template(text):
            found = known_type(text, declared)
            if found is None:
                return []  # known at run time only
            known[text] = found
    adapter = _adapter(params, name)
    exact = all(k.exact for k in known.values())
    first: list[tuple[Path, str]] | None = None
    for k in range(max(len(k.samples) for k in known.values())):
        sample = _substitute(value, known, k)
        try:
            adapter.validate_python(sample)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            if not exact and not all(e["type"] in _TYPE_ERRORS for e in errors):
                return []  # a value of this type may fit; the run decides
            if first is None:
                first = [(_data_path(tuple(e["loc"]), value), str(e["msg"])) for e in errors]
            continue
        except Exception:  # a field validator's own bug is not the runbook's
            return []
        return []
    if first is None:
        return []
    what = " and ".join(sorted({k.what for k in known.values()}))
    return [
        Finding((*where, *path), f"{what} does not fit this parameter: {message}")
        for path, message in _grouped(first)
    ]


def check_call(
    action: Any,
    given: Any,
    where: Path,
    registry: Registry,
    ctx: StaticContext,
    declared: Mapping[str, Any],
) -> list[Finding]:
    """Findings for one call at ``where`` (the step or rollback block holding ``action`` and
    ``with``). ``declared``: the runbook's ``parameters`` as written."""
    if not isinstance(action, str):
        return []  # the format checks report the type
    try:
        cls = registry.get_class(action)
    except RunbookError as exc:
        return [Finding((*where, "action"), str(exc))]
    if given is None:
        given = {}
    if not isinstance(given, dict):
        return []  # the format checks report the type
    return _check_with(cls, given, (*where, "with"), ctx, declared)


def _check_with(
    cls: type[Action],
    given: dict[str, Any],
    at: Path,
    ctx: StaticContext,
    declared: Mapping[str, Any],
) -> list[Finding]:
    params = cls.Params
    keys = accepted_keys(params)
    shown = _shown_keys(params)
    findings: list[Finding] = []
    for key in given:
        if key in keys:
            continue
        hint = difflib.get_close_matches(str(key), list(keys), n=1, cutoff=0.6)
        extra = (
            f"; did you mean {hint[0]!r}?"
            if hint
            else f" (its parameters: {', '.join(shown) or 'none'})"
        )
        findings.append(
            Finding((*at, key), f"unknown parameter {key!r} of {cls.name}{extra}", key=True)
        )
    present = {keys[k] for k in given if k in keys}
    for name, info in params.model_fields.items():
        if info.is_required() and name not in present:
            findings.append(
                Finding(at, f"missing required parameter {info.alias or name!r} of {cls.name}")
            )
    literal = {k: v for k, v in given.items() if k in keys and not _templated(v)}
    templated = [k for k in given if k in keys and k not in literal]
    complete = len(literal) == len(given) and not findings
    findings.extend(_literal_errors(cls, literal, at, complete=complete))
    for key in templated:
        findings.extend(_typed_template(params, keys[key], given[key], (*at, key), declared))
    try:
        issues = cls.check_static(given, ctx)
    except Exception as exc:  # a plugin's bug must not hide the runbook's other problems
        return [*findings, Finding(at, f"the static check of {cls.name} failed: {exc!r}")]
    for issue in issues:
        findings.append(Finding((*at, *issue.where), issue.message, warning=issue.warning))
    return findings


def _literal_errors(
    cls: type[Action], literal: dict[str, Any], at: Path, *, complete: bool
) -> list[Finding]:
    """The model's errors about literal values. Errors about the whole block (cross-field
    validators) count only when ``complete``: every key is present and literal, otherwise they
    may be about a value the template will supply."""
    try:
        cls.Params.model_validate(literal)
    except ValidationError as exc:
        errors: list[tuple[Path, str]] = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            if err["type"] in ("missing", "extra_forbidden") and len(loc) == 1:
                continue  # said above, with the action's name and a suggestion
            if not loc or loc[0] not in literal:
                if not complete:
                    continue
                errors.append(((), _message(err)))
                continue
            errors.append((_data_path(loc, literal), _message(err)))
        return [Finding((*at, *path), message) for path, message in _grouped(errors)]
    except Exception as exc:  # a validator that raises something pydantic does not wrap
        return [Finding(at, f"the parameter model of {cls.name} failed: {exc!r}")]
    return []
