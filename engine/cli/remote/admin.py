"""The remote halves of ``token``, ``audit`` and ``whoami``: the server's tokens, its audit
trail and whom it takes the caller for, through its API (which decides who may: creating a
token and reading the trail need ``admin``), printed by the views the local commands use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import click

from runbook_engine.cli.audit_views import show_audit
from runbook_engine.cli.token_views import show_created, show_revoked, show_tokens
from runbook_engine.cli.whoami_cmd import identity, show_identity
from runbook_engine.client.transport import ApiClient, RemoteInputError, RemoteNotFound
from runbook_engine.errors import RunbookError

#: the largest page the audit trail is read in
PAGE = 500

_TOKEN_FIELDS = (
    "id",
    "user",
    "roles",
    "state",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
)
_TIMES = ("created_at", "expires_at", "revoked_at", "last_used_at", "at")


def _iso(value: Any) -> Any:
    """A time as the local commands write it (``+00:00``, not the API's ``Z``)."""
    return datetime.fromisoformat(value).isoformat() if isinstance(value, str) else value


def _local_form(item: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """``fields`` of an API item, in the order the local command gives them."""
    return {k: _iso(item.get(k)) if k in _TIMES else item.get(k) for k in fields}


def _refuse_claimed_identity() -> None:
    """A change is made as the token's user: a ``RUNBOOK_USER`` here is refused, as the
    commands about runs refuse it, rather than left to look as if it counted."""
    from runbook_engine.auth.local import acting_user

    acting_user()


def create_token(user: str, roles: tuple[str, ...], expires: str, output: str) -> None:
    _refuse_claimed_identity()
    body = {"user": user, "roles": list(roles) or None, "expires": expires}
    with ApiClient.from_env() as api:
        made = api.post("/tokens", body)
    show_created(_local_form(made, _TOKEN_FIELDS), made["token"], output)


def list_tokens(user: str | None, output: str) -> None:
    with ApiClient.from_env() as api:
        tokens = api.get("/tokens", user=user)
    show_tokens([_local_form(t, _TOKEN_FIELDS) for t in tokens], output)


def revoke_token(token_id: str, output: str) -> None:
    _refuse_claimed_identity()
    with ApiClient.from_env() as api:
        try:
            api.delete(f"/tokens/{quote(token_id, safe='')}")
        except (RemoteNotFound, RemoteInputError) as exc:
            # an unknown or already revoked token exits 1 on a local store: so here
            raise RunbookError(str(exc)) from None
    show_revoked(token_id, output)


def audit(start: datetime, output: str) -> None:
    fields = ("at", "principal", "via", "source", "action", "target", "outcome", "detail")
    with ApiClient.from_env() as api:
        entries = [
            _local_form(e, fields) for e in api.pages("/audit", since=start.isoformat(), limit=PAGE)
        ]
    show_audit(entries, start, output)


def whoami(output: str) -> None:
    if os.environ.get("RUNBOOK_USER"):
        # the commands that act refuse it; this one only looks, and says what counts instead
        click.echo(
            "warning: RUNBOOK_USER is ignored with RUNBOOK_SERVER set: the server acts as the "
            "user of your token",
            err=True,
        )
    with ApiClient.from_env() as api:
        me = api.get("/me")
        server = api.server
    show_identity(identity(me["name"], me["via"], me["groups"], me["roles"], server=server), output)
