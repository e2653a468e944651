"""Who is acting, and which groups they belong to.

On the CLI the acting user is ``RUNBOOK_USER`` or the login name; Slack supplies verified user
ids.
Groups (``@sre-leads`` in ``permissions`` and ``approvers``) come from a YAML file mapping each
group to its members: ``RUNBOOK_GROUPS``, else ``./groups.yaml`` when present. Slack user groups are
resolved by the Slack app and passed in as extra groups.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from runbook_engine.errors import RunbookError


def current_user() -> str:
    return os.environ.get("RUNBOOK_USER") or getpass.getuser()


@dataclass(frozen=True)
class Directory:
    groups: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Directory:
        chosen = (
            path
            or os.environ.get("RUNBOOK_GROUPS")
            or ("groups.yaml" if Path("groups.yaml").is_file() else None)
        )
        if not chosen:
            return cls()
        try:
            data = yaml.safe_load(Path(chosen).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RunbookError(f"cannot read groups file {chosen}: {exc}") from None
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise RunbookError(
                f"groups file {chosen}: expected a mapping of group name to a list of users"
            )
        return cls({str(k).lstrip("@"): frozenset(str(u) for u in v) for k, v in data.items()})

    def groups_of(self, user: str) -> set[str]:
        """The groups file's groups ``user`` is in (names compared case-insensitively)."""
        key = user.casefold()
        return {g for g, members in self.groups.items() if key in {m.casefold() for m in members}}

    def allowed(self, user: str, entries: Iterable[str], extra_groups: Iterable[str] = ()) -> bool:
        """True when ``user`` is named in ``entries`` directly or through an ``@group``.
        An empty list allows everyone. User and group names are compared case-insensitively:
        an IdP, Slack and a groups file may spell one person differently."""
        entries = list(entries)
        if not entries:
            return True
        groups = {g.casefold() for g in self.groups_of(user)}
        groups |= {g.lstrip("@").casefold() for g in extra_groups}
        key = user.casefold()
        for entry in entries:
            if entry.startswith("@"):
                if entry[1:].casefold() in groups:
                    return True
            elif entry.casefold() == key:
                return True
        return False
