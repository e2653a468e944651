"""Host addresses as Ansible reads them: ``name``, ``name:port``, ``10.0.0.1:22``, ``[v6]:port``.

Inventory host lines and host patterns both decide with this what is a host (with an optional
port) and what is something else. Ranges (``web[01:20]``, ``db-[a:f]``, ``10.0.[1:9].1``) may
appear inside any part when ``allow_ranges`` is set, as Ansible's own address parser allows.
"""

from __future__ import annotations

import re

__all__ = ["is_ip_address", "parse_address"]

_NUMERIC_RANGE = r"\[[0-9]+:[0-9]+(?::[0-9]+)?\]"
_HEX_RANGE = r"\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\]"
_NAME_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"

_V4_PART = rf"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{_NUMERIC_RANGE})"
_V6_PART = rf"(?:[0-9a-f]{{1,4}}|{_HEX_RANGE})"
# A label starts with a word character and may hold dashes and underscores, not at its end.
_LABEL = rf"(?:\w|{_NAME_RANGE})(?:[\w-]|{_NAME_RANGE})*(?<![_-])"

_BRACKETED_PORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
# Anything but a colon or bracket, or a whole bracketed range, then ":port".
_HOST_PORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_IPV4 = re.compile(rf"^(?:{_V4_PART}\.){{3}}{_V4_PART}$", re.I)
_IPV6 = re.compile(
    "^(?:"
    + "|".join(
        [
            rf"(?:{_V6_PART}:){{7}}{_V6_PART}",
            rf"(?:{_V6_PART}:){{1,6}}:",
            rf"(?:{_V6_PART}:)(?::{_V6_PART}){{1,6}}",
            rf"(?:{_V6_PART}:){{2}}(?::{_V6_PART}){{1,5}}",
            rf"(?:{_V6_PART}:){{3}}(?::{_V6_PART}){{1,4}}",
            rf"(?:{_V6_PART}:){{4}}(?::{_V6_PART}){{1,3}}",
            rf"(?:{_V6_PART}:){{5}}(?::{_V6_PART}){{1,2}}",
            rf"(?:{_V6_PART}:){{6}}(?::{_V6_PART})",
            rf":(?::{_V6_PART}){{1,6}}",
            rf"{_V6_PART}?::",
            rf"(?:0:){{6}}(?:{_V6_PART}\.){{3}}{_V6_PART}",
            rf"::(?:ffff:)?(?:{_V6_PART}\.){{3}}{_V6_PART}",
            rf"(?:0:){{5}}ffff:(?:{_V6_PART}\.){{3}}{_V6_PART}",
        ]
    )
    + ")$",
    re.I,
)
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I)


def parse_address(text: str, *, allow_ranges: bool = False) -> tuple[str, int | None] | None:
    """``(host, port)`` for a host with an optional port, or None when ``text`` is not one.

    The only way to give an IPv6 address a port is brackets: ``[2001:db8::1]:2222``.
    """
    address, port = text, None
    for form in (_BRACKETED_PORT, _HOST_PORT):
        # Both forms are tried in turn, as Ansible does: "[a]:1" leaves "a" for the second.
        match = form.match(address)
        if match:
            address, port = match.group(1), int(match.group(2))
    if not any(form.match(address) for form in (_IPV4, _IPV6, _HOSTNAME)):
        return None
    if not allow_ranges and "[" in address:
        return None
    return address, port


def is_ip_address(text: str) -> bool:
    """An IPv4 or IPv6 address (without ranges)."""
    return "[" not in text and bool(_IPV4.match(text) or _IPV6.match(text))
