"""What the static checks find, before it is located in the file: a data path and a message.

Checks work on plain data (``loaded.document``) so that the common case, a clean runbook, never
pays for line numbers; the YAML is parsed for its marks only when there is something to show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from runbook_engine.errors import Problem
from runbook_engine.spec.errors_map import format_path
from runbook_engine.spec.yamlmarks import Marked, Path


@dataclass(frozen=True)
class Finding:
    """One error or warning at ``path`` in the document (``key``: point at the key itself,
    as for an unknown parameter, rather than at its value)."""

    path: Path
    message: str
    warning: bool = False
    key: bool = False


def locate(findings: Iterable[Finding], marked: Marked | None, file: str) -> list[Problem]:
    """Problems with file, line, column and field path, in document order, each once."""
    out: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for finding in findings:
        field = format_path(finding.path)
        if (field, finding.message) in seen:
            continue  # two checks that agree (the model and a plugin) say it once
        seen.add((field, finding.message))
        where = marked.mark(finding.path, key=finding.key) if marked is not None else None
        out.append(
            Problem(
                file,
                where.line if where else None,
                where.column if where else None,
                field,
                finding.message,
            )
        )
    out.sort(key=lambda p: (p.line or 0, p.column or 0))
    return out
