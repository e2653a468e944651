"""Checks of ``triggers:`` that need the rest of the document: the parameters each trigger
gives, and the templates that compute them from the alert.

Like ``checks``, they run on the raw data, so a trigger with a bad regex *and* an unknown
parameter reports both at once."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import jinja2
from jinja2 import meta

from runbook_engine.spec.models import TRIGGER_SOURCES, Parameter
from runbook_engine.spec.yamlmarks import Path
from runbook_engine.templating import check_syntax, environment, is_template, references

#: the only name a trigger's template reads
ALERT = "alert"
#: what ``alert`` holds (``triggers.alert.Alert.context`` builds it)
ALERT_FIELDS = (
    "source",
    "fingerprint",
    "status",
    "starts_at",
    "ends_at",
    "labels",
    "annotations",
    "generator_url",
    "summary",
)
#: names any template may use without declaring them
_CONSTANTS = frozenset({"true", "false", "none", "True", "False", "None"})

Add = Callable[..., None]


def check_triggers(data: dict[str, Any], add: Add) -> None:
    """Report, through ``add(path, message, key=...)``, every trigger parameter that is not
    declared, whose template does not parse or reads something other than the alert, whose
    constant does not fit; and every required parameter a trigger leaves out."""
    triggers = data.get("triggers")
    if not isinstance(triggers, list):
        return
    raw_params = data.get("parameters")
    declared: dict[str, Parameter | None] = {}
    if isinstance(raw_params, dict):
        for name, raw in raw_params.items():
            declared[name] = _parameter(raw)
    for i, trigger in enumerate(triggers):
        if not isinstance(trigger, dict):
            continue
        for source in TRIGGER_SOURCES:
            spec = trigger.get(source)
            if isinstance(spec, dict):
                _check_spec(spec, ("triggers", i, source), declared, add)


def _parameter(raw: Any) -> Parameter | None:
    """The declaration, when it is valid (an invalid one is reported on its own)."""
    try:
        return Parameter.model_validate(raw, by_name=False)
    except (ValueError, TypeError):
        return None


def _check_spec(
    spec: dict[str, Any], path: Path, declared: dict[str, Parameter | None], add: Add
) -> None:
    params = spec.get("params", {})
    if not isinstance(params, dict):
        return  # the model reports the type
    for name, value in params.items():
        where = (*path, "params", name)
        if name not in declared:
            hint = difflib.get_close_matches(str(name), list(declared), n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            known = ", ".join(declared) or "none"
            add(where, f"unknown parameter {name!r}{extra} (declared: {known})", key=True)
            continue
        if isinstance(value, str) and is_template(value):
            for message in _template_problems(value):
                add(where, message)
        elif isinstance(value, str | int | float | bool):
            _check_constant(declared[name], value, where, add)
    for name, param in declared.items():
        if name in params or param is None or not param.is_required or param.secret:
            # a secret one may come from the environment of whatever starts the run
            continue
        add(
            (*path, "params") if "params" in spec else path,
            f"the trigger does not give the required parameter {name!r}: its runs could "
            "never start (give it in `params`, or a `default` in `parameters`)",
        )


def _check_constant(param: Parameter | None, value: Any, where: Path, add: Add) -> None:
    if param is None:
        return
    from runbook_engine.spec.params import coerce_value

    try:
        coerce_value(param, value, from_text=False)
    except ValueError as exc:
        add(where, f"{value!r} does not fit the parameter: {exc}")


def _template_problems(source: str) -> list[str]:
    error = check_syntax(source)
    if error:
        return [error]
    problems: list[str] = []
    env = environment()
    try:
        names = meta.find_undeclared_variables(env.parse(source))
    except (jinja2.TemplateSyntaxError, RecursionError):  # check_syntax has reported it
        return []
    for name in sorted(names - {ALERT} - _CONSTANTS - set(env.globals)):
        problems.append(
            f"a trigger's template reads only `{ALERT}` (the alert that matched); "
            f"{name!r} is not defined here"
        )
    for chain in references(source, ALERT):
        if chain[0] not in ALERT_FIELDS:
            hint = difflib.get_close_matches(chain[0], ALERT_FIELDS, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            problems.append(
                f"reads {ALERT}.{chain[0]}, which an alert does not have{extra} "
                f"(it has: {', '.join(ALERT_FIELDS)})"
            )
    return problems
