"""What the SSH actions can check before a run: that a literal host pattern selects hosts.

Checked against the inventory only when one was given (``--inventory``, ``RUNBOOK_INVENTORY``):
without it, group names cannot be told from typos. Patterns with a source prefix
(``ec2:tag:Role=web``) ask a cloud API, which only the run does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runbook_engine.errors import RunbookError
from runbook_engine.inventory import InventoryError, select
from runbook_engine.plugin import StaticContext, StaticIssue, default_registry
from runbook_engine.templating import is_template

__all__ = ["check_hosts"]


def _has_source(pattern: str) -> bool:
    try:
        return default_registry().inventory_source_for(pattern) is not None
    except RunbookError:
        return True  # a broken source: the run reports it; do not guess here


def check_hosts(given: Mapping[str, Any], ctx: StaticContext) -> Sequence[StaticIssue]:
    """An issue at ``hosts`` when its literal pattern matches nothing in the inventory."""
    hosts = given.get("hosts")
    items = [hosts] if isinstance(hosts, str) else hosts
    if not isinstance(items, list) or not items:
        return ()
    if not all(isinstance(item, str) and item.strip() for item in items):
        return ()  # the parameter model reports the type
    if any(is_template(item) for item in items):
        return ()  # known when rendered
    if isinstance(hosts, str) and _has_source(hosts):
        return ()
    try:
        inventory = ctx.inventory()
    except InventoryError as exc:
        return (StaticIssue(("hosts",), f"cannot check the host pattern: {exc}"),)
    if inventory is None:
        return ()
    try:
        select(inventory, items)
    except InventoryError as exc:
        return (StaticIssue(("hosts",), str(exc)),)
    return ()
