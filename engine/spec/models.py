"""The runbook format, ``apiVersion: runbook/v1``, as pydantic models.

These models are the single source of truth for the format: the loader validates with them, the
JSON Schema for editors is generated from them, and ``docs/runbook-format.md`` documents them.
Every model forbids unknown keys, so a typo is an error with a suggestion, never silently ignored.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from runbook_engine.durations import parse_duration

API_VERSION = "runbook/v1"

STEP_ID = r"^[a-z][a-z0-9_-]{0,62}$"
NAME = r"^[a-z][a-z0-9-]{0,62}$"
#: step ids with a meaning of their own for ``goto``
GOTO_END = "end"


def _duration(value: Any) -> float:
    if isinstance(value, str | int | float):
        try:
            return parse_duration(value)
        except OverflowError:  # an integer too large for a float
            raise ValueError("the duration is too large") from None
    raise ValueError("expected a duration like 30s, 5m or 1h30m")


#: the JSON Schema of a duration: seconds, or a string such as 500ms, 30s, 5m, 1h30m, 1d (the
#: actions' duration parameters share it)
DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {
            "type": "string",
            # parse_duration's grammar: units from largest to smallest, each once
            "pattern": r"^\s*\d+(\.\d+)?\s*$|^\s*(?=\d)(\d+(\.\d+)?d)?(\d+(\.\d+)?h)?"
            r"(\d+(\.\d+)?m)?(\d+(\.\d+)?s)?(\d+(\.\d+)?ms)?\s*$",
        },
    ],
    "description": "seconds, or a duration such as 500ms, 30s, 5m, 1h30m, 1d",
}

Duration = Annotated[
    float,
    BeforeValidator(_duration),
    PlainSerializer(lambda v: v, return_type=float),
    WithJsonSchema(DURATION_SCHEMA),
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --------------------------------------------------------------------------- parameters

ParamType = Literal["string", "integer", "number", "boolean", "list", "enum"]


class Parameter(Model):
    """A typed input of the runbook, given with ``-p name=value`` or a Slack form."""

    type: ParamType = "string"
    description: str = ""
    default: Any = None
    required: bool | None = Field(
        default=None, description="defaults to true when there is no default"
    )
    minimum: float | None = Field(default=None, description="integer/number: smallest value")
    maximum: float | None = Field(default=None, description="integer/number: largest value")
    min_length: int | None = Field(default=None, ge=0, description="string/list: shortest")
    max_length: int | None = Field(default=None, ge=0, description="string/list: longest")
    pattern: str | None = Field(default=None, description="string (and list items): a regex")
    choices: list[str | int | float] | None = Field(
        default=None, description="enum: the allowed values"
    )
    items: Literal["string", "integer", "number", "boolean"] = Field(
        default="string", description="list: the type of each item"
    )
    secret: bool = Field(default=False, description="never printed in logs, Slack or the store")

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except (re.error, OverflowError, RecursionError) as exc:  # a{9999999999}, ((((...
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Parameter:
        if self.type == "enum" and not self.choices:
            raise ValueError("an enum parameter needs `choices`")
        if self.type != "enum" and self.choices is not None:
            raise ValueError("`choices` only applies to type: enum")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("minimum is larger than maximum")
        if self.required and "default" in self.model_fields_set:
            raise ValueError("a parameter with a default cannot also be required")
        if "default" in self.model_fields_set and self.default is not None:
            # imported here: params.py imports this module for the Parameter type
            from runbook_engine.spec.params import coerce_value

            try:
                coerce_value(self, self.default, from_text=False)
            except ValueError as exc:
                raise ValueError(
                    f"default {self.default!r} does not fit the parameter: {exc}"
                ) from exc
        return self

    @property
    def is_required(self) -> bool:
        if self.required is not None:
            return self.required
        return "default" not in self.model_fields_set


# --------------------------------------------------------------------------- runbook-level


class Permissions(Model):
    """Who may run the runbook and who may approve its approval steps.

    Entries are user names or ids (``alice``, ``U012AB3CD``) or groups prefixed with ``@``
    (``@sre-leads``). An empty list means anyone.
    """

    run: list[str] = Field(default_factory=list)
    approve: list[str] = Field(default_factory=list)


class Concurrency(Model):
    """At most one run holds a given lock key at a time, across processes and machines."""

    lock: str = Field(description="a template; runs that render the same key exclude each other")
    on_conflict: Literal["refuse", "wait"] = Field(
        default="refuse", description="refuse the second run, or wait for the lock"
    )
    wait_timeout: Duration = Field(default=600.0, description="with wait: give up after this")


class Schedule(Model):
    """Run the runbook on a cron schedule (compliance checks)."""

    cron: str = Field(
        description="cron expression, e.g. '0 6 * * 1'; a sixth field (seconds) is allowed"
    )
    timezone: str = "UTC"
    params: dict[str, Any] = Field(default_factory=dict)
    missed: Literal["skip", "run_once"] = Field(
        default="skip", description="ticks missed while no engine was running"
    )

    @field_validator("cron")
    @classmethod
    def _cron_parses(cls, value: str) -> str:
        from croniter import croniter

        # five fields, or six with seconds last (croniter's convention) for fast checks
        if len(value.split()) not in (5, 6) or not croniter.is_valid(value):
            raise ValueError(
                f"{value!r} is not a valid cron expression "
                "(minute hour day month weekday, optionally followed by seconds)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown timezone {value!r} (use an IANA name like Europe/Paris)"
            ) from exc
        return value


NotifyEvent = Literal["start", "step", "approval", "failure", "finish"]
_NOTIFY_EVENTS: tuple[NotifyEvent, ...] = ("start", "step", "approval", "failure", "finish")


class Notify(Model):
    """Where progress and approval prompts are posted."""

    channel: str = Field(description="Slack channel name (#ops) or id (C0123ABC)")
    on: list[NotifyEvent] = Field(default_factory=lambda: list(_NOTIFY_EVENTS))


# --------------------------------------------------------------------------- triggers

#: where alerts come from; a trigger has exactly one of these keys
TRIGGER_SOURCES = ("alertmanager", "pagerduty", "sns", "webhook")
#: the prefix of a regex in the short form of a matcher: ``instance: "~web-.*"``
REGEX_PREFIX = "~"


class Matcher(Model):
    """How one label is matched: exactly one of ``equals`` and ``regex``.

    The short form is a string: ``web-1`` means ``{equals: web-1}`` and ``~web-.*`` means
    ``{regex: web-.*}``; ``equals`` is how to match a value that starts with ``~``."""

    equals: str | None = Field(default=None, description="the label's exact value")
    regex: str | None = Field(
        default=None, description="a regular expression the whole value must match"
    )

    @field_validator("regex")
    @classmethod
    def _regex_usable(cls, value: str | None) -> str | None:
        if value is not None:
            _check_regex(value)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Matcher:
        if (self.equals is None) == (self.regex is None):
            raise ValueError("a matcher has exactly one of `equals` and `regex`")
        return self


def _check_regex(regex: str) -> None:
    # imported here: the matchers module is only needed by runbooks with triggers
    from runbook_engine.spec.matchers import check_regex

    problem = check_regex(regex)
    if problem:
        raise ValueError(f"regex {regex!r}: {problem}")


def _matcher_short_form(value: Any) -> Any:
    if isinstance(value, str):
        if value.startswith(REGEX_PREFIX):
            regex = value[len(REGEX_PREFIX) :]
            # checked here, so that the error names the label as written, not a `regex:` key
            _check_regex(regex)
            return {"regex": regex}
        return {"equals": value}
    if isinstance(value, dict | Matcher):
        return value
    if isinstance(value, bool | int | float):
        # label values are text: `code: 500` in YAML is a number, which no label ever equals
        raise ValueError(f"a label value is text: quote it ({str(value)!r}) or use `~REGEX`")
    raise ValueError(
        "expected a label value, `~REGEX`, or a mapping with `equals:` or `regex:`; "
        f"got {type(value).__name__}"
    )


#: one entry of a trigger's ``match``, in either form
MatchEntry = Annotated[
    Matcher, BeforeValidator(_matcher_short_form, json_schema_input_type=str | Matcher)
]
#: a trigger's value for a parameter: a template on ``alert``, or a constant
TriggerParam = str | int | float | bool


class TriggerSpec(Model):
    """When alerts of a source start this runbook, and with which parameters."""

    match: dict[str, MatchEntry] = Field(
        description="label name: value, or ~REGEX (matched in full); every one must hold",
        json_schema_extra={"minProperties": 1},
    )
    params: dict[str, TriggerParam] = Field(
        default_factory=dict,
        description="runbook parameter: template on `alert` ({{ alert.labels.instance }})",
    )
    on_resolved: Literal["ignore", "cancel"] = Field(
        default="ignore", description="when the alert resolves: nothing, or cancel its run"
    )
    cooldown: Duration | None = Field(
        default=None, description="after a run started, alerts of the trigger start none for this"
    )
    max_concurrent: int | None = Field(
        default=None, ge=1, description="at most this many of the trigger's runs at once"
    )

    @field_validator("match")
    @classmethod
    def _matches_something(cls, value: dict[str, Matcher]) -> dict[str, Matcher]:
        # a trigger on every alert of a source would start runs for alerts nobody meant
        if not value and cls is TriggerSpec:
            raise ValueError("a trigger needs at least one label matcher")
        for name in value:
            if not name:
                raise ValueError("a label name is not empty")
        return value


class WebhookTriggerSpec(TriggerSpec):
    """A generic webhook: alerts posted to ``/hooks/webhook/NAME``."""

    name: str = Field(pattern=NAME, description="the NAME of /hooks/webhook/NAME")
    match: dict[str, MatchEntry] = Field(
        default_factory=dict,
        description="label name: value, or ~REGEX; may be empty, the name selects already",
    )


_ONE_SOURCE = f"a trigger has exactly one of: {', '.join(TRIGGER_SOURCES)}"


class Trigger(Model):
    """Start the runbook when an alert arrives: exactly one source key."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": [s]} for s in TRIGGER_SOURCES]}
    )

    alertmanager: TriggerSpec | None = Field(
        default=None, description="Prometheus Alertmanager's webhook (version 4)"
    )
    pagerduty: TriggerSpec | None = Field(default=None, description="PagerDuty v3 webhooks")
    sns: TriggerSpec | None = Field(
        default=None, description="Amazon SNS notifications (CloudWatch alarms or text)"
    )
    webhook: WebhookTriggerSpec | None = Field(
        default=None, description="a generic JSON webhook, by name"
    )

    @model_validator(mode="before")
    @classmethod
    def _not_two_sources(cls, value: Any) -> Any:
        # before the sources are validated: two keys are reported even when one is invalid
        if isinstance(value, dict):
            given = [s for s in TRIGGER_SOURCES if value.get(s) is not None]
            if len(given) > 1:
                raise ValueError(_ONE_SOURCE + f"; found {', '.join(given)}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Trigger:
        # after: a misspelt source key has been reported as an unknown field, with a hint
        if all(getattr(self, s) is None for s in TRIGGER_SOURCES):
            raise ValueError(_ONE_SOURCE)
        return self

    @property
    def source(self) -> str:
        return next(s for s in TRIGGER_SOURCES if getattr(self, s) is not None)

    @property
    def spec(self) -> TriggerSpec:
        spec: TriggerSpec = getattr(self, self.source)
        return spec


# --------------------------------------------------------------------------- steps


class Retry(Model):
    """Try a failing step again. Only errors marked retryable are retried unless ``on: any``."""

    attempts: int = Field(default=1, ge=1, le=100, description="total tries, the first included")
    delay: Duration = 1.0
    backoff: float = Field(default=1.0, ge=1.0, description="delay multiplier after each try")
    max_delay: Duration | None = None
    jitter: float = Field(default=0.0, ge=0.0, le=1.0, description="random +/- fraction of delay")
    on: Literal["retryable", "any"] = "retryable"


class Call(Model):
    """An action call: used by rollback blocks."""

    action: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    timeout: Duration | None = None


OnFailure = Literal["rollback", "continue", "abort"]


class StepBase(Model):
    id: str = Field(pattern=STEP_ID, description="unique in the runbook; referenced as steps.<id>")

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == GOTO_END:
            raise ValueError(f"{GOTO_END!r} is reserved: `goto: {GOTO_END}` finishes the run")
        return value

    name: str = ""
    description: str = ""
    if_: str | None = Field(
        default=None,
        alias="if",
        description="a condition; the step is skipped when it is false. '{{ }}' optional",
    )


class Output(Model):
    """A step output with options (the short form is just the template)."""

    value: str = Field(description="the template, as in the short form")
    secret: bool = Field(
        default=False,
        description="mask the value everywhere (store, logs, Slack); later steps see ***",
    )


def _output_short_form(value: Any) -> Any:
    """``x: "{{ result.a }}"`` is ``x: {value: "{{ result.a }}"}``."""
    if isinstance(value, str):
        return {"value": value}
    if isinstance(value, dict | Output):
        return value
    raise ValueError(
        f"Input should be a valid string (the template), or a mapping with `value:` and "
        f"`secret:`; got {type(value).__name__}"
    )


#: one entry of ``outputs``, in either form
OutputEntry = Annotated[
    Output, BeforeValidator(_output_short_form, json_schema_input_type=str | Output)
]


#: names a loop's ``as`` may not take: what the templates' context already holds
LOOP_RESERVED = frozenset(
    {
        "params",
        "steps",
        "run",
        "alert",
        "result",
        "params_used",
        "loop",
        "range",
        "dict",
        "lipsum",
        "cycler",
        "joiner",
        "namespace",
        "true",
        "false",
        "none",
        "True",
        "False",
        "None",
    }
)


class Looped(Model):
    """``for_each``: run the step once per item of a list (the loop fields of action steps,
    and of any other kind of step that can loop)."""

    for_each: str | None = Field(
        default=None,
        description="a template that gives a list; the step runs once per item",
    )
    as_: str = Field(
        default="item",
        alias="as",
        description="the item's name in the step's templates (with, outputs, rollback)",
        json_schema_extra={"pattern": r"^[a-z_][a-z0-9_]*$"},
    )
    max_concurrency: int = Field(
        default=1, ge=1, description="items at once (1: one after the other)"
    )
    on_item_failure: Literal["stop", "continue"] = Field(
        default="stop",
        description="after an item fails: start no more (stop), or run the others (continue)",
    )

    @field_validator("as_")
    @classmethod
    def _a_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", value):
            raise ValueError(
                f"`as: {value}` is not a name templates can use: lowercase letters, digits "
                "and underscores, not starting with a digit"
            )
        if value in LOOP_RESERVED:
            raise ValueError(
                f"`as: {value}` would hide {value!r}, which templates already have; "
                "choose another name"
            )
        return value

    @field_validator("as_", "max_concurrency", "on_item_failure")
    @classmethod
    def _needs_for_each(cls, value: Any, info: ValidationInfo) -> Any:
        # ``for_each`` comes first; absent from the data when it was itself invalid
        if info.data.get("for_each", "") is None:
            name = "as" if info.field_name == "as_" else info.field_name
            raise ValueError(f"`{name}` only applies to a step with `for_each`")
        return value

    @property
    def looped(self) -> bool:
        return self.for_each is not None


class ActionStep(Looped, StepBase):
    """Call an action plugin."""

    action: str = Field(description="the plugin name, e.g. ssh.command, aws.call, log")
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    outputs: dict[str, OutputEntry] = Field(
        default_factory=dict, description="named values computed from `result` for later steps"
    )
    retry: Retry = Field(default_factory=Retry)
    timeout: Duration | None = None
    on_failure: OnFailure = "rollback"
    rollback: Call | None = Field(
        default=None, description="how to undo this step; default: the action's own undo"
    )

    def output_templates(self) -> dict[str, str]:
        """Each output's template, whichever form it was written in."""
        return {k: v.value for k, v in self.outputs.items()}

    @property
    def secret_outputs(self) -> frozenset[str]:
        return frozenset(k for k, v in self.outputs.items() if v.secret)


class Approval(Model):
    message: str
    approvers: list[str] = Field(
        default_factory=list,
        description="users or @groups; empty: the runbook's permissions.approve",
    )
    required: int = Field(default=1, ge=1, description="number of distinct approvals needed")
    allow_requester: bool = Field(
        default=False, description="may the person who started the run approve it"
    )
    timeout: Duration | None = None
    on_timeout: Literal["reject", "approve"] = "reject"


class ApprovalStep(StepBase):
    """Wait, durably, for people to approve or reject."""

    approval: Approval


class InputSpec(Model):
    """What a human is asked for mid-run: typed fields, validated like parameters."""

    message: str = Field(description="a template: what the people giving the input are asked")
    fields: dict[str, Parameter] = Field(
        description="each field's declaration, as for parameters; they become the step's outputs",
        json_schema_extra={"minProperties": 1},
    )
    from_: list[str] = Field(
        default_factory=list,
        alias="from",
        description="users or @groups who may give it; empty: whoever may run the runbook",
    )
    timeout: Duration | None = None
    on_timeout: Literal["fail", "default"] = Field(
        default="fail",
        description="fail the step (on_failure applies), or go on with the fields' defaults",
    )

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: dict[str, Parameter]) -> dict[str, Parameter]:
        if not value:
            raise ValueError("an input step needs at least one field")
        for key in value:
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", key):
                raise ValueError(
                    f"field name {key!r} must be lowercase letters, digits and underscores"
                )
        return value

    @model_validator(mode="after")
    def _defaults_for_timeout(self) -> InputSpec:
        if self.on_timeout == "default":
            needed = [name for name, field in self.fields.items() if field.is_required]
            if needed:
                raise ValueError(
                    "on_timeout: default needs a default (or required: false) on every field; "
                    f"{', '.join(needed)} has none"
                )
        return self


