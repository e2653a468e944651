"""Text from users and programs, made inert in Slack's mrkdwn.

Slack reads ``&``, ``<`` and ``>`` as control characters: ``<!here>``, ``<!channel>``,
``<@U123>`` and ``<!subteam^S123>`` notify people, ``<https://x|label>`` disguises a link.
Its formatting guide says to write them as ``&amp;``, ``&lt;`` and ``&gt;`` where they are
not meant for that, and to encode nothing else. So every parameter value, output line, error
message and reason goes through ``escape``; the only markup left is the engine's own and the
runbook author's (``author_text``).
"""

from __future__ import annotations

import re

_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
#: the parts of a Jinja template that are not literal text
_TEMPLATE_PARTS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_CONTROL_SEQUENCE = re.compile(r"<[^<>\n\x00]+>")


def escape(text: object) -> str:
    """``str(text)`` with Slack's three control characters written as entities."""
    return str(text).translate(_ENTITIES)


def author_markup(template: str) -> frozenset[str]:
    """The control sequences (``<!here>``, ``<@U123>``, links) written in a runbook template's
    literal text; none built from a value (``<@{{ params.user }}>`` is not one)."""
    literal = _TEMPLATE_PARTS.sub("\0", template)
    return frozenset(_CONTROL_SEQUENCE.findall(literal))


def author_text(rendered: str, template: str) -> str:
    """A rendered runbook template for mrkdwn: escaped, except for the control sequences the
    template itself writes, which stay live. A value that repeats one of those sequences
    makes it live too, but it can only ever notify whom the author notifies anyway."""
    text = escape(rendered)
    for sequence in sorted(author_markup(template), key=len, reverse=True):
        text = text.replace(escape(sequence), sequence)
    return text
