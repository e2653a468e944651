"""The format reference documents every field of ``triggers:``, and its example loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from runbook_engine.spec import load_text
from runbook_engine.spec import models as m
from runbook_engine.spec.trigger_checks import ALERT_FIELDS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "runbook-format.md").read_text("utf-8")
SECTION = DOC[DOC.index("## Triggers") : DOC.index("## Notify")]


@pytest.mark.parametrize(
    "model", [m.Trigger, m.TriggerSpec, m.WebhookTriggerSpec, m.Matcher], ids=lambda x: x.__name__
)
def test_every_field_is_documented(model: type[BaseModel]) -> None:
    names = [f.alias or n for n, f in model.model_fields.items()]
    missing = [n for n in names if not re.search(r"`([\w\[\]]+\.)*" + re.escape(n) + "`", SECTION)]
    assert missing == []


def test_every_alert_field_is_documented() -> None:
    assert [f for f in ALERT_FIELDS if f"`alert.{f}`" not in SECTION] == []


def test_the_example_loads() -> None:
    [block] = re.findall(r"```yaml\n(.*?)```", SECTION, flags=re.DOTALL)
    runbook = load_text(block, "docs/runbook-format.md").runbook
    assert [t.source for t in runbook.triggers] == ["alertmanager", "pagerduty", "sns", "webhook"]
