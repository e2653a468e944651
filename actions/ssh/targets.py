"""From a step's ``hosts`` pattern to the exact connections to make.

Precedence, most specific first: what a literal host says (``deploy@db1:2222``), the step's
parameters (``user``, ``jump``, ``host_key_checking``), the inventory's variables, then
defaults (the local user name, port 22, host key checking on). ``known_hosts`` files add up.
A target carries its host's ``ansible_become*`` settings; ``become.py`` decides with the
step's ``sudo`` what they mean.

A jump host is named as a host in a pattern is: an inventory host (``bastion``, also as
``ops@bastion:2200``), or a host outside the inventory written as an IP address, ``localhost``
or a dotted name (``jump.example.com``). A single word the inventory does not have is an
error: it is far more likely a misspelt inventory name than a machine to connect through.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runbook_engine.actions.ssh.become import NO_BECOME, HostBecome
from runbook_engine.actions.ssh.hostkeys import default_files
from runbook_engine.errors import ActionInputError
from runbook_engine.inventory import (
    Host,
    Inventory,
    InventoryError,
    inventory_path,
    load_file,
    select,
)
from runbook_engine.inventory.literal import literal_host, parse_literal
from runbook_engine.inventory.variables import canonical
from runbook_engine.plugin import ActionContext, default_registry

__all__ = [
    "INVENTORY_RESOURCE",
    "Overrides",
    "Target",
    "inventory_for",
    "resolve_targets",
]

INVENTORY_RESOURCE = "inventory"
#: jump chains longer than this are a loop in the inventory, not a network
_MAX_JUMPS = 8


@dataclass(frozen=True)
class Target:
    """One host to connect to, fully resolved. Hashable: the pool keys connections by it."""

    name: str
    address: str
    port: int
    user: str
    key_file: str | None = None
    known_hosts: tuple[Path, ...] = ()
    host_key_checking: bool = True
    jump: Target | None = None
    #: the inventory's privilege escalation settings for the host
    become: HostBecome = NO_BECOME

    @property
    def endpoint(self) -> str:
        return f"{self.user}@{self.address}:{self.port}"

    @property
    def connection_key(self) -> tuple[object, ...]:
        """Connections are shared by user, address, port and route: an authenticated
        session is as good for one step as for the next, whichever key opened it."""
        jump = self.jump.connection_key if self.jump is not None else None
        return (self.user, self.address, self.port, jump)


@dataclass(frozen=True)
class Overrides:
    """The step's connection parameters (None: not given, the inventory decides)."""

    user: str | None = None
    key_file: str | None = None
    known_hosts: str | None = None
    host_key_checking: bool | None = None
    jump: str | None = None
    #: where ``jump`` was written, for error messages (None: the step's ``jump``)
    jump_var: str | None = None


def inventory_for(ctx: ActionContext) -> Inventory:
    """The run's inventory, loaded once and shared by its steps."""
    found = ctx.resources.get(INVENTORY_RESOURCE)
    if isinstance(found, Inventory):
        return found
    try:
        path = inventory_path()
        inventory = Inventory.empty() if path is None else load_file(path)
    except InventoryError as exc:
        raise ActionInputError(str(exc)) from None
    # setdefault: two parallel steps may load it at once; both then use the same one
    stored = ctx.resources.setdefault(INVENTORY_RESOURCE, inventory)
    assert isinstance(stored, Inventory)
    return stored


def resolve_targets(
    pattern: str | Sequence[str],
    overrides: Overrides,
    inventory: Inventory,
    *,
    ec2_region: str | None = None,
    ec2_address: str = "private",
    run_id: str | None = None,
) -> list[Target]:
    """The targets ``pattern`` selects. Raises ``ActionInputError`` for a bad pattern, a bad
    inventory variable or a missing known_hosts file.

    A pattern with a registered source's prefix (``ec2:tag:Role=web``) stands alone and
    selects its hosts through that source."""
    try:
        source = (
            default_registry().inventory_source_for(pattern) if isinstance(pattern, str) else None
        )
        if source is not None and isinstance(pattern, str):
            options = {"region": ec2_region, "address": ec2_address}
            hosts = list(source(pattern.strip(), inventory, options=options, run_id=run_id))
        else:
            hosts = select(inventory, pattern)
        files = _KnownHostsFiles()
        return [_target(host, overrides, inventory, files, seen=()) for host in hosts]
    except InventoryError as exc:
        raise ActionInputError(str(exc)) from None


