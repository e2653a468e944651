"""The JSON Schema of ``apiVersion: runbook/v1``, generated from the pydantic models.

Editors use it for completion and inline errors (``runbook schema > runbook.schema.json`` and a
``# yaml-language-server: $schema=runbook.schema.json`` modeline). It checks the shape of a
document only; references between steps, templates and parameter defaults are checked by
``runbook validate``, which is the authority.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from runbook_engine.spec.models import STEP_KINDS, Runbook

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://runbook-engine.dev/schema/runbook-v1.json"
TITLE = "Runbook (runbook/v1)"
DESCRIPTION = (
    "A Runbook Engine runbook: typed parameters and steps (action, approval, input, goto, branch, "
    "parallel) with retries, rollbacks and approvals. Checks the document's shape only; "
    "`runbook validate` also checks step references, templates and parameter defaults."
)

#: the $defs entry of each step kind, keyed by the field that selects the kind
_STEP_DEFS = {
    "action": "ActionStep",
    "approval": "ApprovalStep",
    "goto": "GotoStep",
    "branch": "BranchStep",
    "parallel": "ParallelStep",
    "input": "InputStep",
}


def json_schema() -> dict[str, Any]:
    """The schema as a new dict (callers may change it freely)."""
    return copy.deepcopy(_schema())


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    generated = Runbook.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Any] = generated.get("$defs", {})
    # pydantic renders the discriminated step union as a plain oneOf of $refs (its callable
    # discriminator has no JSON Schema form). That is what editors understand; make sure of it,
    # and that each kind requires its own key, so exactly one branch can match a step.
    step_refs = [{"$ref": f"#/$defs/{_STEP_DEFS[kind]}"} for kind in STEP_KINDS]
    generated["properties"]["steps"]["items"] = {
        "oneOf": step_refs,
        "description": "a step: exactly one of action, approval, goto, branch, parallel, input",
    }
    for kind, name in _STEP_DEFS.items():
        step = defs[name]
        if kind not in step.get("required", []):
            step.setdefault("required", []).append(kind)
        if step.get("additionalProperties") is not False:
            raise AssertionError(f"{name} must forbid unknown keys")
    head = {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, "title": TITLE, "description": DESCRIPTION}
    body = {k: v for k, v in generated.items() if k not in ("title", "description", "$defs")}
    return {**head, **body, "$defs": defs}  # definitions last: the top level reads first
