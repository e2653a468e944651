"""``runbook token create | list | revoke``: API tokens for the HTTP API.

On a local store, whoever can open the store may manage its tokens (they could write any
record anyway); the server's API asks for the ``admin`` role instead.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from runbook_engine.cli._common import emit_json, open_store, output_option, user_errors
from runbook_engine.errors import RunbookError
from runbook_engine.terminal import printable

if TYPE_CHECKING:
    from runbook_engine.store import Store, TokenRecord


def _lifetime(text: str | None) -> timedelta | None:
    if not text or text.strip().lower() == "never":
        return None
    from runbook_engine.durations import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires") from None
    if seconds <= 0:
        raise click.BadParameter("must be longer than nothing", param_hint="--expires")
    return timedelta(seconds=seconds)


def _state(token: TokenRecord) -> str:
    from datetime import UTC, datetime

    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= datetime.now(UTC):
        return "expired"
    return "active"


def _as_dict(token: TokenRecord) -> dict[str, Any]:
    """A token as listed: everything but its hash (of no use to a reader, and no business
    of theirs)."""
    return {
        "id": token.id,
        "user": token.user,
        "roles": None if token.roles is None else list(token.roles),
        "state": _state(token),
        "created_at": token.created_at.isoformat(),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }


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
    type=click.Choice(["view", "run", "approve", "cancel", "admin"]),
    help="limit the token to this role; repeat for several (default: whatever the user may do)",
)
@click.option("--expires", default="90d", show_default=True, help="lifetime (30d, 12h) or never")
@output_option
@user_errors
def create(user: str, roles: tuple[str, ...], expires: str, output: str) -> None:
    """Create a token for USER and print it, once: it cannot be shown again."""
    from runbook_engine.auth.tokens import create_token

    lifetime = _lifetime(expires)
    with open_store() as store:
        made = create_token(store, user, roles=roles or None, lifetime=lifetime)
        _audit(store, "token.create", made.record.id, {"user": user, "roles": list(roles)})
    if output == "json":
        emit_json({**_as_dict(made.record), "token": made.secret})
        return
    click.echo(made.secret)
    scope = ", ".join(roles) if roles else "all of the user's roles"
    until = made.record.expires_at.isoformat() if made.record.expires_at else "revoked"
    click.echo(
        f"token {made.record.id} for {printable(user)} ({scope}), valid until {until}. "
        "Keep it now: it is not stored and cannot be shown again.",
        err=True,
    )


@token.command("list")
@click.option("--user", help="only this user's tokens")
@output_option
@user_errors
def list_(user: str | None, output: str) -> None:
    """Tokens, oldest first (never their secrets)."""
    with open_store(create=False) as store:
        tokens = store.list_tokens(user)
    if output == "json":
        emit_json([_as_dict(t) for t in tokens])
        return
    if not tokens:
        click.echo("no tokens")
        return
    for t in tokens:
        roles = ",".join(t.roles) if t.roles is not None else "*"
        used = t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "never"
        click.echo(
            f"{t.id}  {printable(t.user):30}  {roles:20}  {_state(t):8}  "
            f"created {t.created_at:%Y-%m-%d}  used {used}"
        )


@token.command("revoke")
@click.argument("token_id")
@output_option
@user_errors
def revoke(token_id: str, output: str) -> None:
    """Revoke a token by its id (from `runbook token list`); it stops working at once."""
    from runbook_engine.auth.tokens import revoke_token

    with open_store(create=False) as store:
        try:
            revoke_token(store, token_id)
        except RunbookError:
            _audit(store, "token.revoke", token_id, {"outcome": "unknown token"})
            raise
        _audit(store, "token.revoke", token_id, {})
    if output == "json":
        emit_json({"id": token_id, "revoked": True})
    else:
        click.echo(f"token {token_id} revoked")
