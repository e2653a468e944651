"""Commands about runbook definitions: validate, list, show NAME@V, diff, schema, plan."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runbook_engine.auth.local import server_mode
from runbook_engine.cli._common import emit_json, output_option, resolve_refs, user_errors
from runbook_engine.cli.catalog_views import runbook_row, show_diff, show_plan, show_runbooks
from runbook_engine.core.statuses import EXIT_INVALID
from runbook_engine.errors import Problem

if TYPE_CHECKING:
    from runbook_engine.spec.loader import LoadedRunbook


def _expand(paths: tuple[str, ...]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(x for x in p.iterdir() if x.suffix in (".yaml", ".yml")))
        else:
            out.append(p)
    return out


def _check_calls(
    checked: list[tuple[LoadedRunbook, int]], results: list[dict[str, Any]]
) -> list[Problem]:
    """The calls of the valid files, against the files validated and the catalog: runbooks
    that do not exist, parameters that do not fit, cycles. Files with problems turn invalid."""
    from runbook_engine.catalog import Catalog
    from runbook_engine.preflight.composition import catalog_lookup, check_calls
    from runbook_engine.preflight.findings import locate
    from runbook_engine.spec.yamlmarks import load_marked

    catalog = Catalog()
    given: dict[str, dict[int, LoadedRunbook]] = {}
    for loaded, _ in checked:
        given.setdefault(loaded.runbook.name, {})[loaded.runbook.version] = loaded

    def versions(name: str) -> dict[int, LoadedRunbook]:
        return {**catalog.versions(name), **given.get(name, {})}

    lookup = catalog_lookup(versions)
    out: list[Problem] = []
    for loaded, place in checked:
        findings = check_calls(loaded.runbook, lookup, loaded.document)
        if not findings:
            continue
        found = locate(findings, load_marked(loaded.source), loaded.file)
        out.extend(found)
        results[place] = {
            "file": results[place]["file"],
            "valid": False,
            "problems": [p.as_dict() for p in found],
        }
    return out


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--inventory",
    "-i",
    type=click.Path(exists=True, dir_okay=False),
    help="check literal host patterns against this inventory (default: RUNBOOK_INVENTORY)",
)
@click.option("--strict", is_flag=True, help="warnings are errors (exit 2)")
@output_option
def validate(paths: tuple[str, ...], inventory: str | None, strict: bool, output: str) -> None:
    """Check runbook files (or folders of them): the format, and every check a run's preflight
    makes on the actions' parameters. Exit 0 when all are valid (warnings are printed), 2
    otherwise."""
    from runbook_engine.plugin import default_registry
    from runbook_engine.preflight import check_file, validate_context

    registry = default_registry()
    ctx = validate_context(inventory)
    results: list[dict[str, Any]] = []
    problems: list[Problem] = []
    warnings: list[Problem] = []
    seen: dict[tuple[str, int], tuple[str, str]] = {}
    checked: list[tuple[LoadedRunbook, int]] = []  # valid files, with their place in results
    for path in _expand(paths):
        loaded, report = check_file(path, registry, ctx)
        errors = [*report.errors, *(report.warnings if strict else [])]
        shown = [] if strict else report.warnings
        warnings.extend(shown)
        listed = {"warnings": [w.as_dict() for w in shown]} if shown else {}
        if loaded is None or errors:
            problems.extend(errors)
            results.append(
                {
                    "file": str(path),
                    "valid": False,
                    "problems": [p.as_dict() for p in errors],
                    **listed,
                }
            )
            continue
        key = (loaded.runbook.name, loaded.runbook.version)
        if key in seen and seen[key][1] != loaded.digest:
            problem = Problem(
                str(path),
                None,
                None,
                "version",
                f"{key[0]} version {key[1]} is also defined with different content "
                f"in {seen[key][0]}; bump `version`",
            )
            problems.append(problem)
            results.append({"file": str(path), "valid": False, "problems": [problem.as_dict()]})
            continue
        seen[key] = (str(path), loaded.digest)
        checked.append((loaded, len(results)))
        results.append(
            {
                "file": str(path),
                "valid": True,
                "name": loaded.runbook.name,
                "version": loaded.runbook.version,
                "digest": loaded.digest,
                **listed,
            }
        )
    problems.extend(_check_calls(checked, results))
    if output == "json":
        emit_json({"valid": not problems, "files": results})
    else:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
        for r in results:
            if r["valid"]:
                click.echo(f"ok  {r['file']}  {r['name']}@{r['version']}")
        if problems:
            click.echo(
                f"{len(problems)} problem(s) in "
                f"{sum(1 for r in results if not r['valid'])} file(s)",
                err=True,
            )
    sys.exit(EXIT_INVALID if problems else 0)


@click.command("list")
@output_option
@user_errors
def list_(output: str) -> None:
    """Runbooks in ./runbooks and RUNBOOK_PATH (with RUNBOOK_SERVER: the server's): name,
    version, description."""
    if server_mode():  # the server's runbooks, through its API: nothing is read here
        from runbook_engine.cli.remote import catalog as remote

        return remote.list_runbooks(output)
    from runbook_engine.catalog import Catalog

    catalog = Catalog()
    rows = [
        runbook_row(x.runbook.name, x.runbook.version, x.runbook.description, x.file, x.digest)
        for x in catalog.latest()
    ]
    show_runbooks(rows, catalog.problems, output)


@click.command()
@click.argument("a")
@click.argument("b")
@user_errors
def diff(a: str, b: str) -> None:
    """Differences between two runbook versions, e.g. ``diff disk-usage@3 disk-usage@4``."""
    if server_mode():  # the server's runbooks, through its API: nothing is read here
        from runbook_engine.cli.remote import catalog as remote

        return remote.diff(a, b)
    left, right = resolve_refs(a, b)
    lines = difflib.unified_diff(
        left.source.splitlines(keepends=True),
        right.source.splitlines(keepends=True),
        fromfile=f"{left.ref} ({left.digest[:19]})",
        tofile=f"{right.ref} ({right.digest[:19]})",
    )
    show_diff(left.ref, right.ref, "".join(lines))


@click.command()
def schema() -> None:
    """Print the JSON Schema of the runbook format, with the parameters of every installed
    action (for yaml-language-server in editors)."""
    from runbook_engine.plugin import default_registry
    from runbook_engine.preflight.schema import json_schema

    click.echo(json.dumps(json_schema(default_registry()), indent=2))


@click.command()
@click.argument("ref")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE")
@output_option
@user_errors
def plan(ref: str, params: tuple[str, ...], output: str) -> None:
    """Dry run: print each step with its rendered parameters. Calls nothing."""
    from runbook_engine.spec.params import parse_assignments

    if server_mode():  # the server's runbooks, through its API: nothing is read here
        from runbook_engine.cli.remote import catalog as remote

        return remote.plan(ref, parse_assignments(params), output)
    from runbook_engine.plan import build_plan
    from runbook_engine.plugin import default_registry

    [loaded] = resolve_refs(ref)
    steps = build_plan(loaded, parse_assignments(params), default_registry())
    rb = loaded.runbook
    show_plan(
        {"runbook": rb.name, "version": rb.version, "digest": loaded.digest, "steps": steps},
        output,
    )