class InputStep(StepBase):
    """Wait, durably, for a human to give typed values; they become the step's outputs."""

    input: InputSpec
    on_failure: OnFailure = Field(
        default="rollback", description="what a time-out with on_timeout: fail does to the run"
    )


class Case(Model):
    if_: str | None = Field(default=None, alias="if")
    goto: str


class GotoStep(StepBase):
    """Jump to another step (``end`` finishes the run), when ``if`` holds."""

    goto: str


class BranchStep(StepBase):
    """Jump to the first case whose ``if`` holds; a case without ``if`` is the default."""

    branch: list[Case] = Field(min_length=1)


class ParallelStep(StepBase):
    """Run action steps at the same time; the group fails if any child fails."""

    parallel: list[ActionStep] = Field(min_length=1)
    max_concurrency: int | None = Field(default=None, ge=1)
    on_failure: OnFailure = "rollback"

    @field_validator("parallel")
    @classmethod
    def _children_do_not_loop(cls, value: list[ActionStep]) -> list[ActionStep]:
        for child in value:
            if child.looped:
                raise ValueError(
                    f"step {child.id!r}: a step of a parallel group cannot use for_each; "
                    "make the loop a step of its own (max_concurrency runs items at once)"
                )
        return value


class CallSpec(Model):
    """Which runbook a ``call:`` step runs as a child run, and with which parameters."""

    runbook: str = Field(pattern=NAME, description="the runbook to run as a child run")
    version: int | None = Field(
        default=None,
        ge=1,
        description="the version; default: the newest at the parent's start (recorded)",
    )
    with_: dict[str, Any] = Field(
        default_factory=dict, alias="with", description="the child's parameters (templates)"
    )


