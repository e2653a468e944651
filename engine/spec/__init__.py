"""The runbook format: models, loading with precise errors, parameters, JSON Schema."""

from runbook_engine.spec.loader import (
    LoadedRunbook,
    canonical_json,
    digest_of,
    load_file,
    load_text,
)
from runbook_engine.spec.models import (
    API_VERSION,
    ActionStep,
    AnyStep,
    Approval,
    ApprovalStep,
    BranchStep,
    Call,
    GotoStep,
    ParallelStep,
    Parameter,
    Retry,
    Runbook,
    iter_steps,
)
from runbook_engine.spec.params import (
    parse_assignments,
    redact_params,
    redact_text,
    resolve_params,
    secret_values,
)

__all__ = [
    "API_VERSION",
    "ActionStep",
    "AnyStep",
    "Approval",
    "ApprovalStep",
    "BranchStep",
    "Call",
    "GotoStep",
    "LoadedRunbook",
    "ParallelStep",
    "Parameter",
    "Retry",
    "Runbook",
    "canonical_json",
    "digest_of",
    "iter_steps",
    "load_file",
    "load_text",
    "parse_assignments",
    "redact_params",
    "redact_text",
    "resolve_params",
    "secret_values",
]
