"""Parameters shared by the SSH actions: which hosts, how to reach them, how to roll out."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from runbook_engine.actions._common import PositiveSeconds
from runbook_engine.plugin.contract import ActionParams

__all__ = ["MAX_FORKS", "CommandOptions", "FanoutParams", "parse_amount"]

#: the most hosts worked on at once; more would only queue on the GIL and the sshd side
MAX_FORKS = 256
DEFAULT_FORKS = 16

_AMOUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_amount(value: int | str, total: int, *, round_up: bool) -> int:
    """A count, or a percentage of ``total`` (``"25%"``), as a number of hosts."""
    if isinstance(value, int):
        return value
    match = _AMOUNT.match(value)
    assert match is not None  # the validators only let counts and percentages through
    exact = total * float(match.group(1)) / 100
    count = int(exact)
    if round_up and count < exact:
        count += 1
    return count


def _amount(value: int | str, *, name: str, minimum: int) -> int | str:
    if isinstance(value, bool):
        raise ValueError(f"{name} is a count or a percentage such as '25%'")
    if isinstance(value, int):
        if value < minimum:
            raise ValueError(f"{name} must be at least {minimum}")
        return value
    text = value.strip()
    if text.isdigit():
        return _amount(int(text), name=name, minimum=minimum)
    match = _AMOUNT.match(text)
    if match is None or not (minimum <= float(match.group(1)) <= 100):
        raise ValueError(f"{name} is a count or a percentage between {minimum}% and 100%")
    if float(match.group(1)) == 0 and minimum > 0:
        raise ValueError(f"{name} must be more than 0%")
    return text


class FanoutParams(ActionParams):
    """Which hosts, how to connect to them, and how to roll out over them."""

    #: a host pattern (``web``, ``web[01:20],!web07``, ``10.0.0.5``) or a list of them
    hosts: str | list[str] = Field(min_length=1)
    #: only these of the hosts ``hosts`` selects, by name (``runbook rerun --failed-hosts``
    #: sets it to the hosts that failed or never ran); a name it does not select is an error
    limit: list[str] | None = Field(default=None, min_length=1)
    #: hosts worked on at once
    forks: int = Field(default=DEFAULT_FORKS, ge=1, le=MAX_FORKS)
    #: rolling rollout: hosts per batch (count or ``"25%"``); a batch starts when the previous
    #: one has finished. Default: all hosts in one batch
    batch: int | str | None = None
    #: host failures tolerated (count or ``"10%"``); one more stops the rollout (no host is
    #: started after that) and fails the step. Default 0: any failure
    max_failures: int | str = 0
    #: per host: the remote command (or transfer) is killed after this long
    timeout: PositiveSeconds | None = None
    #: per host: TCP connect, SSH negotiation and authentication
    connect_timeout: PositiveSeconds = 10.0
    #: login user (default: the inventory's, else your local user name)
    user: str | None = None
    #: a private key's text (OpenSSH or PEM); pass it from a ``secret: true`` parameter
    key: str | None = None
    key_passphrase: str | None = None
    key_file: str | None = None
    #: a known_hosts file checked in addition to ~/.ssh/known_hosts and the inventory's
    known_hosts: str | None = None
    #: false turns host key checking off (logged as a warning); default: the inventory's, on
    host_key_checking: bool | None = None
    #: a jump host (``[user@]host[:port]``, an inventory host, or a chain ``a,b``)
    jump: str | None = None
    #: with ``hosts: "ec2:tag:Role=web"``: the region to look in (default: AWS's own setting)
    ec2_region: str | None = None
    #: with ``hosts: "ec2:..."``: reach instances by their private or public address
    ec2_address: Literal["private", "public"] = "private"

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, value: str | list[str]) -> str | list[str]:
        items = [value] if isinstance(value, str) else value
        if not any(item.strip() for item in items):
            raise ValueError("hosts must name at least one host or group")
        return value

    @field_validator("batch")
    @classmethod
    def _batch(cls, value: int | str | None) -> int | str | None:
        return None if value is None else _amount(value, name="batch", minimum=1)

    @field_validator("max_failures")
    @classmethod
    def _max_failures(cls, value: int | str) -> int | str:
        return _amount(value, name="max_failures", minimum=0)


class CommandOptions(ActionParams):
    """How a remote command runs: its environment, directory, privileges, input, exit codes."""

    #: set for the command; the values go over stdin, never on the remote command line (no
    #: AcceptEnv needed on the server)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    #: run through ``sudo -n`` (never prompts: a password requirement is an error). Default:
    #: as the inventory's ``ansible_become`` says; true or false here overrides it
    sudo: bool | None = None
    #: who sudo runs the command as (default: the inventory's ``ansible_become_user``, root)
    sudo_user: str | None = None
    #: written to the command's stdin; without it stdin is empty
    stdin: str | None = None
    accept_exit_codes: list[int] = Field(default_factory=lambda: [0], min_length=1)

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _ENV_NAME.match(name):
                raise ValueError(f"environment variable name {name!r} is not valid")
            if name.startswith("__runbook_"):  # the remote preamble's own variables
                raise ValueError(f"environment variable name {name!r} is reserved")
        return value