class CallStep(Looped, StepBase):
    """Run another runbook as a child run: its own id and log, its outputs this step's, its
    failure this step's failure, rolled back as a unit when this run rolls back."""

    call: CallSpec
    outputs: dict[str, OutputEntry] = Field(
        default_factory=dict,
        description="named values computed from `result` (run, status, outputs of the child)",
    )
    timeout: Duration | None = Field(
        default=None, description="cancel the child run when it takes longer than this"
    )
    on_failure: OnFailure = "rollback"

    def output_templates(self) -> dict[str, str]:
        return {k: v.value for k, v in self.outputs.items()}

    @property
    def secret_outputs(self) -> frozenset[str]:
        return frozenset(k for k, v in self.outputs.items() if v.secret)


#: each kind of step by the key that makes a step of that kind: the loader's discriminator,
#: the JSON Schema and the error messages all read this one table
STEP_MODELS: dict[str, type[StepBase]] = {
    "action": ActionStep,
    "approval": ApprovalStep,
    "goto": GotoStep,
    "branch": BranchStep,
    "parallel": ParallelStep,
    "call": CallStep,
    "input": InputStep,
}
STEP_KINDS = tuple(STEP_MODELS)
_KIND_OF = {cls: kind for kind, cls in STEP_MODELS.items()}
#: "action, approval, ...": how messages list the kinds
STEP_KINDS_TEXT = ", ".join(STEP_KINDS)


