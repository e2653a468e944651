"""docs/runbook-format.md stays true: its examples load, and every field of the format is in it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from runbook_engine.spec import load_text
from runbook_engine.spec import models as m
from runbook_engine.spec.yamlmarks import load_marked

DOC = Path(__file__).resolve().parents[2] / "docs" / "runbook-format.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
COMPLETE = [b for b in BLOCKS if re.search(r"^apiVersion:", b, flags=re.MULTILINE)]

MODELS: list[type[BaseModel]] = [
    m.Runbook,
    m.Parameter,
    m.Permissions,
    m.Concurrency,
    m.Schedule,
    m.Notify,
    m.ActionStep,
    m.ApprovalStep,
    m.Approval,
    m.GotoStep,
    m.BranchStep,
    m.Case,
    m.ParallelStep,
    m.InputStep,
    m.InputSpec,
    m.Retry,
    m.Call,
]


def test_the_doc_has_examples() -> None:
    assert len(BLOCKS) > 20
    assert len(COMPLETE) >= 3


@pytest.mark.parametrize("block", BLOCKS)
def test_every_yaml_example_is_valid_yaml(block: str) -> None:
    assert isinstance(load_marked(block).data, dict | list)


@pytest.mark.parametrize("block", COMPLETE)
def test_complete_examples_load(block: str) -> None:
    load_text(block, "docs/runbook-format.md")


def test_the_complete_example_uses_every_step_kind() -> None:
    last = load_text(COMPLETE[-1]).runbook
    kinds = {type(step) for step in last.steps}
    assert kinds == set(m.STEP_MODELS.values())


def _aliases(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_field_is_documented(model: Any) -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [
        alias
        for alias in _aliases(model)
        if not re.search(r"`([\w\[\]]+\.)*" + re.escape(alias) + r"`", text)
    ]
    assert missing == []


@pytest.mark.parametrize("block", COMPLETE)
def test_complete_examples_validate_against_the_schema(block: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from runbook_engine.spec.schema import json_schema

    errors = jsonschema.Draft202012Validator(json_schema()).iter_errors(load_marked(block).data)
    assert [e.message for e in errors] == []
