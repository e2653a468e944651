"""Slack users as the same principals as everywhere else: one person is one approver whether
they click in Slack, the web or the CLI.

A Slack user id becomes a name by the explicit mapping file ``RUNBOOK_SLACK_USERS`` (YAML,
``U012AB3CD: alice@example.com``) first, else the email of their Slack profile
(``users.info``; the app needs the ``users:read.email`` scope), remembered for ``ttl``
seconds. A user with neither keeps their Slack user id as their name, which is how runbooks
have named Slack users so far (``permissions.approve: [U012AB3CD]``).

When Slack cannot be asked (down, rate limited), a user it named before keeps that name; one
it never named is refused (``IdentityUnavailable``) rather than acting as their bare id: the
same person would otherwise be two approvers, their email and their id, and could approve a run
they started under the other name.
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
from slack_sdk.errors import SlackApiError

from runbook_engine.auth.principal import Principal
from runbook_engine.errors import RunbookError

log = logging.getLogger("runbook.auth")

ENV_VAR = "RUNBOOK_SLACK_USERS"

#: seconds a failed lookup (Slack down, rate limited) keeps a user at their id before Slack is
#: asked again: a hiccup must not turn a person into their id for a whole ``ttl``
RETRY_AFTER = 30.0

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


class _LookupFailed(Exception):
    """Slack could not say who a user is (for now)."""


class IdentityUnavailable(RunbookError):
    """Slack cannot say who this user is right now, and nobody said before."""

    def __init__(self, user_id: str) -> None:
        super().__init__(
            f"Slack cannot tell who {user_id} is right now (users.info failed); "
            "try again in a minute"
        )


#: Slack's answers that say for good that there is no profile to read: the id stays the name
_NO_SUCH_USER = frozenset({"user_not_found", "users_not_found", "user_not_visible"})


class SlackIdentities:
    def __init__(
        self,
        mapping: Mapping[str, str] | None = None,
        users_info: UsersInfo | None = None,
        *,
        ttl: float = 3600.0,
        retry_after: float = RETRY_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mapping = {k.upper(): v for k, v in (mapping or {}).items()}
        self.users_info = users_info
        self.ttl = ttl
        self.retry_after = retry_after
        self.clock = clock
        # user id -> (until when the answer holds, the name)
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
            if cached is not None and self.clock() < cached[0]:
                return cached[1]
        try:
            name = self._email(user_id) or user_id
        except _LookupFailed:
            if cached is None:
                raise IdentityUnavailable(user_id) from None
            # the name Slack gave before is still this person: keep it, ask again soon
            name, keep = cached[1], self.retry_after
        else:
            keep = self.ttl
        with self._lock:
            self._cache[user_id] = (self.clock() + keep, name)
        return name

    def _email(self, user_id: str) -> str | None:
        """The profile's email; None when Slack answered without one."""
        try:
            answer = self.users_info(user=user_id)  # type: ignore[misc]  # checked in name_of
        except SlackApiError as exc:
            if exc.response.get("error") in _NO_SUCH_USER:
                return None
            log.warning("cannot look up Slack user %s: %s", user_id, exc)
            raise _LookupFailed from exc
        except Exception as exc:  # the network, a timeout: Slack could not be asked
            log.warning("cannot look up Slack user %s: %s", user_id, exc)
            raise _LookupFailed from exc
        profile = (answer.get("user") or {}).get("profile") or {}
        email = profile.get("email")
        return email.strip() if isinstance(email, str) and email.strip() else None

    def principal(
        self, user_id: str, groups: Iterable[str] = (), source: str = "slack"
    ) -> Principal:
        """The principal of a Slack user whose request Slack signed; ``groups`` are their
        Slack user groups."""
        return Principal(self.name_of(user_id), frozenset(groups), None, f"slack:{user_id}", source)
