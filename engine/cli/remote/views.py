"""The remote halves of ``runs``, ``show`` and ``logs``: the server's runs and runbook versions,
printed by the functions the local commands print with (from records rebuilt from the API's
JSON), so text and JSON look the same whichever side keeps the store."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from runbook_engine.cli.remote.records import event_record, parse_time, run_path, run_record
from runbook_engine.client.transport import ApiClient, RemoteInputError, RemoteNotFound
from runbook_engine.errors import CatalogError
from runbook_engine.terminal import printable

if TYPE_CHECKING:
    from runbook_engine.children import RunNode

#: the largest page the API gives: fewer round trips for a long list
PAGE = 500


def runs(
    status: tuple[str, ...], runbook: str | None, since: str | None, limit: int, output: str
) -> None:
    from runbook_engine.cli.ops_cmds import parse_since, print_runs

    start = parse_since(since) if since else None
    records = []
    if limit > 0:  # a local store lists nothing for --limit 0; the API refuses it
        with ApiClient.from_env() as api:
            items = api.pages(
                "/runs",
                status=list(status) or None,
                runbook=runbook,
                since=start.isoformat() if start else None,
                limit=min(limit, PAGE),
            )
            records = [run_record(item) for item in itertools.islice(items, limit)]
    print_runs(records, output)


def show(ref: str, output: str) -> None:
    """A run by id (or prefix), else a runbook version, as the local ``show`` looks them up."""
    with ApiClient.from_env() as api:
        detail: dict[str, Any] | None = None
        if "@" not in ref:
            try:
                detail = api.get(run_path(ref))
            except RemoteNotFound:
                detail = None
        if detail is None:
            _show_runbook(api, ref, output)
            return
        events = [
            event_record(detail["id"], e)
            for e in api.pages(run_path(detail["id"], "events"), limit=PAGE)
        ]
        tree = _tree(api, detail)
    from runbook_engine.cli.ops_cmds import show_run

    show_run(run_record(detail), events, output, detail.get("state"), detail.get("reruns"), tree)


def _tree(
    api: ApiClient, detail: Mapping[str, Any], step: str | None = None, depth: int = 0
) -> RunNode:
    """The run and its child runs, as the server shows each (one request per child)."""
    from runbook_engine.children import MAX_DEPTH, RunNode

    children = []
    links = detail.get("children") or [] if depth < MAX_DEPTH else []
    for link in links:
        try:
            child = api.get(run_path(str(link["run"])))
        except RemoteNotFound:  # a child of a runbook the caller may not view
            continue
        children.append(_tree(api, child, str(link["step"]), depth + 1))
    return RunNode(
        str(detail["id"]),
        str(detail["runbook"]),
        int(detail["version"]),
        str(detail["status"]),
        step,
        tuple(children),
    )


def _show_runbook(api: ApiClient, ref: str, output: str) -> None:
    from runbook_engine.cli._common import emit_json
    from runbook_engine.cli.remote.catalog import runbook_ref

    try:
        version = api.get(f"/runbooks/{runbook_ref(ref)}")
    except (RemoteNotFound, RemoteInputError):
        if "@" in ref:
            raise
        raise CatalogError(f"no run or runbook {ref!r}") from None
    name, number = version["name"], version["version"]
    # the file the server read it from; a version only its store keeps, named as locally
    file = version.get("file") or f"<store {name}@{number}>"
    recorded = version.get("recorded_at")
    if output == "json":
        emit_json(
            {
                "name": name,
                "version": number,
                "digest": version["digest"],
                "file": file,
                "recorded_at": parse_time(recorded).isoformat() if recorded else None,
                "source": version["source"],
            }
        )
        return
    click.echo(printable(f"# {name}@{number}  {version['digest']}  ({file})"))
    click.echo(printable(version["source"], newlines=True), nl=False)


def logs(
    run_id: str, follow: bool, only_step: str | None, only_host: str | None, output: str
) -> None:
    """The server filters (``step``, ``host``) and, with ``follow``, streams until the run
    finishes, as the local command polls its store until then."""
    from runbook_engine.cli.ops_cmds import print_log_event
    from runbook_engine.cli.remote.follow import stream

    def show(data: Mapping[str, Any]) -> None:
        e = event_record(run_id, data)
        print_log_event(run_id, e, e.data, output)

    with ApiClient.from_env() as api:
        stream(api, run_id, show, follow=follow or None, step=only_step, host=only_host)
