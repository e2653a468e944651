"""The one error the inventory raises: a file that cannot be read or a pattern that is wrong."""

from __future__ import annotations

from runbook_engine.errors import RunbookError

__all__ = ["InventoryError"]


class InventoryError(RunbookError):
    """The inventory cannot be loaded, or a host pattern or host variable is invalid.

    Always a mistake in input (the file, the pattern), so retrying never helps.
    """
