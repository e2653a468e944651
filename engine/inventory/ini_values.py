"""The value of an INI inventory variable, typed as Ansible types it.

Ansible evaluates each value as a Python literal: ``2222`` is an int, ``True`` a bool (``true``
stays the text "true"), ``[1, 2]`` a list, ``{'a': 1}`` a dict, ``'x'`` the text x, and
anything that is not a literal is the text as written. Tuples and sets become lists, complex
numbers and ``...`` their text. On a host line the shell-like split has already removed one
level of quotes, so ``port="22"`` there is the int 22, while in ``[group:vars]`` it is "22".
"""

from __future__ import annotations

import ast
import re
import warnings
from typing import Any

__all__ = ["ini_value"]

# Values that evaluate to themselves as text, found without the parser: names, paths, dotted
# names and dashed words are never Python literals (``True``, ``False``, ``None`` excepted).
_PLAIN_TEXT = re.compile(r"[A-Za-z_/][\w./-]*")
_PLAIN_INT = re.compile(r"0|[1-9][0-9]*")
# An IPv4 address or a version: two dots or more are never a Python literal.
_DOTTED_NUMBERS = re.compile(r"[0-9]+(?:\.[0-9]+){2,}")
_KEYWORDS = frozenset({"True", "False", "None"})


def ini_value(text: str) -> Any:
    if _PLAIN_TEXT.fullmatch(text) and text not in _KEYWORDS:
        return text
    if _PLAIN_INT.fullmatch(text):
        return int(text)
    if _DOTTED_NUMBERS.fullmatch(text):
        return text
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return value
