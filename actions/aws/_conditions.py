"""Conditions on an AWS response: a JMESPath ``query`` and what its value must be.

Used by ``aws.wait`` (``until:``) and ``aws.assert`` (``that:``), like the property selector and
desired values of SSM's ``aws:waitForAwsResourceProperty`` / ``aws:assertAwsResourceProperty``,
with numeric bounds added: "at least 6 InService instances" is a common thing to wait for.
"""

from __future__ import annotations

import json
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import Field, field_validator, model_validator

from runbook_engine.plugin.contract import ActionParams

__all__ = ["Condition", "check_query", "select", "show"]

_COMPARATORS = ("equals", "not_equals", "in_", "min", "max")
_SHOWN = 200


def check_query(value: str | None) -> str | None:
    """``value`` if it is valid JMESPath (or None); ``ValueError`` saying why otherwise."""
    if value is not None:
        try:
            jmespath.compile(value)
        except JMESPathError as exc:
            # the parser's message spans lines (it draws a caret); the first says what is wrong
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(f"query {value!r} is not valid JMESPath: {first}") from None
    return value


def select(query: str | None, output: Any) -> Any:
    """The part of ``output`` that ``query`` selects (all of it without a query)."""
    return output if query is None else jmespath.search(query, output)


class Condition(ActionParams):
    """``query`` selects a value; every comparator given must hold (they combine with "and")."""

    #: JMESPath over the response, e.g. ``AutoScalingGroups[0].DesiredCapacity``
    query: str | None = None
    equals: Any = None
    not_equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    #: the value is a number and at least this
    min: float | None = None
    #: the value is a number and at most this
    max: float | None = None

    _query_compiles = field_validator("query")(check_query)

    @model_validator(mode="after")
    def _has_a_comparator(self) -> Condition:
        if not self._given():
            raise ValueError("give at least one of: equals, not_equals, in, min, max")
        return self

    def _given(self) -> list[str]:
        # ``equals: null`` is a real condition, so "given" means "set", not "not None".
        return [name for name in _COMPARATORS if name in self.model_fields_set]

    def holds(self, value: Any) -> bool:
        """Whether ``value`` (what the query selected) satisfies every comparator."""
        given = self._given()
        if "equals" in given and not _same(value, self.equals):
            return False
        if "not_equals" in given and _same(value, self.not_equals):
            return False
        if "in_" in given and not any(_same(value, item) for item in self.in_ or []):
            return False
        if "min" in given or "max" in given:
            if not isinstance(value, int | float) or isinstance(value, bool):
                return False  # "at least 2" never holds for a missing value or a text
            if self.min is not None and value < self.min:
                return False
            if self.max is not None and value > self.max:
                return False
        return True

    def text(self) -> str:
        """``<query> == 6 and >= 2``: the condition as people read it."""
        subject = self.query or "the response"
        parts = []
        for name in self._given():
            if name == "equals":
                parts.append(f"== {show(self.equals)}")
            elif name == "not_equals":
                parts.append(f"!= {show(self.not_equals)}")
            elif name == "in_":
                parts.append(f"in {show(self.in_)}")
            elif name == "min":
                parts.append(f">= {self.min:g}" if self.min is not None else ">= null")
            elif name == "max":
                parts.append(f"<= {self.max:g}" if self.max is not None else "<= null")
        return f"{subject} {' and '.join(parts)}"


def _same(a: Any, b: Any) -> bool:
    # JSON equality, not Python's: true is not 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def show(value: Any) -> str:
    """A value for a message, as JSON, cut short when long."""
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."
