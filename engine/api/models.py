"""The JSON the API takes and gives, as pydantic models: they validate requests and document
both directions in the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored


class Page(BaseModel, Generic[T]):
    """One page of a list; ``next`` is the cursor of the next page (absent on the last)."""

    items: list[T]
    next: str | None = None


class ParameterInfo(BaseModel):
    name: str
    type: str
    description: str = ""
    required: bool
    default: Any = None
    secret: bool = False
    choices: list[str | int | float] | None = None


class RunbookSummary(BaseModel):
    name: str
    version: int
    description: str = ""
    digest: str
    parameters: list[ParameterInfo] = Field(default_factory=list)
    scheduled: bool = False


class RunbookVersion(BaseModel):
    name: str
    version: int
    digest: str
    source: str
    file: str | None = None
    recorded_at: datetime | None = None


class RunbookDiff(BaseModel):
    left: str
    right: str
    identical: bool
    diff: str


class PlanRequest(Strict):
    params: dict[str, Any] = Field(default_factory=dict)
    params_from_text: bool = Field(
        default=False, description="parameter values are text to parse, as from `-p KEY=VALUE`"
    )


class Plan(BaseModel):
    runbook: str
    version: int
    digest: str
    steps: list[dict[str, Any]]


class RunCreate(Strict):
    runbook: str = Field(description="NAME or NAME@VERSION (the newest version when none)")
    params: dict[str, Any] = Field(default_factory=dict)
    params_from_text: bool = Field(
        default=False, description="parameter values are text to parse, as from `-p KEY=VALUE`"
    )


class Run(BaseModel):
    id: str
    runbook: str
    version: int
    digest: str
    status: str
    requester: str
    params: dict[str, Any]
    owner: str | None = None
    created_at: datetime
    updated_at: datetime
    exit_code: int | None = Field(
        default=None, description="the CLI's exit code for this status, once there is one"
    )
    blocked: dict[str, Any] | None = Field(
        default=None, description="why the run cannot go on (secrets it needs), if so"
    )
    trigger: dict[str, Any] | None = Field(
        default=None,
        description="the alert that started the run (shown with a single run), if one did",
    )
    rerun_of: dict[str, Any] | None = Field(
        default=None,
        description="the run this one re-runs (`run`, `from`, `failed_hosts`, and `step` and "
        "`hosts` for a re-run of failed hosts), shown with a single run, if it is a re-run",
    )


class ChildLink(BaseModel):
    """A child run a call step started."""

    step: str = Field(description="the call step (a loop item's id for a looped call)")
    run: str
    runbook: str
    version: int
    status: str


class RunDetail(Run):
    state: dict[str, Any] | None = None
    order: list[str] = Field(default_factory=list, description="the runbook's step ids in order")
    waiting_on: str | None = Field(default=None, description="the approval step it waits on")
    message: str = ""
    parent: dict[str, Any] | None = Field(
        default=None, description="the run and call step that started this child run"
    )
    children: list[ChildLink] = Field(
        default_factory=list, description="the child runs its call steps started"
    )
    reruns: list[str] = Field(
        default_factory=list, description="the runs that re-run this one, oldest first"
    )
    loops: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="each for_each step entered: items, succeeded, skipped, failed, running, "
        "not_started, failed_items (the first 10 failed item ids, `step[index]`)",
    )
    input: dict[str, Any] | None = Field(
        default=None,
        description="the input it waits for: step, message, fields (name, type, description, "
        "required, secret, default, choices, pattern, ...), from, deadline; `again` when "
        "secret values must be given again",
    )


class Event(BaseModel):
    seq: int
    ts: datetime
    type: str
    step: str | None = None
    data: dict[str, Any]


class DecisionRequest(Strict):
    reason: str = ""


class Decision(BaseModel):
    run_id: str
    step: str
    decision: Literal["approved", "rejected"]
    user: str
    continued_by: str = Field(description="who drives the run on: here (this server), queued")


class InputRequest(Strict):
    values: dict[str, Any] = Field(description="each field's value, by name")
    values_from_text: bool = Field(
        default=False, description="the values are command-line text (`--set n=3`), not JSON"
    )


class InputGiven(BaseModel):
    run_id: str
    step: str
    values: dict[str, Any] = Field(description="the values recorded (a secret one as ***)")
    user: str
    continued_by: str = Field(description="who drives the run on: here (this server)")


class CancelRequest(Strict):
    reason: str = ""


class Cancelled(BaseModel):
    run_id: str
    cancel_requested: bool = True


class ResumeRequest(Strict):
    choice: Literal["retry", "skip", "rollback"] | None = None
    params: dict[str, Any] = Field(
        default_factory=dict, description="secret parameters, given again (never stored)"
    )
    params_from_text: bool = False


class RerunRequest(Strict):
    from_: str | None = Field(
        default=None,
        alias="from",
        description="start at this top-level step; the steps before it are carried over",
    )
    failed_hosts: bool = Field(
        default=False,
        description="the first SSH step from the start on runs only on the hosts that failed "
        "or never ran there; without `from`, the re-run starts at the step the run failed at",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="parameters to change, and the secret ones given again (never stored)",
    )
    params_from_text: bool = False


class Resumed(BaseModel):
    run_id: str
    status: str


class ScheduleEntry(BaseModel):
    runbook: str
    version: int
    schedule: int
    cron: str
    timezone: str
    missed: str
    params: dict[str, Any]
    next: list[datetime]


class Report(BaseModel):
    since: datetime
    runbooks: list[dict[str, Any]]


class TokenCreate(Strict):
    user: str
    roles: list[Literal["view", "run", "approve", "cancel", "trigger", "admin"]] | None = None
    expires: str | None = Field(default="90d", description="a lifetime (30d, 12h) or never")


class Token(BaseModel):
    id: str
    user: str
    roles: list[str] | None
    state: Literal["active", "expired", "revoked"]
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class NewToken(Token):
    token: str = Field(description="the secret, shown this once")


class Me(BaseModel):
    name: str
    via: str
    groups: list[str]
    roles: list[str] | None


class AuditEntry(BaseModel):
    id: int
    at: datetime
    principal: str
    via: str
    source: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any]
