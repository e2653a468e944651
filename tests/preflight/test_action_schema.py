"""The editors' schema knows each action's parameters: a misspelt key under ``with:`` is
flagged, the real keys are offered, and templates are accepted where a value goes."""

from __future__ import annotations

from typing import Any

import pytest

from runbook_engine.plugin import Registry, builtin_actions
from runbook_engine.preflight.schema import json_schema
from runbook_engine.spec.yamlmarks import load_marked

jsonschema = pytest.importorskip("jsonschema")

HEAD = "apiVersion: runbook/v1\nname: x\nversion: 1\nsteps:\n"


@pytest.fixture(scope="module")
def validator() -> Any:
    registry = Registry()
    for action in builtin_actions():
        registry.register(action)
    return jsonschema.Draft7Validator(json_schema(registry))


def errors(validator: Any, steps: str) -> list[str]:
    data = load_marked(HEAD + steps).data
    return [e.message for e in validator.iter_errors(data)]


ACCEPTED = {
    "ssh.command": "  - id: s\n    action: ssh.command\n    with: {hosts: web, command: uptime}\n",
    "template for an integer": "  - id: s\n    action: scaling.asg\n"
    "    with: {group: web, desired_capacity: '{{ params.n }}'}\n",
    "duration string": "  - id: s\n    action: sleep\n    with: {duration: 1m30s}\n",
    "rollback block": "  - id: s\n    action: log\n    with: {message: hi}\n"
    "    rollback: {action: sleep, with: {duration: 1}}\n",
    "parallel child": "  - id: g\n    parallel:\n"
    "      - {id: c, action: log, with: {message: hi}}\n",
    "alias key": "  - id: s\n    action: http.request\n    with: {url: 'http://x', json: {a: 1}}\n",
}

REJECTED = {
    "misspelt key": "  - id: s\n    action: ssh.command\n    with: {hots: web, command: uptime}\n",
    "missing required": "  - id: s\n    action: sleep\n    with: {}\n",
    "wrong literal type": "  - id: s\n    action: sleep\n    with: {duration: [1]}\n",
    "misspelt key in rollback": "  - id: s\n    action: log\n    with: {message: hi}\n"
    "    rollback: {action: sleep, with: {duraton: 1}}\n",
    "misspelt key in parallel child": "  - id: g\n    parallel:\n"
    "      - {id: c, action: log, with: {mesage: hi}}\n",
}


@pytest.mark.parametrize("steps", ACCEPTED.values(), ids=list(ACCEPTED))
def test_accepted(validator: Any, steps: str) -> None:
    assert errors(validator, steps) == []


@pytest.mark.parametrize("steps", REJECTED.values(), ids=list(REJECTED))
def test_rejected(validator: Any, steps: str) -> None:
    assert errors(validator, steps) != []


def test_every_builtin_action_has_its_with_schema() -> None:
    registry = Registry()
    for action in builtin_actions():
        registry.register(action)
    schema = json_schema(registry)
    for name in registry.names():
        assert f"with.{name}" in schema["$defs"]
    ssh = schema["$defs"]["with.ssh.command"]
    assert {"hosts", "command", "forks", "batch"} <= set(ssh["properties"])
    assert ssh["additionalProperties"] is False
    assert schema["$defs"]["ActionStep"]["properties"]["action"]["examples"] == registry.names()
