"""The texts a run masks: its secret parameters' values, the values derived from them, and the
common encodings of both.

An encoded secret is as good as the secret: a ``Authorization: Basic ...`` header, a token in a
query string or a base64 blob in a log line. So each secret text is masked as written, in
base64 (standard and URL-safe, padded or not) and URL-encoded.

Derived values shorter than ``MIN_DERIVED`` characters are not masked: ``{{ params.token |
length }}`` or ``{{ 'on' if params.token }}`` cannot carry the secret, and masking them would
hide every ``20`` or ``on`` in the run's log.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import jinja2

from runbook_engine.errors import RunbookError
from runbook_engine.secret_taint import SecretParams, watch
from runbook_engine.spec.models import ActionStep, ApprovalStep, InputStep, Runbook, iter_steps
from runbook_engine.templating import environment, render, strings_in

__all__ = [
    "MIN_DERIVED",
    "SecretTexts",
    "derived_values",
    "encodings",
    "secret_params",
    "texts_of",
]

MIN_DERIVED = 4


def encodings(text: str) -> set[str]:
    """``text`` and the forms it commonly travels in."""
    raw = text.encode()
    out = {text, quote(text, safe=""), quote_plus(text)}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        shown = encoded.decode("ascii")
        out |= {shown, shown.rstrip("=")}
    return {form for form in out if form}


def texts_of(value: Any) -> Iterator[str]:
    """The text of every scalar in a rendered value (booleans and ``None`` carry nothing)."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, int | float):
        yield str(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from texts_of(key)
            yield from texts_of(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from texts_of(item)
    else:
        yield str(value)


def secret_params(runbook: Runbook, values: Mapping[str, Any]) -> SecretParams:
    """A run's parameters as templates get them (reads of the secret ones are watched)."""
    secret = frozenset(name for name, param in runbook.parameters.items() if param.secret)
    return SecretParams(values, secret)


class SecretTexts:
    """A growing set of texts to mask, longest first (a longer secret that contains a shorter
    one is masked whole, not around the shorter one's mask)."""

    def __init__(self, given: Iterable[str] = ()) -> None:
        self._known: set[str] = set()
        self.texts: tuple[str, ...] = ()
        self._add(given, minimum=1)

    def learn(self, derived: Iterable[Any], *, secret: Iterable[Any] = ()) -> bool:
        """Add the texts of values derived from secrets, and of values declared secret (step
        outputs marked ``secret``: masked whatever their length, as parameters are); True
        when something was new."""
        grew = self._add((t for value in derived for t in texts_of(value)), minimum=MIN_DERIVED)
        return self._add((t for value in secret for t in texts_of(value)), minimum=1) or grew

    def _add(self, texts: Iterable[str], *, minimum: int) -> bool:
        new: set[str] = set()
        for text in texts:
            if len(text) < minimum or text in self._known:
                continue
            new.add(text)
            # an encoding of a very short secret ("a" is "YQ") would hide common text
            new |= {form for form in encodings(text) if len(form) >= MIN_DERIVED}
        new -= self._known
        if not new:
            return False
        self._known |= new
        self.texts = tuple(sorted(self._known, key=len, reverse=True))
        return True


def _templates(runbook: Runbook) -> Iterator[str]:
    """The runbook's templates whose value can reach an action, a log or a message."""
    if runbook.concurrency is not None:
        yield runbook.concurrency.lock
    for step, _ in iter_steps(runbook):
        if isinstance(step, ActionStep):
            yield from strings_in(step.with_)
            yield from step.output_templates().values()
            if step.rollback is not None:
                yield from strings_in(step.rollback.with_)
        elif isinstance(step, ApprovalStep):
            yield step.approval.message
        elif isinstance(step, InputStep):
            yield step.input.message


def _expressions(source: str) -> Iterator[str]:
    """The text of each ``{{ expression }}`` in ``source`` that names ``params``."""
    parts: list[str] | None = None
    try:
        for _line, kind, value in environment().lexer.tokeniter(source, None):
            if kind == "variable_begin":
                parts = []
            elif kind == "variable_end" and parts is not None:
                expression = "".join(parts)
                if "params" in expression:
                    yield expression
                parts = None
            elif parts is not None:
                parts.append(value)
    except jinja2.TemplateSyntaxError:
        return  # reported by validate; the run renders nothing from it either


def derived_values(runbook: Runbook, context: Mapping[str, Any]) -> list[Any]:
    """What each of the runbook's ``{{ expressions }}`` that reads a secret parameter gives in
    ``context``, evaluated one by one (one that needs what is not known yet is passed over).

    A run picked up again (after an approval, a crash, on another engine) masks from its
    first event what earlier drives derived, though it has not rendered those templates."""
    params = context.get("params")
    if not isinstance(params, SecretParams) or not params.secret:
        return []
    with watch() as found:
        for source in _templates(runbook):
            for expression in _expressions(source):
                try:
                    render("{{" + expression + "}}", context)
                except RunbookError:
                    continue  # it reads a step not run yet, a loop variable...
    return found
