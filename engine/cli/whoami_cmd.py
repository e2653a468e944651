"""``runbook whoami``: who the CLI acts as. With ``RUNBOOK_SERVER``, whom the server takes
the token for (``GET /me``); without, the local name, and what such a name is worth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from runbook_engine.auth.local import SERVER_VAR, server_mode
from runbook_engine.cli._common import emit_json, output_option, user_errors
from runbook_engine.terminal import printable


def identity(
    name: str,
    via: str,
    groups: list[str],
    roles: list[str] | None,
    *,
    server: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Who is acting, as ``whoami -o json`` shows it in either mode."""
    return {
        "name": name,
        "via": via,
        "groups": groups,
        "roles": roles,
        "server": server,
        "note": note,
    }


def show_identity(who: Mapping[str, Any], output: str) -> None:
    if output == "json":
        emit_json(dict(who))
        return
    roles = who["roles"]
    click.echo(printable(who["name"]))
    click.echo(printable(f"  via     {who['via']}"))
    click.echo(printable(f"  groups  {', '.join(who['groups']) or '-'}"))
    limit = ", ".join(roles) if roles is not None else "whatever the runbooks and policy allow"
    click.echo(printable(f"  roles   {limit}"))
    if who["server"]:
        click.echo(printable(f"  server  {who['server']}"))
    if who["note"]:
        click.echo(printable(f"note: {who['note']}"))


def _store_location() -> str:
    """Where the local store is, named without opening (or creating) it."""
    from runbook_engine.store import resolve_url

    url = resolve_url(create=False)
    if url.get_backend_name() == "sqlite" and url.database:
        return url.database
    return url.render_as_string(hide_password=True)


def _local() -> dict[str, Any]:
    from runbook_engine.auth.local import acting_user
    from runbook_engine.identity import Directory

    name = acting_user()
    note = (
        f"without {SERVER_VAR} this CLI writes the store ({_store_location()}) itself: "
        "approvals recorded there are only as trustworthy as the store's permissions, since "
        "whoever can write to it can record any name (RUNBOOK_USER, approve --as)"
    )
    groups = sorted(Directory.load().groups_of(name))
    return identity(name, "local", groups, None, note=note)


@click.command()
@output_option
@user_errors
def whoami(output: str) -> None:
    """Who you act as: the user of RUNBOOK_TOKEN on RUNBOOK_SERVER, else RUNBOOK_USER or
    your login name on the local store."""
    if server_mode():  # the server decides who a token is; nothing is read here
        from runbook_engine.cli.remote import admin as remote

        return remote.whoami(output)
    show_identity(_local(), output)
