"""Which ``@group`` entries of a permission list a Slack user belongs to, via Slack user groups.

``@sre-leads`` in ``permissions`` or ``approvers`` may name a Slack user group by handle
(``sre-leads``) or by id (``@S0123ABCD``). Memberships come from ``usergroups.users.list``
(handles are mapped to ids once through ``usergroups.list``) and are cached briefly, so a burst
of button clicks costs one lookup. The groups found are handed to the engine as
``extra_groups``; the groups file (``RUNBOOK_GROUPS``) still applies as well. When Slack cannot
answer, the user is in no group: refusing is the safe mistake.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger("runbook.slack.groups")

GROUP_ID = re.compile(r"^S[A-Z0-9]{6,}$")
TTL = 60.0


class UserGroups:
    def __init__(self, client: WebClient, *, ttl: float = TTL) -> None:
        self.client = client
        self.ttl = ttl
        self._lock = threading.Lock()
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._handles: tuple[float, dict[str, str]] | None = None

    def groups_of(self, user: str, entries: Iterable[str]) -> set[str]:
        """The ``@`` entries (without ``@``) whose Slack user group has ``user`` in it."""
        out: set[str] = set()
        for entry in entries:
            if not entry.startswith("@"):
                continue
            name = entry[1:]
            group_id = name if GROUP_ID.match(name) else self._id_of(name)
            if group_id is not None and user in self._members_of(group_id):
                out.add(name)
        return out

    def _id_of(self, handle: str) -> str | None:
        now = time.monotonic()
        with self._lock:
            cached = self._handles
        if cached is None or now - cached[0] > self.ttl:
            try:
                answer = self.client.usergroups_list()
            except SlackApiError as exc:
                log.warning("usergroups.list failed: %s", exc.response.get("error"))
                return None
            groups = answer.get("usergroups") or []
            cached = (now, {str(g["handle"]): str(g["id"]) for g in groups})
            with self._lock:
                self._handles = cached
        return cached[1].get(handle)

    def _members_of(self, group_id: str) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            cached = self._members.get(group_id)
        if cached is not None and now - cached[0] <= self.ttl:
            return cached[1]
        try:
            answer = self.client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            log.warning("usergroups.users.list %s failed: %s", group_id, exc.response.get("error"))
            return frozenset()
        members = frozenset(str(u) for u in answer.get("users") or [])
        with self._lock:
            self._members[group_id] = (now, members)
        return members