def kind_of(step: StepBase) -> str:
    """The kind key of a step: ``action``, ``approval``, ``call``..."""
    return _KIND_OF[type(step)]


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        found = [k for k in STEP_KINDS if k in value]
        return found[0] if len(found) == 1 else None
    if isinstance(value, BaseModel):
        return _KIND_OF.get(type(value))  # type: ignore[arg-type]
    return None


Step = Annotated[
    Annotated[ActionStep, Tag("action")]
    | Annotated[ApprovalStep, Tag("approval")]
    | Annotated[GotoStep, Tag("goto")]
    | Annotated[BranchStep, Tag("branch")]
    | Annotated[ParallelStep, Tag("parallel")]
    | Annotated[CallStep, Tag("call")]
    | Annotated[InputStep, Tag("input")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message=f"a step needs exactly one of: {STEP_KINDS_TEXT}",
    ),
]


class Runbook(Model):
    """A runbook document."""

    api_version: Literal["runbook/v1"] = Field(alias="apiVersion")
    name: str = Field(pattern=NAME, description="lowercase, digits and dashes")
    version: int = Field(ge=1, description="bump on every change; runs record it")
    description: str = ""
    owners: list[str] = Field(default_factory=list)
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    permissions: Permissions = Field(default_factory=Permissions)
    concurrency: Concurrency | None = None
    schedule: list[Schedule] = Field(default_factory=list)
    triggers: list[Trigger] = Field(
        default_factory=list, description="alerts that start the runbook"
    )
    notify: Notify | None = None
    max_step_visits: int = Field(
        default=20, ge=1, description="loop guard: how often goto may revisit one step"
    )
    steps: list[Step] = Field(min_length=1)

    @field_validator("parameters")
    @classmethod
    def _param_names(cls, value: dict[str, Parameter]) -> dict[str, Parameter]:
        for key in value:
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", key):
                raise ValueError(
                    f"parameter name {key!r} must be lowercase letters, digits and underscores"
                )
        return value


AnyStep = ActionStep | ApprovalStep | GotoStep | BranchStep | ParallelStep | CallStep | InputStep


def iter_steps(runbook: Runbook) -> list[tuple[AnyStep, ParallelStep | None]]:
    """Every step in document order, with the parallel group it belongs to (if any)."""
    out: list[tuple[AnyStep, ParallelStep | None]] = []
    for step in runbook.steps:
        out.append((step, None))
        if isinstance(step, ParallelStep):
            out.extend((child, step) for child in step.parallel)
    return out
