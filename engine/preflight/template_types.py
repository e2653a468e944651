"""What a template in a ``with:`` value gives, where that is known before the run.

A field that is one expression keeps the expression's type (native rendering), so its type is
known when the expression is a constant, a declared parameter that always has a value, or ends
in a filter whose result type is fixed (``| int``, ``| quote``). Text around an expression makes
a string. Everything else (step outputs, ``result``, conditionals) is known only at run time.

The answer is a few *sample* values of that type: a parameter model rejects a template only
when it rejects every sample, so a string parameter that may hold ``"5"`` is never reported
against an integer field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes

from runbook_engine.templating import environment

#: sample values of each parameter type
_SAMPLES: dict[str, tuple[Any, ...]] = {
    "string": ("x", "1", "true"),
    "integer": (0, 1, 10),
    "number": (1, 1.5),
    "boolean": (True, False),
}
#: filters whose result has one type whatever they are given
_FILTER_TYPES = {
    "quote": "string",
    "shquote": "string",
    "to_json": "string",
    "string": "string",
    "lower": "string",
    "upper": "string",
    "trim": "string",
    "join": "string",
    "replace": "string",
    "int": "integer",
    "length": "integer",
    "count": "integer",
    "float": "number",
}


@dataclass(frozen=True)
class Known:
    """What a template gives: ``samples`` of its values, ``what`` in words for messages,
    ``exact`` when the one sample is the value itself (a constant)."""

    samples: tuple[Any, ...]
    what: str
    exact: bool = False


def _parameter(name: str, declared: Mapping[str, Any]) -> Known | None:
    spec = declared.get(name)
    if not isinstance(spec, Mapping):
        return None
    kind = spec.get("type", "string")
    default_given = "default" in spec and spec.get("default") is not None
    required = spec.get("required")
    # a parameter that is neither required nor defaulted renders as None when not given
    if not (required is True or (required is None and "default" not in spec) or default_given):
        return None
    what = f"params.{name} (type: {kind})"
    if kind in _SAMPLES:
        return Known(_SAMPLES[kind], what)
    if kind == "enum":
        choices = spec.get("choices")
        if isinstance(choices, list) and choices:
            return Known(tuple(choices), what)
        return None
    if kind == "list":
        items = spec.get("items", "string")
        if items in _SAMPLES:
            return Known(tuple([v] for v in _SAMPLES[str(items)]), what)
    return None


def _expression(node: nodes.Expr, declared: Mapping[str, Any]) -> Known | None:
    if isinstance(node, nodes.Const) and isinstance(node.value, str | int | float | bool):
        return Known((node.value,), f"the constant {node.value!r}", exact=True)
    if isinstance(node, nodes.Filter) and node.name in _FILTER_TYPES:
        kind = _FILTER_TYPES[node.name]
        return Known(_SAMPLES[kind], f"the filter | {node.name} ({kind})")
    if isinstance(node, nodes.Getattr | nodes.Getitem) and isinstance(node.node, nodes.Name):
        if node.node.name != "params":
            return None
        if isinstance(node, nodes.Getattr):
            return _parameter(node.attr, declared)
        if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            return _parameter(node.arg.value, declared)
    return None


def known_type(source: str, declared: Mapping[str, Any]) -> Known | None:
    """What ``source`` renders to, or None when only the run can tell.

    ``declared`` is the runbook's ``parameters`` section as written."""
    try:
        tree = environment().parse(source)
    except (jinja2.TemplateSyntaxError, RecursionError):
        return None  # reported by the format checks
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None  # {% if %}, {% for %}, ...: whatever the blocks produce
    parts = tree.body[0].nodes
    if len(parts) > 1:
        return Known(_SAMPLES["string"], "text with a template in it (a string)")
    if len(parts) == 1 and not isinstance(parts[0], nodes.TemplateData):
        return _expression(parts[0], declared)
    return None
