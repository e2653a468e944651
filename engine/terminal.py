"""Text that is safe to print on a terminal.

Parameter values, command output and error messages come from people and programs the
operator does not control. Printed raw, an escape sequence in them can set the window title,
clear the screen, move the cursor to overwrite earlier lines, or (on some terminals) answer
back into the input; a carriage return or bidirectional override makes a line read as
something else. ``printable`` shows every such character as a visible escape instead.
"""

from __future__ import annotations

import re

#: C0 controls but tab, DEL, C1 controls, and the Unicode bidirectional overrides/isolates
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_BUT_NEWLINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: object, *, newlines: bool = False) -> str:
    """``text`` (``str()`` of anything) with every control character shown as ``\\xNN``
    (``\\n`` and ``\\r`` by name); tabs stay, and with ``newlines`` line breaks stay too
    (for text printed as several lines, like a runbook's source)."""
    pattern = _UNSAFE_BUT_NEWLINE if newlines else _UNSAFE
    return pattern.sub(_shown, str(text))
