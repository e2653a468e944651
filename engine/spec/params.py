"""Run parameters: turn ``-p key=value`` text (or JSON values from Slack and schedules) into
typed values checked against the runbook's declarations. Errors name the parameter and what it
expected."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from runbook_engine.errors import ParameterError, RunbookError
from runbook_engine.spec.models import Parameter, Runbook

REDACTED = "***"
_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n"}


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _scalar(kind: str, value: Any, from_text: bool) -> Any:
    if kind == "string":
        if isinstance(value, str):
            if not value.isascii() and not _is_unicode(value):
                # a command line's bytes that are not UTF-8 arrive as lone surrogates, which
                # no store and no JSON can hold
                raise ValueError("expected UTF-8 text; the value has bytes that are not UTF-8")
            return value
        if from_text or isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a string, got {type(value).__name__}")
        return str(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"expected true or false, got {value!r}")
    if kind == "integer":
        if isinstance(value, bool):
            raise ValueError("expected an integer, got a boolean")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return int(value)
        raise ValueError(f"expected an integer, got {value!r}")
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError("expected a number, got a boolean")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value!r}")
        if isinstance(value, int | float):
            return value
        if isinstance(value, str):
            if re.fullmatch(r"\s*[-+]?\d+\s*", value):
                return int(value)  # exact, and no overflow to inf for 400 digits
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                if not math.isfinite(number):
                    raise ValueError(f"expected a finite number, got {value!r}")
                return number
        raise ValueError(f"expected a number, got {value!r}")
    raise ValueError(f"unknown type {kind}")


def coerce_value(param: Parameter, value: Any, *, from_text: bool) -> Any:
    """Check and convert one value. ``from_text``: it came from a command line as a string."""
    kind = param.type
    if kind == "list":
        if isinstance(value, str):
            text = value.strip()
            if from_text and text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(
                        f"expected a JSON list or comma-separated values: {exc}"
                    ) from exc
            else:
                value = [part.strip() for part in text.split(",") if part.strip()]
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {type(value).__name__}")
        items = [_scalar(param.items, item, from_text) for item in value]
        for item in items:
            _check_pattern(param, item)
        _check_length(param, len(items), "items")
        return items
    if kind == "enum":
        assert param.choices is not None  # the model requires choices for enum
        for choice in param.choices:
            if value == choice or (isinstance(value, str) and str(choice) == value):
                return choice
        allowed = ", ".join(str(c) for c in param.choices)
        raise ValueError(f"expected one of {allowed}; got {value!r}")
    result = _scalar(kind, value, from_text)
    if kind in ("integer", "number"):
        if param.minimum is not None and result < param.minimum:
            raise ValueError(f"expected at least {_num(param.minimum)}, got {result}")
        if param.maximum is not None and result > param.maximum:
            raise ValueError(f"expected at most {_num(param.maximum)}, got {result}")
    if kind == "string":
        _check_pattern(param, result)
        _check_length(param, len(result), "characters")
    return result


def _num(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _check_pattern(param: Parameter, value: Any) -> None:
    if (
        param.pattern is not None
        and isinstance(value, str)
        and not re.fullmatch(param.pattern, value)
    ):
        raise ValueError(f"expected text matching {param.pattern!r}, got {value!r}")


def _check_length(param: Parameter, length: int, unit: str) -> None:
    if param.min_length is not None and length < param.min_length:
        raise ValueError(f"expected at least {param.min_length} {unit}, got {length}")
    if param.max_length is not None and length > param.max_length:
        raise ValueError(f"expected at most {param.max_length} {unit}, got {length}")


def parse_assignments(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` → ``{"a": "1", "b": "x=y"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParameterError(pair, "expected key=value")
        if key.strip() in out:
            # silently keeping one of two values would run with a value nobody may have meant
            raise ParameterError(key.strip(), "is given more than once; give it once")
        out[key.strip()] = value
    return out


def resolve_params(
    runbook: Runbook, given: Mapping[str, Any], *, from_text: bool = True, partial: bool = False
) -> dict[str, Any]:
    """Typed values for every declared parameter, defaults filled in (``partial``: only the
    given ones, as when a resumed run is handed its secrets again).

    Unknown names are refused (a typo would otherwise silently fall back to a default)."""
    return resolve_values(
        runbook.parameters,
        given,
        from_text=from_text,
        partial=partial,
        owner=f"runbook {runbook.name}",
    )


def resolve_values(
    declared: Mapping[str, Parameter],
    given: Mapping[str, Any],
    *,
    from_text: bool = True,
    partial: bool = False,
    owner: str,
    kind: str = "parameter",
    how: str = "pass -p {name}=...",
    error: type[ParameterError] = ParameterError,
) -> dict[str, Any]:
    """``resolve_params`` for any set of declarations (a runbook's parameters, an input
    step's fields): ``owner`` and ``kind`` word the refusal of an unknown name ("runbook x has
    no such parameter"), ``how`` says how to give a missing one, ``error`` is raised."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        import difflib

        name = unknown[0]
        hint = difflib.get_close_matches(name, list(declared), n=1)
        names = ", ".join(declared) or "none"
        suggestion = f"; did you mean {hint[0]!r}?" if hint else f" (declared: {names})"
        raise error(name, f"{owner} has no such {kind}{suggestion}")
    values: dict[str, Any] = {}
    for name, param in declared.items():
        if name in given:
            try:
                values[name] = coerce_value(param, given[name], from_text=from_text)
            except ValueError as exc:
                raise error(name, str(exc)) from None
        elif partial:
            continue
        elif "default" in param.model_fields_set:
            values[name] = param.default
        elif param.is_required:
            what = param.description or param.type
            raise error(name, f"is required ({what}); {how.format(name=name)}")
        else:
            values[name] = None
    return values


def secret_values(runbook: Runbook, values: Mapping[str, Any]) -> tuple[str, ...]:
    """The text of every secret parameter value, for redaction of output."""
    out: list[str] = []
    for name, param in runbook.parameters.items():
        value = values.get(name)
        if param.secret and value not in (None, ""):
            out.extend(str(v) for v in value) if isinstance(value, list) else out.append(str(value))
    return tuple(v for v in out if v)


def redact_params(runbook: Runbook, values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as they may be stored or shown: secret values replaced by ``***``.

    An optional secret that was left out stays ``None``: there is nothing to hide, and a run
    picked up again must not ask for a value nobody gave."""
    return {
        k: (
            REDACTED
            if k in runbook.parameters and runbook.parameters[k].secret and v is not None
            else v
        )
        for k, v in values.items()
    }


class SecretMissing(ParameterError):
    """A run cannot go on here: secret parameters it was given are not known to this process
    (secrets are never stored). ``names``: all of them, in declaration order."""

    def __init__(self, run_id: str, names: list[str]) -> None:
        self.run_id = run_id
        self.names = names
        given = ", ".join(f"RUNBOOK_SECRET_{n.upper()}" for n in names)
        again = " ".join(f"-p {n}=-" for n in names)
        plural = "s" if len(names) > 1 else ""
        #: the explanation without the parameter prefix (what the run's log says)
        self.reason = (
            f"run {run_id} needs the secret parameter{plural} {', '.join(names)}, which "
            f"{'are' if plural else 'is'} never stored: set {given} where the run continues "
            f"(this shell, `runbook serve`, the workers), or run `runbook resume {run_id} "
            f"{again}` to be asked for {'them' if plural else 'it'}"
        )
        super().__init__(names[0], self.reason)


class InputSecretMissing(SecretMissing):
    """A run cannot go on here: secret values of its input steps (``names``: ``step.field``)
    were given to another process, which is gone (they are never stored)."""

    def __init__(self, run_id: str, names: list[str]) -> None:
        self.run_id = run_id
        self.names = names
        sets = " ".join(f"--set {n.partition('.')[2]}=-" for n in names)
        plural = "s" if len(names) > 1 else ""
        self.reason = (
            f"run {run_id} needs the secret input{plural} {', '.join(names)} again, which "
            f"{'are' if plural else 'is'} never stored and went with the process "
            f"{'they were' if plural else 'it was'} given to: run `runbook input {run_id} "
            f"{sets}` to give {'them' if plural else 'it'} again (or `runbook resume "
            f"{run_id}` on a terminal, which asks)"
        )
        self.name = names[0]
        RunbookError.__init__(self, self.reason)


def redact_text(text: str, secrets: tuple[str, ...]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
