"""What an action plugin is: a parameter model, a ``run`` method, and optionally an undo; and
what an inventory source is (a callable that turns ``PREFIX:...`` patterns into hosts).

Static checks: before a run starts (and in ``runbook validate``) the engine checks every call's
``with:`` block against the action's ``Params`` model: unknown and missing keys, literal values,
the type of templated values where it is known. An action may add checks of its own by
overriding the classmethod ``check_static(given, ctx)``, which sees the block as written
(template strings unrendered) and returns ``StaticIssue`` values located inside it; the default
has none, so plugins written before the hook keep working unchanged. ``shell_fields`` names the
parameters whose text a shell runs (for the quoting warnings), ``argv_fields`` those that become
a process's arguments (for the secret-on-a-command-line warning), and ``mutates(given)`` says
whether a call changes something (for the missing-rollback warning).

Actions are blocking code (paramiko, boto3, subprocess); the runtime calls them in a bounded
thread pool. An action must watch ``ctx.cancelled`` in any wait longer than a moment: the runtime
sets it when the step times out or the run is cancelled, and an action that stops promptly is
what makes ``timeout`` real.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from runbook_engine.inventory import Host, Inventory


class ActionParams(BaseModel):
    """Base for every action's parameter model: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def _discard(line: str) -> None:
    del line


@dataclass
class ActionContext:
    """What an action may know about and touch while it runs."""

    run_id: str
    step_id: str
    attempt: int = 1
    dry_run: bool = False
    #: streams one line of output into the run log as it arrives (thread-safe)
    log: Callable[[str], None] = _discard
    #: set when the action must stop: step timeout or run cancel
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: resources shared by the steps of one run (connection pools, clients), closed at run end
    resources: dict[str, Any] = field(default_factory=dict)
    #: values that must never be printed; actions redact them from anything they log
    secrets: tuple[str, ...] = ()
    #: seconds left before the step's timeout, if it has one
    deadline: float | None = None


Result = dict[str, Any]

#: a location inside a ``with:`` block: ``("hosts",)``, ``("params", "DesiredCapacity")``
Where = tuple[str | int, ...]


@dataclass(frozen=True)
class StaticIssue:
    """Something wrong in a ``with:`` block that can be seen before the run: ``where`` is the
    key inside the block (``()``: the block as a whole); a warning does not stop a run."""

    where: Where
    message: str
    warning: bool = False


def _no_inventory() -> Inventory | None:
    return None


class StaticContext:
    """What a static check may consult besides the block itself.

    ``inventory`` loads the hosts inventory on first use (None: none was given, so host
    patterns cannot be checked); it raises ``InventoryError`` when the file is broken."""

    def __init__(self, inventory: Callable[[], Inventory | None] = _no_inventory) -> None:
        self._load = inventory
        self._loaded = False
        self._inventory: Inventory | None = None

    def inventory(self) -> Inventory | None:
        if not self._loaded:
            self._inventory = self._load()
            self._loaded = True
        return self._inventory


class Action(ABC):
    """Subclass, set ``name`` and ``Params``, implement ``run``.

    ``idempotent`` tells resume whether a step found in flight after a crash may simply be run
    again. ``effects = False`` says an action changes nothing outside the run (it computes, waits
    or writes into the run's own log: ``log``, ``sleep``, ``assert``); the engine then need not
    make its start durable before calling it, and commits such steps in groups. Such an action
    must be idempotent: after a crash it may run again.

    ``undo`` (when overridden) is the automatic rollback used when a runbook step has no
    ``rollback`` block of its own; it receives the parameters and the result of the run it undoes.
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type[ActionParams]] = ActionParams
    idempotent: ClassVar[bool] = False
    effects: ClassVar[bool] = True
    description: ClassVar[str] = ""
    #: parameters whose string value is a shell command line (``/bin/sh -c``); interpolating
    #: a parameter into one without ``| quote`` is warned about
    shell_fields: ClassVar[tuple[str, ...]] = ()
    #: parameters that end up in a process's arguments (here or on a remote host), where any
    #: user of that host can read them: a secret parameter put into one is warned about
    argv_fields: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def run(self, params: Any, ctx: ActionContext) -> Result:
        """Do the work; return a JSON-serialisable result (the step's ``result``)."""

    def undo(self, params: Any, result: Mapping[str, Any], ctx: ActionContext) -> Result | None:
        """Automatic rollback. Return None when there is nothing to undo."""
        return None

    @classmethod
    def has_undo(cls) -> bool:
        return cls.undo is not Action.undo

    @classmethod
    def check_static(cls, given: Mapping[str, Any], ctx: StaticContext) -> Sequence[StaticIssue]:
        """Checks of this action's own on a ``with:`` block as written, before anything runs.

        ``given`` holds literal values and unrendered template strings (``is_template`` tells
        them apart); check only what a template cannot change. Never raise for odd input:
        return issues. Default: none."""
        del given, ctx
        return ()

    @classmethod
    def mutates(cls, given: Mapping[str, Any]) -> bool:
        """Whether this call may change something outside the run (default: unless the action
        is idempotent). An action whose calls only sometimes change things (a read-only API
        operation) answers from ``given``."""
        del given
        return not cls.idempotent

    def describe(self, params: Any) -> str:
        """One line for plans and dry runs: what this call would do."""
        shown = (
            params.model_dump(exclude_defaults=True) if isinstance(params, BaseModel) else params
        )
        return f"{self.name} {shown}"


class InventorySource(Protocol):
    """Selects hosts for a ``PREFIX:...`` pattern from somewhere other than the inventory file
    (``ec2:tag:Role=web``). Registered in the ``runbook_engine.inventory_sources`` entry-point
    group under its prefix. ``options`` are source-specific (``region``, ``address`` for EC2);
    the inventory is given so fleet-wide variables of group ``all`` can apply."""

    def __call__(
        self,
        pattern: str,
        inventory: Inventory,
        *,
        options: Mapping[str, Any],
        run_id: str | None = None,
    ) -> Sequence[Host]: ...
