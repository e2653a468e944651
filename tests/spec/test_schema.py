"""The JSON Schema for editors: a valid 2020-12 schema that accepts the shipped runbooks and
agrees with the loader on the shape of documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.errors import RunbookInvalid
from runbook_engine.plugin import Registry, builtin_actions
from runbook_engine.preflight.schema import json_schema as full_schema
from runbook_engine.spec import load_file, load_text
from runbook_engine.spec.schema import SCHEMA_ID, json_schema
from runbook_engine.spec.yamlmarks import load_marked

from ._samples import FULL, MINIMAL

jsonschema = pytest.importorskip("jsonschema")

REPO = Path(__file__).resolve().parents[2]
RUNBOOK_FILES = sorted([*REPO.glob("runbooks/*.yaml"), *REPO.glob("runbooks/*.yml")])
STEP_KINDS = {
    "action": "ActionStep",
    "approval": "ApprovalStep",
    "goto": "GotoStep",
    "branch": "BranchStep",
    "parallel": "ParallelStep",
    "call": "CallStep",
    "input": "InputStep",
}
#: keywords yaml-language-server (JSON Schema draft-07) understands; $defs is only a location
EDITOR_KEYWORDS = frozenset(
    [
        "$schema",
        "$id",
        "$ref",
        "$defs",
        "title",
        "description",
        "default",
        "examples",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "pattern",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "anyOf",
        "oneOf",
        "allOf",
        # draft-07 keywords yaml-language-server applies: the action's `with:` schema is chosen
        # by if/then on the step's `action`; minProperties comes from non-empty mappings
        "if",
        "then",
        "minProperties",
    ]
)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    registry = Registry()
    for action in builtin_actions():
        registry.register(action)
    return full_schema(registry)


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Any:
    return jsonschema.Draft202012Validator(schema)


def data_of(text: str) -> Any:
    """The document as the loader (and a YAML 1.2 editor) sees it: `on:` is a key, not True."""
    return load_marked(text).data


def schema_errors(validator: Any, text: str) -> list[str]:
    return [error.message for error in validator.iter_errors(data_of(text))]


def loader_accepts(text: str) -> bool:
    try:
        load_text(text)
    except RunbookInvalid:
        return False
    return True


# --------------------------------------------------------------------------- the schema itself


def test_schema_is_a_valid_2020_12_schema(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID == "https://runbook-engine.dev/schema/runbook-v1.json"
    assert schema["title"]
    assert schema["description"]
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"apiVersion", "name", "version", "steps"}
    assert json.loads(json.dumps(schema)) == schema


def test_schema_is_also_a_valid_draft_07_schema(schema: dict[str, Any]) -> None:
    jsonschema.Draft7Validator.check_schema(schema)


def test_json_schema_returns_a_fresh_copy() -> None:
    first = json_schema()
    first["properties"].clear()
    assert json_schema()["properties"]


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for sub in value.values():
                    yield from _walk(sub)
            elif key not in ("default", "examples", "enum", "const"):
                yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def test_schema_uses_only_keywords_editors_understand(schema: dict[str, Any]) -> None:
    used = {key for node in _walk(schema) for key in node}
    assert used <= EDITOR_KEYWORDS, used - EDITOR_KEYWORDS


def test_every_ref_resolves_and_has_no_validating_siblings(schema: dict[str, Any]) -> None:
    refs = [node for node in _walk(schema) if "$ref" in node]
    assert refs
    for node in refs:
        target = node["$ref"]
        assert target.startswith("#/$defs/")
        assert target.removeprefix("#/$defs/") in schema["$defs"]
        # draft-07 editors ignore everything next to $ref: only annotations may be there
        assert set(node) <= {"$ref", "description", "title", "default"}, node


def test_step_union_is_a_one_of_of_every_kind(schema: dict[str, Any]) -> None:
    items = schema["properties"]["steps"]["items"]
    assert items["oneOf"] == [{"$ref": f"#/$defs/{name}"} for name in STEP_KINDS.values()]
    for kind, name in STEP_KINDS.items():
        step = schema["$defs"][name]
        assert kind in step["required"]
        assert "id" in step["required"]
        assert step["additionalProperties"] is False
        others = set(STEP_KINDS) - {kind}
        assert not others & set(step["properties"]), f"{name} must not accept another kind's key"


def test_python_field_names_are_not_in_the_schema(schema: dict[str, Any]) -> None:
    text = json.dumps(schema)
    for name in ("with_", "if_", "api_version"):
        assert f'"{name}"' not in text


# --------------------------------------------------------------------------- shipped runbooks


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=[p.name for p in RUNBOOK_FILES])
def test_shipped_runbook_validates_against_the_schema(validator: Any, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert schema_errors(validator, text) == []
    load_file(path)  # and the loader agrees


# --------------------------------------------------------------------------- inline documents


def step_doc(step: str) -> str:
    lines = step.strip("\n").splitlines()
    return MINIMAL + f"  - {lines[0]}\n" + "".join(f"    {line}\n" for line in lines[1:])


VALID = {
    "minimal": MINIMAL,
    "full": FULL,
    "goto": step_doc("id: jump\ngoto: end"),
    "approval": step_doc("id: ask\napproval: {message: go on, required: 2, timeout: 1h30m}"),
    "branch": step_doc("id: route\nbranch:\n  - {if: 'true', goto: say}\n  - {goto: end}"),
    "parallel": step_doc(
        "id: group\nparallel:\n  - {id: p1, action: log}\n  - {id: p2, action: log}\n"
        "max_concurrency: 1\non_failure: continue"
    ),
    "durations": step_doc(
        "id: d\naction: sleep\ntimeout: 1d2h3m4s5ms\nretry: {delay: 500ms, max_delay: 2.5}"
    ),
    "number duration": step_doc("id: d\naction: log\ntimeout: 30"),
    "spaces around a duration": step_doc("id: d\naction: log\ntimeout: ' 5m '"),
    "parameters": MINIMAL.replace(
        "steps:\n",
        "parameters:\n"
        "  a: {type: enum, choices: [x, 1, 2.5], default: x}\n"
        "  b: {type: list, items: integer, min_length: 1, default: [1]}\n"
        "  c: {type: number, minimum: -1.5, maximum: 2, required: false}\n"
        "  d: {secret: true, pattern: '^x', description: d}\n"
        "steps:\n",
    ),
    "notify on": MINIMAL.replace("steps:\n", "notify: {channel: C0123, on: [failure]}\nsteps:\n"),
}

INVALID = {
    "two kinds in a step": step_doc("id: b\naction: log\ngoto: end"),
    "approval and parallel": step_doc(
        "id: b\napproval: {message: x}\nparallel: [{id: c, action: log}]"
    ),
    "no kind": step_doc("id: b\nname: nothing to do"),
    "unknown key in a step": step_doc("id: b\naction: log\nwiht: {}"),
    "unknown key in a goto step": step_doc("id: b\ngoto: end\ntimeout: 5s"),
    "python name with_": step_doc("id: b\naction: log\nwith_: {}"),
    "python name if_": step_doc("id: b\naction: log\nif_: 'true'"),
    "unknown top-level key": MINIMAL + "extra: 1\n",
    "missing steps": MINIMAL.split("steps:")[0],
    "empty steps": MINIMAL.split("steps:")[0] + "steps: []\n",
    "wrong apiVersion": MINIMAL.replace("runbook/v1", "runbook/v2"),
    "bad name": MINIMAL.replace("name: hello", "name: Hello"),
    "version zero": MINIMAL.replace("version: 1", "version: 0"),
    "version text": MINIMAL.replace("version: 1", "version: one"),
    "bad step id": MINIMAL.replace("id: say", "id: Say"),
    "step without id": step_doc("action: log"),
    "with is a list": step_doc("id: b\naction: log\nwith: [1]"),
    "outputs not text": step_doc("id: b\naction: log\noutputs: {x: 1}"),
    "retry attempts 0": step_doc("id: b\naction: log\nretry: {attempts: 0}"),
    "retry unknown key": step_doc("id: b\naction: log\nretry: {dealy: 1}"),
    "bad on_failure": step_doc("id: b\naction: log\non_failure: ignore"),
    "bad duration": step_doc("id: b\naction: log\ntimeout: 5 minutes"),
    "units out of order": step_doc("id: b\naction: log\ntimeout: 30s1m"),
    "unit twice": step_doc("id: b\naction: log\ntimeout: 1m1m"),
    "negative duration": step_doc("id: b\naction: log\ntimeout: -1"),
    "empty branch": step_doc("id: b\nbranch: []"),
    "case without goto": step_doc("id: b\nbranch: [{if: x}]"),
    "empty parallel": step_doc("id: b\nparallel: []"),
    "parallel child not an action": step_doc("id: b\nparallel: [{id: c, goto: end}]"),
    "approval without message": step_doc("id: b\napproval: {required: 1}"),
    "approval required 0": step_doc("id: b\napproval: {message: x, required: 0}"),
    "bad parameter type": MINIMAL.replace("steps:\n", "parameters:\n  p: {type: text}\nsteps:\n"),
    "unknown parameter key": MINIMAL.replace("steps:\n", "parameters:\n  p: {tpye: x}\nsteps:\n"),
    "concurrency without lock": MINIMAL.replace("steps:\n", "concurrency: {}\nsteps:\n"),
    "bad notify event": MINIMAL.replace("steps:\n", "notify: {channel: x, on: [all]}\nsteps:\n"),
    "schedule missed": MINIMAL.replace(
        "steps:\n", "schedule: [{cron: '0 6 * * 1', missed: always}]\nsteps:\n"
    ),
}


@pytest.mark.parametrize("text", VALID.values(), ids=VALID.keys())
def test_valid_documents_validate(validator: Any, text: str) -> None:
    assert schema_errors(validator, text) == []
    assert loader_accepts(text)


@pytest.mark.parametrize("text", INVALID.values(), ids=INVALID.keys())
def test_invalid_documents_are_rejected_by_schema_and_loader(validator: Any, text: str) -> None:
    assert schema_errors(validator, text)
    assert not loader_accepts(text)


@pytest.mark.parametrize("text", [*VALID.values(), *INVALID.values()])
def test_draft_07_editors_reach_the_same_verdict(schema: dict[str, Any], text: str) -> None:
    draft7 = jsonschema.Draft7Validator(schema)
    modern = jsonschema.Draft202012Validator(schema)
    data = data_of(text)
    assert draft7.is_valid(data) == modern.is_valid(data)


def test_step_with_two_kinds_fails_the_one_of(validator: Any) -> None:
    data = data_of(INVALID["two kinds in a step"])
    errors = list(validator.iter_errors(data))
    assert [list(e.absolute_path) for e in errors] == [["steps", 1]]
    assert errors[0].validator == "oneOf"


def test_shape_only_problems_are_left_to_the_loader(validator: Any) -> None:
    # references between steps cannot be expressed in JSON Schema: `runbook validate` has them
    text = step_doc("id: b\ngoto: nowhere")
    assert schema_errors(validator, text) == []
    assert not loader_accepts(text)
