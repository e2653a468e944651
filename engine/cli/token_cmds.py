"""``runbook token create | list | revoke``: API tokens for the HTTP API.

On a local store, whoever can open the store may manage its tokens (they could write any
record anyway); the server's API asks for the ``admin`` role instead, and with
``RUNBOOK_SERVER`` set these commands ask it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from runbook_engine.auth.local import server_mode
from runbook_engine.cli._common import open_store, output_option, user_errors
from runbook_engine.cli.token_views import (
    lifetime,
    show_created,
    show_revoked,
    show_tokens,
    token_dict,
)
from runbook_engine.errors import RunbookError

if TYPE_CHECKING:
    from runbook_engine.store import Store


def _audit(store: Store, action: str, target: str, detail: dict[str, Any]) -> None:
    from runbook_engine.auth.audit import Attempt, AuditTrail
    from runbook_engine.auth.local import acting_principal

    principal = acting_principal()
    AuditTrail(store).record(principal, Attempt(action, target, principal.name, detail=detail))


@click.group()
def token() -> None:
    """API tokens: each is shown once, when created; the store keeps only its hash."""


@token.command("create")
@click.option("--user", required=True, help="who the token acts as (an email or login name)")
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice(["view", "run", "approve", "cancel", "trigger", "admin"]),
    help="limit the token to this role; repeat for several (default: whatever the user may do)",
)
@click.option("--expires", default="90d", show_default=True, help="lifetime (30d, 12h) or never")
@output_option
@user_errors
def create(user: str, roles: tuple[str, ...], expires: str, output: str) -> None:
    """Create a token for USER and print it, once: it cannot be shown again."""
    lasts = lifetime(expires)  # a bad --expires is a usage error in either mode
    if server_mode():  # the server makes it, if the token used here is an admin's
        from runbook_engine.cli.remote import admin as remote

        return remote.create_token(user, roles, expires, output)
    from runbook_engine.auth.tokens import create_token

    with open_store() as store:
        made = create_token(store, user, roles=roles or None, lifetime=lasts)
        _audit(store, "token.create", made.record.id, {"user": user, "roles": list(roles)})
    show_created(token_dict(made.record), made.secret, output)


@token.command("list")
@click.option("--user", help="only this user's tokens")
@output_option
@user_errors
def list_(user: str | None, output: str) -> None:
    """Tokens, oldest first (never their secrets); from a server, your own unless you are an
    admin."""
    if server_mode():
        from runbook_engine.cli.remote import admin as remote

        return remote.list_tokens(user, output)
    with open_store(create=False) as store:
        tokens = store.list_tokens(user)
    show_tokens([token_dict(t) for t in tokens], output)


@token.command("revoke")
@click.argument("token_id")
@output_option
@user_errors
def revoke(token_id: str, output: str) -> None:
    """Revoke a token by its id (from `runbook token list`); it stops working at once."""
    if server_mode():
        from runbook_engine.cli.remote import admin as remote

        return remote.revoke_token(token_id, output)
    from runbook_engine.auth.tokens import revoke_token

    with open_store(create=False) as store:
        try:
            revoke_token(store, token_id)
        except RunbookError:
            _audit(store, "token.revoke", token_id, {"outcome": "unknown token"})
            raise
        _audit(store, "token.revoke", token_id, {})
    show_revoked(token_id, output)
