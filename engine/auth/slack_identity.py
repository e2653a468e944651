"""Slack users as the same principals as everywhere else: one person is one approver whether
they click in Slack, the web or the CLI.

A Slack user id becomes a name by the explicit mapping file ``RUNBOOK_SLACK_USERS`` (YAML,
``U012AB3CD: alice@example.com``) first, else the email of their Slack profile
(``users.info``; the app needs the ``users:read.email`` scope), remembered for ``ttl``
seconds. A user with neither keeps their Slack user id as their name, which is how runbooks
have named Slack users so far (``permissions.approve: [U012AB3CD]``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from runbook_engine.auth.principal import Principal
from runbook_engine.errors import RunbookError

log = logging.getLogger("runbook.auth")

ENV_VAR = "RUNBOOK_SLACK_USERS"

#: asks Slack for a user's profile: ``WebClient.users_info`` (keyword ``user``)
UsersInfo = Callable[..., Any]


def read_mapping(path: str | Path) -> dict[str, str]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RunbookError(f"cannot read Slack user mapping {path}: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in data.items()
    ):
        raise RunbookError(f"Slack user mapping {path}: expected `SLACK_USER_ID: name` lines")
    return {k.strip().upper(): v.strip() for k, v in data.items()}


class SlackIdentities:
    def __init__(
        self,
        mapping: Mapping[str, str] | None = None,
        users_info: UsersInfo | None = None,
        *,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mapping = {k.upper(): v for k, v in (mapping or {}).items()}
        self.users_info = users_info
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, users_info: UsersInfo | None = None) -> SlackIdentities:
        path = os.environ.get(ENV_VAR)
        return cls(read_mapping(path) if path else None, users_info)

    def name_of(self, user_id: str) -> str:
        mapped = self.mapping.get(user_id.upper())
        if mapped is not None:
            return mapped
        if self.users_info is None:
            return user_id
        with self._lock:
            cached = self._cache.get(user_id)
            if cached is not None and self.clock() - cached[0] < self.ttl:
                return cached[1]
        name = self._email(user_id) or user_id
        with self._lock:
            self._cache[user_id] = (self.clock(), name)
        return name

    def _email(self, user_id: str) -> str | None:
        try:
            answer = self.users_info(user=user_id)  # type: ignore[misc]  # checked in name_of
        except Exception as exc:  # any failure of Slack (API, network): fall back to the id
            log.warning("cannot look up Slack user %s: %s", user_id, exc)
            return None
        profile = (answer.get("user") or {}).get("profile") or {}
        email = profile.get("email")
        return email.strip() if isinstance(email, str) and email.strip() else None

    def principal(
        self, user_id: str, groups: Iterable[str] = (), source: str = "slack"
    ) -> Principal:
        """The principal of a Slack user whose request Slack signed; ``groups`` are their
        Slack user groups."""
        return Principal(self.name_of(user_id), frozenset(groups), None, f"slack:{user_id}", source)
