"""What an action plugin is: a parameter model, a ``run`` method, and optionally an undo; and
what an inventory source is (a callable that turns ``PREFIX:...`` patterns into hosts).

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


class Action(ABC):
    """Subclass, set ``name`` and ``Params``, implement ``run``.

    ``idempotent`` tells resume whether a step found in flight after a crash may simply be run
    again. ``undo`` (when overridden) is the automatic rollback used when a runbook step has no
    ``rollback`` block of its own; it receives the parameters and the result of the run it undoes.
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type[ActionParams]] = ActionParams
    idempotent: ClassVar[bool] = False
    description: ClassVar[str] = ""

    @abstractmethod
    def run(self, params: Any, ctx: ActionContext) -> Result:
        """Do the work; return a JSON-serialisable result (the step's ``result``)."""

    def undo(self, params: Any, result: Mapping[str, Any], ctx: ActionContext) -> Result | None:
        """Automatic rollback. Return None when there is nothing to undo."""
        return None

    @classmethod
    def has_undo(cls) -> bool:
        return cls.undo is not Action.undo

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
