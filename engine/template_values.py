"""What a template produced, as JSON data: the only values a step's parameters may hold.

Native rendering keeps an expression's Python value, and Jinja hands out values that are not
data: ``map()`` and ``select()`` give generators, ``range()`` a range, ``dict.items()`` a view.
Every rendered value is converted here, when it is rendered, so that everything after (the
action, the event log, a resume) sees plain JSON: iterables become lists, sets sorted lists,
mapping keys text; what has no JSON form (a macro, a loop, a float that is not a number, an
integer past 64 bits, text that is not valid Unicode) is an error that names the field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import jinja2
from markupsafe import Markup

from runbook_engine.template_limits import MAX_DEPTH, MAX_SIZE, TemplateLimit, check_time

#: integers the event log keeps exactly (signed 64 bits, as both store backends do)
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


class NotJSON(Exception):
    """A rendered value has no JSON form (turned into a TemplateError naming the field)."""


def json_value(value: Any) -> Any:
    """``value`` as JSON data (see the module docstring), within ``MAX_SIZE`` items in all."""
    return _Converter().convert(value, 0)


class _Converter:
    def __init__(self) -> None:
        self.items = 0  # list items, mapping entries and characters of text seen so far

    def count(self, n: int) -> None:
        self.items += n
        if self.items > MAX_SIZE:
            raise TemplateLimit(
                f"the template produced a value of more than {MAX_SIZE:,} items and characters"
            )

    def convert(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, int):
            if not _INT_MIN <= value <= _INT_MAX:
                raise NotJSON(
                    f"an integer of {value.bit_length()} bits is too large (at most 64 bits)"
                )
            return int(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise NotJSON(f"{value} is not a number JSON can hold")
            return value
        if isinstance(value, jinja2.Undefined):
            str(value)  # StrictUndefined raises here, naming what was undefined
            return None
        if depth >= MAX_DEPTH:
            raise TemplateLimit(f"the value nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                self.count(1)
                out[self.key(key)] = self.convert(item, depth + 1)
            return out
        if isinstance(value, set | frozenset):
            return _sorted([self.convert(item, depth + 1) for item in self.each(value)])
        if isinstance(value, list | tuple | range | Iterator) or _is_view(value):
            return [self.convert(item, depth + 1) for item in self.each(value)]
        raise NotJSON(
            f"the template produced a {type(value).__name__}, which is not data "
            "(text, a number, a boolean, a list or a mapping)"
        )

    def text(self, value: str) -> str:
        self.count(len(value))
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise NotJSON(
                    "the template produced text with a lone surrogate (not valid Unicode)"
                ) from None
        return str(value) if isinstance(value, Markup) else value

    def key(self, key: Any) -> str:
        # JSON keys are text; numbers, booleans and null become text as json.dumps makes them
        if isinstance(key, str):
            return self.text(key)
        if key is None:
            return "null"
        if isinstance(key, bool):
            return "true" if key else "false"
        if isinstance(key, int | float):
            return str(key)
        raise NotJSON(f"a mapping key of type {type(key).__name__} (keys must be text)")

    def each(self, items: Iterable[Any]) -> Iterator[Any]:
        # generators are consumed here, with the clock and the size checked as they go
        for item in items:
            check_time()
            self.count(1)
            yield item


def _is_view(value: Any) -> bool:
    return isinstance(value, type({}.keys()) | type({}.values()) | type({}.items()))


def _sorted(items: list[Any]) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:  # mixed types (1 and "a"): order by their text instead
        return sorted(items, key=repr)
