"""The acting identity every door hands to the policy: who, in which groups, allowed which
roles at most, and how they proved it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

#: how a principal authenticated, the prefix of ``Principal.via``
LOCAL = "local"


def name_key(name: str) -> str:
    """The form names are compared in: ``Alice@Example.com`` and ``alice@example.com`` are one
    person, whichever door they came through."""
    return name.strip().casefold()


def group_keys(groups: Iterable[str]) -> frozenset[str]:
    """Group names as compared: without the ``@`` of ``permissions`` entries, case-folded."""
    return frozenset(name_key(g.lstrip("@")) for g in groups if g.strip("@ "))


@dataclass(frozen=True, eq=False)
class Principal:
    """One person (or service) acting.

    ``name`` is kept as given, for messages and the run log; two principals are the same when
    their names are, case-insensitively (``key``). ``roles`` is a ceiling, not a grant: ``None``
    means whatever the runbooks and the policy let the user do; a set (a token's ``--role``)
    allows at most those roles. ``via`` says how the identity was proved: ``token:<id>``,
    ``oidc:<sub>``, ``slack:<user id>`` or ``local``; ``source`` is the address asked from.
    """

    name: str
    groups: frozenset[str] = field(default_factory=frozenset)
    roles: frozenset[str] | None = None
    via: str = LOCAL
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", group_keys(self.groups))
        if self.roles is not None:
            object.__setattr__(self, "roles", frozenset(r.casefold() for r in self.roles))

    @property
    def key(self) -> str:
        return name_key(self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Principal) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    @classmethod
    def local(cls, name: str, groups: Iterable[str] = (), source: str = "") -> Principal:
        """Someone acting through the CLI on a store they can open: the login name or
        ``RUNBOOK_USER`` (only without ``RUNBOOK_SERVER``, see ``auth.local``)."""
        return cls(name, frozenset(groups), None, LOCAL, source)
