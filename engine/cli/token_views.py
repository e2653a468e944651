"""What ``runbook token`` prints, from plain data (a token as ``token list -o json`` shows
it), so that tokens the server manages (``runbook_engine.cli.remote.admin``) print as local ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from runbook_engine.cli._common import emit_json
from runbook_engine.terminal import printable

if TYPE_CHECKING:
    from runbook_engine.store import TokenRecord


def lifetime(text: str | None) -> timedelta | None:
    """``--expires``: a duration, or ``never`` (``None``); a bad one is a usage error."""
    from runbook_engine.auth.tokens import parse_lifetime

    try:
        return parse_lifetime(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires") from None


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def token_dict(token: TokenRecord) -> dict[str, Any]:
    """A token as listed: everything but its hash (of no use to a reader, and no business
    of theirs)."""
    from runbook_engine.auth.tokens import token_state

    return {
        "id": token.id,
        "user": token.user,
        "roles": None if token.roles is None else list(token.roles),
        "state": token_state(token),
        "created_at": token.created_at.isoformat(),
        "expires_at": _iso(token.expires_at),
        "revoked_at": _iso(token.revoked_at),
        "last_used_at": _iso(token.last_used_at),
    }


def show_created(token: Mapping[str, Any], secret: str, output: str) -> None:
    """The secret, once: on stdout alone (for ``$(...)``), what it is for on stderr."""
    if output == "json":
        emit_json({**token, "token": secret})
        return
    click.echo(secret)
    roles = token["roles"]
    scope = ", ".join(roles) if roles else "all of the user's roles"
    until = token["expires_at"] or "revoked"
    click.echo(
        f"token {token['id']} for {printable(token['user'])} ({scope}), valid until {until}. "
        "Keep it now: it is not stored and cannot be shown again.",
        err=True,
    )


def show_tokens(tokens: Sequence[Mapping[str, Any]], output: str) -> None:
    if output == "json":
        emit_json(list(tokens))
        return
    if not tokens:
        click.echo("no tokens")
        return
    for t in tokens:
        roles = ",".join(t["roles"]) if t["roles"] is not None else "*"
        created = datetime.fromisoformat(t["created_at"])
        last = t["last_used_at"]
        used = f"{datetime.fromisoformat(last):%Y-%m-%d %H:%M}" if last else "never"
        click.echo(
            f"{t['id']}  {printable(t['user']):30}  {roles:20}  {t['state']:8}  "
            f"created {created:%Y-%m-%d}  used {used}"
        )


def show_revoked(token_id: str, output: str) -> None:
    if output == "json":
        emit_json({"id": token_id, "revoked": True})
    else:
        click.echo(f"token {token_id} revoked")
