"""Subscripts on a pattern term, as Ansible has them: ``web[0]``, ``web[-1]``, ``web[1:3]``,
``web[2:]``: the hosts the term matches, indexed from 0, both ends inclusive.

Ansible's quirks are kept, so that a pattern selects here what it selects there: ``[x:0]``
is the single host ``x`` (an end of 0 counts as no end), and ``[x-y]`` is an old spelling of
``[x:y]`` that still works but earns a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Subscript", "apply_subscript", "split_subscript"]

_WITH_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")


@dataclass(frozen=True)
class Subscript:
    start: int
    end: int | None  # None: the single host at ``start``; -1: through the last host
    dashed: bool = False

    def __str__(self) -> str:
        if self.end is None:
            return f"[{self.start}]"
        return f"[{self.start}:{'' if self.end == -1 else self.end}]"


def split_subscript(term: str) -> tuple[str, Subscript | None]:
    """The term without its subscript, and the subscript. Regexes (``~...``) have none."""
    if term.startswith("~"):
        return term, None
    match = _WITH_SUBSCRIPT.match(term)
    if match is None:
        return term, None
    expr, index, start, sep, end = match.groups()
    if index is not None:
        return expr, Subscript(int(index), None)
    return expr, Subscript(int(start), int(end) if end else -1, dashed=sep == "-")


def apply_subscript(hosts: list[str], subscript: Subscript | None) -> list[str]:
    """The hosts the subscript selects. Raises ``IndexError`` for a single index out of range
    (a slice past the end is just shorter, as in Python)."""
    if not hosts or subscript is None:
        return hosts
    start, end = subscript.start, subscript.end
    if end:  # 0 and None both mean "one host"
        if end == -1:
            end = len(hosts) - 1
        return hosts[start : end + 1]
    return [hosts[start]]
