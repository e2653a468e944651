"""Dry run: the steps a run would take, with parameters rendered where they are known now.

Anything that reads a step's outputs or result can only be known at run time; the plan shows the
template there instead of guessing. Nothing is called: no action code runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import meta
from pydantic import ValidationError

from runbook_engine.core.inputs import describe
from runbook_engine.errors import TemplateError
from runbook_engine.plugin import Registry
from runbook_engine.preflight import check_loaded, run_context
from runbook_engine.runtime.invoke import validation_message
from runbook_engine.runtime.runner import redact
from runbook_engine.secret_taint import watch
from runbook_engine.secret_texts import SecretTexts, secret_params
from runbook_engine.spec.loader import LoadedRunbook
from runbook_engine.spec.models import (
    ActionStep,
    AnyStep,
    ApprovalStep,
    BranchStep,
    CallStep,
    GotoStep,
    InputStep,
    ParallelStep,
)
from runbook_engine.spec.params import resolve_params, secret_values
from runbook_engine.templating import (
    condition_source,
    environment,
    is_template,
    references,
    render,
)

RUN_TIME = "<known at run time>"


def _render(
    value: Any, ctx: dict[str, Any], field: str, late: tuple[str, ...] = ("steps", "result")
) -> Any:
    """``value`` rendered, or marked as known at run time when it reads one of ``late``."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        if any(references(value, root) for root in late) or _names(value) & set(late):
            return f"{RUN_TIME} {value}"
        try:
            return render(value, ctx, field=field)
        except TemplateError as exc:
            return f"<error: {exc}>"
    if isinstance(value, list):
        return [_render(v, ctx, field, late) for v in value]
    if isinstance(value, dict):
        return {k: _render(v, ctx, f"{field}.{k}", late) for k, v in value.items()}
    return value


def _names(source: str) -> set[str]:
    try:
        return set(meta.find_undeclared_variables(environment().parse(source)))
    except Exception:  # a syntax error: the render says so
        return set()


#: the items of a loop a plan lists (the others are counted)
PLAN_ITEMS = 20


