"""docs/runbook.schema.json (what the shipped runbooks' modelines point at) is current."""

from __future__ import annotations

import json
from pathlib import Path

from runbook_engine.plugin import Registry, builtin_actions
from runbook_engine.preflight.schema import json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "runbook.schema.json"


def builtin_registry() -> Registry:
    """The built-in actions only: the file ships without any third-party plugin's actions."""
    registry = Registry()
    for action in builtin_actions():
        registry.register(action)
    return registry


def test_schema_file_is_current() -> None:
    on_disk = json.loads(SCHEMA_FILE.read_text())
    expected = json_schema(builtin_registry())
    assert on_disk == expected, "regenerate with: runbook schema > docs/runbook.schema.json"


def test_reserved_step_id_end() -> None:
    import pytest

    from runbook_engine.errors import RunbookInvalid
    from runbook_engine.spec import load_text

    doc = "apiVersion: runbook/v1\nname: x\nversion: 1\nsteps:\n  - {id: end, action: log}\n"
    with pytest.raises(RunbookInvalid) as info:
        load_text(doc, "x.yaml")
    assert any("reserved" in p.message and p.path == "steps[0].id" for p in info.value.problems)
