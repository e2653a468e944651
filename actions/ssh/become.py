"""Whether a host's commands run through sudo, and as whom: the step's ``sudo``/``sudo_user``
and the inventory's ``ansible_become*`` variables together.

The rule, most specific first:

- ``sudo: false`` or ``sudo: true`` on the step decides for every host of the step. (Ansible
  lets an inventory's ``ansible_become`` override a task's ``become`` keyword; a step here
  overrides the inventory, as its ``user`` and ``jump`` do.)
- Otherwise a host's ``ansible_become`` decides. As in Ansible (``become_allow_same_user``
  off), sudo is skipped when the login user already is the user to become.
- The user is the step's ``sudo_user``, else the host's ``ansible_become_user``, else root.

Only sudo is supported: a host whose ``ansible_become_method`` is anything else, used with
become from the inventory, is refused. So is a host with ``ansible_become_password`` whenever
sudo would run: sudo runs with ``-n`` and the engine never types a password (a NOPASSWD rule
for the login user is what works).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runbook_engine.errors import ActionInputError

if TYPE_CHECKING:
    from runbook_engine.actions.ssh.targets import Target

__all__ = ["NO_BECOME", "HostBecome", "Sudo", "sudo_for", "sudo_plan"]

_ROOT = "root"
#: hosts named one by one when several are refused
_NAMED = 5


@dataclass(frozen=True)
class HostBecome:
    """What a host's inventory says about privilege escalation (never the password itself)."""

    enabled: bool = False
    user: str | None = None
    method: str | None = None
    has_password: bool = False


#: a host the inventory says nothing about (jump hops, EC2 instances without variables)
NO_BECOME = HostBecome()


@dataclass(frozen=True)
class Sudo:
    """Run through ``sudo -n -u user`` (``user`` None: root)."""

    user: str | None = None


def sudo_for(target: Target, *, sudo: bool | None, sudo_user: str | None) -> Sudo | None:
    """How ``target`` runs the step's commands; None: as the login user. Raises
    ``ActionInputError`` naming the host and the variable when it cannot be done."""
    become = target.become
    if sudo is False:
        return None
    user = sudo_user or become.user
    if sudo is None:
        if not become.enabled:
            return None
        if become.method not in (None, "sudo"):
            raise ActionInputError(
                f"host {target.name}: ansible_become_method is {become.method!r}; only sudo "
                f"is supported (set sudo: false on the step to run as {target.user})"
            )
        if (user or _ROOT) == target.user:
            return None
    if become.has_password:
        raise ActionInputError(
            f"host {target.name}: ansible_become_password is set, but sudo runs "
            f"non-interactively (sudo -n) and is never given a password; let {target.user} "
            f"run sudo without one (NOPASSWD), or set sudo: false on the step"
        )
    return Sudo(user)


def sudo_plan(
    targets: Sequence[Target], *, sudo: bool | None, sudo_user: str | None
) -> dict[Target, Sudo | None]:
    """``sudo_for`` of every target, decided before any host is contacted: a host that cannot
    be run as asked fails the step up front, all such hosts named in one message."""
    plan: dict[Target, Sudo | None] = {}
    refused: list[str] = []
    for target in targets:
        try:
            plan[target] = sudo_for(target, sudo=sudo, sudo_user=sudo_user)
        except ActionInputError as exc:
            refused.append(str(exc))
    if refused:
        shown = "; ".join(refused[:_NAMED])
        more = f"; and {len(refused) - _NAMED} more" if len(refused) > _NAMED else ""
        raise ActionInputError(shown + more)
    return plan
