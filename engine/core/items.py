"""Loop items: the sub-steps a ``for_each`` step runs, one per item of its list.

An item's id is its step's id with its index (from 0) in brackets, ``restart[3]``; step ids
cannot contain ``[`` (``STEP_ID``), so an item id never names a step. Item events are the step
events (``step.started``, ``step.succeeded``, ``step.failed``...) with the item id as ``step``.
"""

from __future__ import annotations

__all__ = ["item_id", "split_item"]


def item_id(step: str, index: int) -> str:
    """The id of item ``index`` of loop step ``step``: ``item_id("restart", 3) == "restart[3]"``."""
    return f"{step}[{index}]"


def split_item(sid: str) -> tuple[str, int | None]:
    """``("restart", 3)`` for ``"restart[3]"``; ``(sid, None)`` for a step id."""
    if not sid.endswith("]"):
        return sid, None
    head, sep, index = sid[:-1].rpartition("[")
    if not sep or not head or not index.isdigit():
        return sid, None
    return head, int(index)
