"""Hosts written directly instead of named in the inventory: ``127.0.1.5``, ``db.example.com``,
``deploy@db1:2222``, ``[2001:db8::1]:2222``."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

__all__ = ["literal_host", "parse_literal"]

# A DNS name: labels of letters, digits and dashes. A single label ("web01") is accepted only
# with a user or port: alone it is far more likely a misspelt inventory name than a real host.
_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"
    r"(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$"
)


def parse_literal(text: str) -> dict[str, Any] | None:
    """The variables (address, and user/port when given) a literal host stands for, or None
    when ``text`` does not look like a host."""
    user: str | None = None
    rest = text
    if "@" in rest:
        user, _, rest = rest.rpartition("@")
        if not user:
            return None
    port: int | None = None
    if rest.startswith("["):  # [v6]:port or [v4]:port, as known_hosts writes them
        address, sep, tail = rest[1:].partition("]")
        if not sep:
            return None
        if tail:
            if not (tail.startswith(":") and tail[1:].isdigit()):
                return None
            port = int(tail[1:])
    elif rest.count(":") == 1:
        address, _, port_text = rest.partition(":")
        if not port_text.isdigit():
            return None
        port = int(port_text)
    else:
        address = rest
    if not _is_address(address):
        return None
    single_label = "." not in address and ":" not in address and address != "localhost"
    if single_label and user is None and port is None:
        return None
    if port is not None and not 0 < port < 65536:
        return None
    variables: dict[str, Any] = {"address": address}
    if user is not None:
        variables["user"] = user
    if port is not None:
        variables["port"] = port
    return variables


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return bool(_NAME.match(text))
    return True


def literal_host(text: str) -> dict[str, Any] | None:
    """The variables of ``text`` as a host outside the inventory, or None when it is not one.

    Stricter than ``parse_literal``: the host part must be an IP address, ``localhost`` or a
    name with a dot (``db.example.com``). A single word, even as ``root@web01``, looks like an
    inventory name: better an error with a suggestion than a connection to a misspelt host.
    """
    variables = parse_literal(text)
    if variables is None:
        return None
    address = str(variables["address"])
    if address == "localhost" or "." in address.strip(".") or ":" in address:
        return variables
    return None
