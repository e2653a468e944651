"""The remote half of ``runbook rerun``: the server checks, records and drives the re-run
(``POST /runs/{id}/rerun``); this side gives the secret parameters again, then follows the new
run and ends as the local command would, with the same output and exit code."""

from __future__ import annotations

from typing import Any

import click

from runbook_engine.cli._common import emit_json
from runbook_engine.cli.remote.follow import Watcher, finish, follow
from runbook_engine.cli.remote.records import fetch_runbook, run_info, run_path
from runbook_engine.cli.remote.runs import _inputs, _refuse_inventory, _subscribers
from runbook_engine.client.transport import ApiClient


def rerun(
    run_id: str,
    *,
    from_step: str | None,
    failed_hosts: bool,
    params: tuple[str, ...],
    yes: bool,
    no_wait: bool,
    no_follow: bool,
    inventory: str | None,
    output: str,
) -> None:
    from runbook_engine.auth.local import acting_user
    from runbook_engine.cli.secret_input import ask_secrets
    from runbook_engine.core.apply import Layout
    from runbook_engine.runtime.rerun import link_text

    _refuse_inventory(inventory)
    acting_user()  # refuses RUNBOOK_USER: the server acts as the token's user
    with ApiClient.from_env() as api:
        before: dict[str, Any] = api.get(run_path(run_id))
        loaded = fetch_runbook(api, f"{before['runbook']}@{before['version']}")
        given = _inputs(loaded, params)
        secret = [n for n, p in loaded.runbook.parameters.items() if p.secret]
        recorded = before.get("params") or {}
        # asked for here, as a local re-run asks: the server never had them stored
        needs = [n for n in secret if n not in given and recorded.get(n) is not None]
        if needs:
            given.update({k: str(v) for k, v in ask_secrets(needs).items()})
        body = {
            "from": from_step,
            "failed_hosts": failed_hosts,
            "params": given,
            "params_from_text": True,
        }
        created: dict[str, Any] = api.post(run_path(before["id"], "rerun"), body)
        link = created.get("rerun_of") or {}
        if no_follow:
            if output == "json":
                emit_json({"run_id": created["id"], "rerun_of": link})
            else:
                click.echo(created["id"])
            return
        if output == "text":
            click.echo(f"run {created['id']}: {link_text(link)}", err=True)
        watcher = Watcher(run_info(created), _subscribers(output), layout=Layout.of(loaded.runbook))
        detail = follow(api, watcher, wait_for_approval=not no_wait)
    finish(detail, output, message=watcher.reason)