def _target(
    host: Host,
    overrides: Overrides,
    inventory: Inventory,
    files: _KnownHostsFiles,
    *,
    seen: tuple[str, ...],
) -> Target:
    explicit = (parse_literal(host.name) if host.literal else None) or {}
    user = explicit.get("user") or overrides.user or host.user or getpass.getuser()
    checking = (
        overrides.host_key_checking
        if overrides.host_key_checking is not None
        else host.host_key_checking
    )
    if overrides.jump is not None:
        jump_spec: str | None = overrides.jump
        var = overrides.jump_var or "the step's jump parameter"
    else:
        jump_spec = host.jump
        var = _jump_var(host, jump_spec)
    jump = None
    if jump_spec and jump_spec.lower() != "none":
        jump = _jump(jump_spec, var, host, overrides, inventory, files, seen=(*seen, host.name))
    return Target(
        name=host.name,
        address=host.address,
        port=host.port,
        user=str(user),
        key_file=overrides.key_file or host.key_file,
        known_hosts=files.of(host, overrides),
        host_key_checking=checking,
        jump=jump,
        become=HostBecome(
            enabled=host.become,
            user=host.become_user,
            method=host.become_method,
            has_password=host.has_become_password,
        ),
    )


def _jump_var(host: Host, spec: str | None) -> str:
    """Which of the host's variables holds its jump host: ``jump``, or the ssh arguments that
    carry a ProxyJump (the inventory folds both into one setting)."""
    if spec is None or str(host.vars.get("jump", "")) == spec:
        return "jump"
    for name in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
        if spec in str(host.vars.get(name, "")):
            return name
    return "jump"


def _jump(
    spec: str,
    var: str,
    of: Host,
    overrides: Overrides,
    inventory: Inventory,
    files: _KnownHostsFiles,
    *,
    seen: tuple[str, ...],
) -> Target | None:
    """The jump host ``spec`` names: an inventory host, or ``[user@]host[:port]``; a chain
    ``a,b`` goes through a, then b, as ``ssh -J a,b`` does."""
    *before, last = [part.strip() for part in spec.split(",")]
    hop = _jump_host(last, var, of.name, inventory)
    if hop.name == of.name or (hop.address == of.address and hop.port == of.port):
        # A fleet-wide "jump: bastion" reaches the bastion itself too: it connects directly.
        return None
    if hop.name in seen or len(seen) > _MAX_JUMPS:
        chain = " -> ".join([*seen, hop.name])
        raise InventoryError(f"host {of.name}: jump hosts loop or chain too deep: {chain}")
    # The step's user and jump are for the target; a hop has its own, or the chain's rest.
    hop_overrides = Overrides(
        key_file=overrides.key_file,
        known_hosts=overrides.known_hosts,
        host_key_checking=overrides.host_key_checking,
        jump=",".join(before) if before else None,
        jump_var=var,
    )
    return _target(hop, hop_overrides, inventory, files, seen=seen)


def _jump_host(text: str, var: str, of: str, inventory: Inventory) -> Host:
    """The host ``text`` names, by the rules patterns follow for literal hosts."""
    if inventory.has_host(text):
        return inventory.host(text)
    variables = parse_literal(text)
    if variables is not None and inventory.has_host(str(variables["address"])):
        # ops@bastion:2200 with bastion in the inventory: its settings, then what is written.
        # Its settings as resolved level by level, not refolded from the flat vars.
        base = inventory.host(str(variables["address"]))
        written = {k: v for k, v in variables.items() if k != "address"}
        settings = base.settings if base.settings is not None else canonical(base.vars)
        return Host(
            base.name,
            {**base.vars, **written},
            base.groups,
            settings={**settings, **written},
        )
    outside = literal_host(text)
    if outside is None:
        raise InventoryError(
            f"host {of}: jump host {text!r} (from {var}) is not in the inventory, and not "
            f"an IP address, localhost or a dotted name ([user@]jump.example.com[:port])"
        )
    return inventory.literal(text, outside)


class _KnownHostsFiles:
    """The known_hosts files of each host; a fleet shares a few files, each checked once."""

    def __init__(self) -> None:
        self._defaults = default_files()
        self._checked: dict[str, Path] = {}

    def of(self, host: Host, overrides: Overrides) -> tuple[Path, ...]:
        files = list(self._defaults)
        for extra in (host.known_hosts, overrides.known_hosts):
            if extra:
                path = self._check(host, extra)
                if path not in files:
                    files.append(path)
        return tuple(files)

    def _check(self, host: Host, name: str) -> Path:
        found = self._checked.get(name)
        if found is None:
            found = Path(name).expanduser()
            if not found.is_file():
                raise InventoryError(f"host {host.name}: known_hosts file {found} does not exist")
            self._checked[name] = found
        return found
