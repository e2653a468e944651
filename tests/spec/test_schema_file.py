"""docs/runbook.schema.json (what the shipped runbooks' modelines point at) is current."""

from __future__ import annotations

import json
from pathlib import Path

from runbook_engine.spec.schema import json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "runbook.schema.json"


def test_schema_file_is_current() -> None:
    on_disk = json.loads(SCHEMA_FILE.read_text())
    assert on_disk == json_schema(), "regenerate with: runbook schema > docs/runbook.schema.json"


def test_reserved_step_id_end() -> None:
    import pytest

    from runbook_engine.errors import RunbookInvalid
    from runbook_engine.spec import load_text

    doc = "apiVersion: runbook/v1\nname: x\nversion: 1\nsteps:\n  - {id: end, action: log}\n"
    with pytest.raises(RunbookInvalid) as info:
        load_text(doc, "x.yaml")
    assert any("reserved" in p.message and p.path == "steps[0].id" for p in info.value.problems)
