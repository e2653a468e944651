"""The editors' JSON Schema with every action's ``with:`` parameters in it.

``runbook_engine.spec.schema`` describes the format alone; here each action's parameter model
(the same one the run validates with) becomes a ``$defs`` entry, chosen by the step's
``action`` value with ``if``/``then``, so yaml-language-server flags ``with: {hots: web}``
under ``ssh.command`` and completes the real keys. Any value may also be a template, which only
the run renders, so each parameter accepts a ``{{ ... }}`` string as well.
"""

from __future__ import annotations

from typing import Any

from pydantic.errors import PydanticUserError

from runbook_engine.plugin import Registry
from runbook_engine.spec.schema import json_schema as format_schema

TEMPLATE_DEF = "Template"
_TEMPLATE: dict[str, Any] = {
    "type": "string",
    "pattern": r"\{\{|\{%",
    "description": "a template, rendered just before the step runs",
}
#: what may stand next to $ref for editors (draft-07 ignores the rest)
_ANNOTATIONS = ("title", "description", "default")


def _prefixed(ref: str, prefix: str) -> str:
    return "#/$defs/" + prefix + ref.removeprefix("#/$defs/")


def _walk(node: Any, prefix: str) -> Any:
    """``node`` with its refs moved under ``prefix`` and every parameter value also allowed
    to be a template."""
    if isinstance(node, list):
        return [_walk(item, prefix) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = _prefixed(value, prefix)
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: _or_template(sub, prefix) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _or_template(value, prefix)
        elif key in ("anyOf", "oneOf", "allOf"):
            out[key] = _walk(value, prefix)
        else:
            out[key] = value
    return out


def _or_template(node: dict[str, Any], prefix: str) -> dict[str, Any]:
    inner = _walk(node, prefix)
    annotations = {k: inner.pop(k) for k in _ANNOTATIONS if k in inner}
    return {"anyOf": [inner, {"$ref": f"#/$defs/{TEMPLATE_DEF}"}], **annotations}


def _with_defs(name: str, params: Any) -> dict[str, Any]:
    """The ``$defs`` entries of one action: ``with.NAME`` and its nested models."""
    prefix = f"with.{name}."
    try:
        generated = params.model_json_schema(by_alias=True, mode="validation")
    except PydanticUserError:
        # a plugin type with no JSON Schema form: any mapping, the run checks it
        return {f"with.{name}": {"type": "object", "description": f"parameters of {name}"}}
    nested = generated.pop("$defs", {})
    generated.pop("title", None)
    defs = {f"with.{name}": _walk(generated, prefix)}
    for model, body in nested.items():
        defs[prefix + model] = _walk(body, prefix)
    return defs


def json_schema(registry: Registry) -> dict[str, Any]:
    """The format's schema plus the ``with:`` schema of every action in ``registry``."""
    schema = format_schema()
    defs: dict[str, Any] = schema["$defs"]
    names = registry.names()
    cases: list[dict[str, Any]] = []
    for name in names:
        defs.update(_with_defs(name, registry.get_class(name).Params))
        cases.append(
            {
                "if": {"properties": {"action": {"const": name}}, "required": ["action"]},
                "then": {"properties": {"with": {"$ref": f"#/$defs/with.{name}"}}},
            }
        )
    defs[TEMPLATE_DEF] = dict(_TEMPLATE)
    for holder in ("ActionStep", "Call"):
        definition = defs[holder]
        definition["allOf"] = cases
        action = definition["properties"]["action"]
        action["examples"] = names
    return schema
