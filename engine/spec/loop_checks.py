"""What a template may read of a loop: the item (``item``, or the step's ``as`` name) and
``loop`` exist only in the templates rendered once per item of a ``for_each`` step."""

from __future__ import annotations

from typing import Any

from jinja2 import meta

from runbook_engine.spec.yamlmarks import Path
from runbook_engine.templating import environment

__all__ = ["loop_names_problem"]

#: parts of a looped step rendered once for the whole step, before any item
_BEFORE_ITEMS = ("for_each", "if")


def _names(source: str) -> set[str]:
    try:
        return set(meta.find_undeclared_variables(environment().parse(source)))
    except Exception:  # a syntax error: reported on its own
        return set()


def loop_names_problem(raw: dict[str, Any], rel: Path, source: str) -> str | None:
    """Why template ``source`` (at ``rel`` in step ``raw``) may not read a loop name, or None."""
    names = _names(source) & {
        "item",
        "loop",
        *([raw["as"]] if isinstance(raw.get("as"), str) else []),
    }
    if not names:
        return None
    looped = isinstance(raw.get("for_each"), str)
    alias = raw.get("as") if isinstance(raw.get("as"), str) else "item"
    if not looped:
        name = sorted(names)[0]
        return f"reads `{name}`, which only the templates of a step with `for_each` have"
    if rel and rel[0] in _BEFORE_ITEMS:
        name = sorted(names)[0]
        return (
            f"reads `{name}`, but `{rel[0]}` is rendered once for the whole step, before any item"
        )
    if "item" in names and alias != "item":
        return f"reads `item`, but this step names its items `{alias}` (`as: {alias}`)"
    return None