def _loop(
    step: ActionStep | CallStep, ctx: dict[str, Any], out: dict[str, Any]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A looped step's list in the plan, and the context its templates are shown with: the
    first item's when the list is known, else the item is known at run time."""
    assert step.for_each is not None
    items = _render(step.for_each, ctx, f"{step.id}.for_each")
    if not isinstance(items, list):
        out["for_each"] = items
        return ctx, ("steps", "result", step.as_, "loop")
    shown = items[:PLAN_ITEMS]
    if len(items) > PLAN_ITEMS:
        shown = [*shown, f"... and {len(items) - PLAN_ITEMS} more"]
    out["for_each"] = shown
    out["items"] = len(items)
    if not items:
        return ctx, ("steps", "result", step.as_, "loop")
    loop = {"index": 0, "length": len(items), "first": True, "last": len(items) == 1}
    out["each"] = f"as {step.as_}; with and rollback shown for the first of {len(items)} items"
    return {**ctx, step.as_: items[0], "loop": loop}, ("steps", "result")


def _condition(expr: str | None, ctx: dict[str, Any], field: str) -> Any:
    if expr is None:
        return None
    return _render(condition_source(expr), ctx, field)


def _known(value: Any) -> bool:
    if isinstance(value, str):
        return not value.startswith((RUN_TIME, "<error:"))
    if isinstance(value, list):
        return all(_known(v) for v in value)
    if isinstance(value, dict):
        return all(_known(v) for v in value.values())
    return True


def _describe(registry: Registry | None, action: str, params: Any) -> str | None:
    """The action's own account of the call it would make (AWS actions name the exact API)."""
    if registry is None or action not in registry or not _known(params):
        return None
    impl = registry.get(action)
    try:
        model = impl.Params.model_validate(params)
    except ValidationError as exc:
        return f"<invalid parameters: {validation_message(exc)}>"
    return impl.describe(model)


def _step(step: AnyStep, ctx: dict[str, Any], registry: Registry | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": step.id}
    if step.if_ is not None:
        out["if"] = _condition(step.if_, ctx, f"{step.id}.if")
    late: tuple[str, ...] = ("steps", "result")
    if isinstance(step, ActionStep | CallStep) and step.looped:
        ctx, late = _loop(step, ctx, out)
        out["max_concurrency"] = step.max_concurrency
        out["on_item_failure"] = step.on_item_failure
    if isinstance(step, ActionStep):
        rendered = _render(step.with_, ctx, f"{step.id}.with", late)
        out.update(kind="action", action=step.action, **{"with": rendered})
        call = _describe(registry, step.action, rendered)
        if call is not None:
            out["call"] = call
        if step.retry.attempts > 1:
            out["retry"] = step.retry.model_dump(exclude_defaults=True)
        if step.timeout is not None:
            out["timeout"] = step.timeout
        out["on_failure"] = step.on_failure
        if step.rollback is not None:
            out["rollback"] = {
                "action": step.rollback.action,
                "with": _render(step.rollback.with_, ctx, f"{step.id}.rollback", late),
            }
    elif isinstance(step, ApprovalStep):
        out.update(
            kind="approval",
            message=_render(step.approval.message, ctx, step.id),
            approvers=step.approval.approvers,
            required=step.approval.required,
        )
    elif isinstance(step, InputStep):
        out.update(
            kind="input",
            message=_render(step.input.message, ctx, step.id),
            fields=[field["name"] for field in describe(step.input)],
            # who may give it: the step's from, else whoever may run the runbook
            **{"from": step.input.from_},
        )
    elif isinstance(step, GotoStep):
        out.update(kind="goto", goto=step.goto)
    elif isinstance(step, BranchStep):
        out.update(
            kind="branch",
            cases=[{"if": _condition(c.if_, ctx, step.id), "goto": c.goto} for c in step.branch],
        )
    elif isinstance(step, ParallelStep):
        out.update(
            kind="parallel",
            max_concurrency=step.max_concurrency,
            steps=[_step(child, ctx, registry) for child in step.parallel],
        )
    elif isinstance(step, CallStep):
        version = step.call.version
        out.update(
            kind="call",
            runbook=f"{step.call.runbook}@{version if version is not None else 'newest'}",
            **{"with": _render(step.call.with_, ctx, f"{step.id}.call.with", late)},
            on_failure=step.on_failure,
        )
        if step.timeout is not None:
            out["timeout"] = step.timeout
    return out


def build_plan(
    loaded: LoadedRunbook,
    given: Mapping[str, Any],
    registry: Registry | None = None,
    *,
    from_text: bool = True,
) -> list[dict[str, Any]]:
    """The plan; with a ``registry``, after the checks a run's preflight makes (raises
    ``RunbookInvalid`` with the located problems, as the run would). ``from_text``: the
    values are text to parse (``-p KEY=VALUE``), else typed (JSON)."""
    if registry is not None:
        check_loaded(loaded, registry, run_context()).raise_errors()
    rb = loaded.runbook
    values = resolve_params(rb, given, from_text=from_text)
    ctx = {
        "params": secret_params(rb, values),
        "run": {"id": "<run id>", "requester": "<you>", "runbook": rb.name, "version": rb.version},
    }
    # rendered with the real values and masked as a run masks what it records, so that the
    # plan shows what the run would show (a base64 of the mask is not the mask of a base64)
    with watch() as derived:
        steps = [_step(step, ctx, registry) for step in rb.steps]
    masks = SecretTexts(secret_values(rb, values))
    masks.learn(derived)
    shown: list[dict[str, Any]] = redact(steps, masks.texts)
    return shown


def print_plan(loaded: LoadedRunbook, steps: list[dict[str, Any]]) -> None:
    from runbook_engine.plan_text import print_steps

    rb = loaded.runbook
    print_steps(rb.name, rb.version, loaded.digest, steps)
