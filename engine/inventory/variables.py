"""Connection variables: our short names, and the Ansible names that mean the same.

Aliases are folded into the short names level by level (group ``all``, parent groups, child
groups, the host), *before* levels are merged, so a host's ``ansible_user`` overrides a group's
``user`` exactly as a host's ``user`` would. Variables we do not know are kept as they are
(``runbook hosts --vars`` shows them, templates see them as host vars); they cost nothing.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

__all__ = ["CONNECTION_VARS", "SECRET_VARS", "canonical", "redacted"]

#: the connection settings every host has, and the names that set them
CONNECTION_VARS: dict[str, tuple[str, ...]] = {
    "address": ("ansible_host", "ansible_ssh_host"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "user": ("ansible_user", "ansible_ssh_user"),
    "key_file": ("ansible_ssh_private_key_file", "ansible_private_key_file"),
    "jump": (),
    "known_hosts": (),
    "host_key_checking": ("ansible_host_key_checking", "ansible_ssh_host_key_checking"),
    "become": ("ansible_become",),
    "become_user": ("ansible_become_user",),
    "become_method": ("ansible_become_method",),
    "become_password": ("ansible_become_password", "ansible_become_pass"),
}

#: variables whose values are credentials: kept for the connection code to test for, never
#: shown (``runbook hosts --vars`` prints a placeholder instead)
SECRET_VARS = frozenset(
    {
        "become_password",
        "ansible_become_password",
        "ansible_become_pass",
        "ansible_password",
        "ansible_ssh_pass",
        "ansible_ssh_password",
    }
)
#: what a secret's value is shown as
_HIDDEN = "<hidden>"

_ALIASES = {alias: name for name, aliases in CONNECTION_VARS.items() for alias in aliases}
#: Ansible passes extra ``ssh`` options through these; we read the ones we can honour
_SSH_ARGS = ("ansible_ssh_common_args", "ansible_ssh_extra_args")


def canonical(level: Mapping[str, Any]) -> dict[str, Any]:
    """One level's variables with Ansible aliases renamed to our names.

    A short name given at the same level as its alias wins: it is the more deliberate spelling.
    """
    out: dict[str, Any] = {}
    for key, value in level.items():
        name = _ALIASES.get(key, key)
        if name != key and name in level:
            continue
        out[name] = value
    for key in _SSH_ARGS:
        text = level.get(key)
        if isinstance(text, str):
            for name, value in _from_ssh_args(text).items():
                out.setdefault(name, value)
    return out


def redacted(variables: Mapping[str, Any]) -> dict[str, Any]:
    """``variables`` with every credential's value replaced, for display."""
    return {k: _HIDDEN if k in SECRET_VARS else v for k, v in variables.items()}


def _from_ssh_args(text: str) -> dict[str, Any]:
    """``-J jump`` / ``-o ProxyJump=...``, ``UserKnownHostsFile`` and ``StrictHostKeyChecking``
    from an ``ssh`` argument string; other options are ignored (they tune OpenSSH's client)."""
    try:
        words = shlex.split(text)
    except ValueError:
        return {}
    options: list[str] = []
    jump: str | None = None
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-o", "-J") and i + 1 < len(words):
            if word == "-J":
                jump = words[i + 1]
            else:
                options.append(words[i + 1])
            i += 2
            continue
        if word.startswith("-o") and len(word) > 2:
            options.append(word[2:])
        elif word.startswith("-J") and len(word) > 2:
            jump = word[2:]
        i += 1
    out: dict[str, Any] = {}
    for option in options:
        key, _, value = option.replace("=", " ", 1).partition(" ")
        key, value = key.strip().lower(), value.strip()
        if key == "proxyjump" and value.lower() != "none":
            jump = value
        elif key == "userknownhostsfile":
            out["known_hosts"] = value.split()[0] if value else value
        elif key == "stricthostkeychecking":
            out["host_key_checking"] = value.lower() not in ("no", "off", "false")
    if jump:
        # ssh -J takes a comma-separated chain; the hop nearest to the target comes last.
        out["jump"] = jump
    return out
