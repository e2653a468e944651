"""Everything that can be known about a runbook before it runs, checked in one place.

``runbook validate``, ``plan``, ``run``, ``submit`` and the Slack app's ``/runbook run`` all call
``check_loaded`` (through ``Engine.preflight`` for starts), so the command an author runs in CI
catches what a run's preflight would, with the line. The parameter models of the actions are the
single source of what a ``with:`` block may hold; see ``docs/runbook-format.md`` (Validation) for
what is checked and what only a run can know.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from runbook_engine.errors import Problem, RunbookInvalid
from runbook_engine.inventory import ENV_VAR, Inventory, inventory_path, load_inventory
from runbook_engine.plugin import Registry, StaticContext
from runbook_engine.preflight.document import check_data
from runbook_engine.preflight.findings import Finding, locate
from runbook_engine.spec.loader import LoadedRunbook, load_file, load_text, read_limited
from runbook_engine.spec.yamlmarks import Marked, YAMLSyntaxError, load_marked

__all__ = [
    "Finding",
    "Report",
    "check_file",
    "check_loaded",
    "check_text",
    "run_context",
    "validate_context",
]


@dataclass(frozen=True)
class Report:
    """The located errors and warnings of one runbook file."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def raise_errors(self, *, strict: bool = False) -> None:
        """``RunbookInvalid`` with every error (``strict``: the warnings too), if any."""
        problems = [*self.errors, *self.warnings] if strict else self.errors
        if problems:
            raise RunbookInvalid(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))


def _report(findings: list[Finding], marked: Marked | None, file: str) -> Report:
    return Report(
        locate([f for f in findings if not f.warning], marked, file),
        locate([f for f in findings if f.warning], marked, file),
    )


def check_loaded(loaded: LoadedRunbook, registry: Registry, ctx: StaticContext) -> Report:
    """The action checks and warnings of a runbook that passed the format checks."""
    findings = check_data(loaded.document, registry, ctx)
    if not findings:
        return Report()
    return _report(findings, load_marked(loaded.source), loaded.file)


def _with_format_problems(
    problems: list[Problem], text: str | None, file: str, registry: Registry, ctx: StaticContext
) -> Report:
    """A document the format rejects still gets its action checks, so that one validate
    shows everything; only unparsable YAML stops at the format problems."""
    if text is None:
        return Report(problems)
    try:
        marked = load_marked(text)
    except YAMLSyntaxError:
        return Report(problems)
    report = _report(check_data(marked.data, registry, ctx), marked, file)
    errors = sorted([*problems, *report.errors], key=lambda p: (p.line or 0, p.column or 0))
    return Report(errors, report.warnings)


def check_text(
    text: str, file: str, registry: Registry, ctx: StaticContext
) -> tuple[LoadedRunbook | None, Report]:
    """Load and check ``text``: the runbook (None when the format rejects it) and the report."""
    try:
        loaded = load_text(text, file)
    except RunbookInvalid as exc:
        return None, _with_format_problems(exc.problems, text, file, registry, ctx)
    return loaded, check_loaded(loaded, registry, ctx)


def check_file(
    path: str | Path, registry: Registry, ctx: StaticContext
) -> tuple[LoadedRunbook | None, Report]:
    """``check_text`` for a file (unreadable and non-UTF-8 files are format problems)."""
    try:
        loaded = load_file(path)
    except RunbookInvalid as exc:
        try:
            # bounded like load_file: the file may be huge, or a device that never ends
            text: str | None = read_limited(Path(path)).decode("utf-8")
        except (RunbookInvalid, UnicodeDecodeError):
            text = None
        return None, _with_format_problems(exc.problems, text, str(path), registry, ctx)
    return loaded, check_loaded(loaded, registry, ctx)


def validate_context(inventory: str | None = None) -> StaticContext:
    """For ``runbook validate``: host patterns are checked against ``inventory`` or
    ``$RUNBOOK_INVENTORY`` when one is given; an inventory that happens to lie in the working
    directory is not assumed to be the one the runbook will run against."""
    chosen = inventory or os.environ.get(ENV_VAR) or None

    def load() -> Inventory | None:
        return None if chosen is None else load_inventory(chosen)

    return StaticContext(load)


def run_context() -> StaticContext:
    """For a run's preflight: the inventory the run itself will use, if there is one."""

    def load() -> Inventory | None:
        path = inventory_path()
        return None if path is None else load_inventory(path)

    return StaticContext(load)
