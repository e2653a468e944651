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
        return {g for g, members in self.groups.items() if user in members}

    def allowed(self, user: str, entries: Iterable[str], extra_groups: Iterable[str] = ()) -> bool:
        """True when ``user`` is named in ``entries`` directly or through an ``@group``.
        An empty list allows everyone."""
        entries = list(entries)
        if not entries:
            return True
        groups = self.groups_of(user) | {g.lstrip("@") for g in extra_groups}
        for entry in entries:
            if entry.startswith("@"):
                if entry[1:] in groups:
                    return True
            elif entry == user:
                return True
        return False
