"""Label matchers of triggers: an exact value, or a regular expression matched in full.

A regex is anchored at both ends, as Alertmanager's ``=~`` matchers are: ``~web-.*`` matches
``web-1`` and not ``my-web-1``. Alertmanager runs RE2, whose time is linear in the text; Python's
``re`` backtracks, and label values come from whoever can post an alert. So a regex whose time
can grow exponentially with the text is refused when the runbook is validated: an unbounded
repeat inside another (``(a+)+``, ``(.*)*``) or over alternatives (``(a|aa)*``), and
backreferences (which RE2 has not either). And a regex never runs on a value longer than
``MAX_VALUE``: such a value does not match.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from typing import Any

#: characters of a label value a regex is run on; a longer value never matches a regex
MAX_VALUE = 1024
#: repeats above this count are as costly as unbounded ones
_BIG_REPEAT = 100

# the parser of ``re`` has no type stubs; its tree is plain tuples and lists
_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")
_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", _c.MAX_REPEAT)}


def check_regex(pattern: str) -> str | None:
    """None when ``pattern`` may be used as a matcher, else why not (one line)."""
    try:
        re.compile(pattern)
        tree = _parser.parse(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        return f"not a valid regular expression: {exc}"
    return _risky(list(tree), inside_repeat=False)


def _risky(items: list[Any], *, inside_repeat: bool) -> str | None:
    for op, av in items:
        if op in _REPEATS:
            _low, high, sub = av
            unbounded = high == _c.MAXREPEAT or high > _BIG_REPEAT
            if unbounded and inside_repeat:
                return (
                    "a repeat inside a repeat ((a+)+, (.*)*) can take exponential time on a "
                    "crafted label value; write it without the nesting"
                )
            found = _risky(list(sub), inside_repeat=inside_repeat or unbounded)
        elif op is _c.SUBPATTERN:
            found = _risky(list(av[-1]), inside_repeat=inside_repeat)
        elif op is _c.BRANCH and inside_repeat:
            # alternatives that overlap ((a|aa)*) backtrack exponentially too; ``re`` turns
            # alternatives of single characters ((a|b)*) into a set, which never gets here
            found = (
                "an alternation inside a repeat ((a|aa)*) can take exponential time on a "
                "crafted label value; repeat a character class instead"
            )
        elif op is _c.BRANCH:
            found = next(
                (r for b in av[1] if (r := _risky(list(b), inside_repeat=inside_repeat))), None
            )
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            found = _risky(list(av[1]), inside_repeat=inside_repeat)
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            found = _risky(list(av), inside_repeat=inside_repeat)
        elif op in (_c.GROUPREF, _c.GROUPREF_EXISTS):
            found = "backreferences are not supported in matchers (Alertmanager has none either)"
        else:
            found = None
        if found:
            return found
    return None


@lru_cache(maxsize=1024)
def compiled(pattern: str) -> re.Pattern[str]:
    """The pattern, compiled once."""
    return re.compile(pattern)


def regex_matches(pattern: str, value: str) -> bool:
    """``value`` matches ``pattern`` in full (a value over ``MAX_VALUE`` characters: no)."""
    if len(value) > MAX_VALUE:
        return False
    return compiled(pattern).fullmatch(value) is not None
