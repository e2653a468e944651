"""The plugin contract: what an action is, and the registry that finds and validates them.

The engine and every action family (built-in or third-party) import this package; the engine
never imports an action family, it asks the registry.
"""

from __future__ import annotations

from runbook_engine.plugin.contract import (
    Action,
    ActionContext,
    ActionParams,
    InventorySource,
    Result,
    StaticContext,
    StaticIssue,
    Where,
)
from runbook_engine.plugin.registry import (
    ENTRY_POINT_GROUP,
    INVENTORY_SOURCE_GROUP,
    BrokenPlugin,
    PluginError,
    Registry,
    UnknownActionError,
    builtin_actions,
    default_registry,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "INVENTORY_SOURCE_GROUP",
    "Action",
    "ActionContext",
    "ActionParams",
    "BrokenPlugin",
    "InventorySource",
    "PluginError",
    "Registry",
    "Result",
    "StaticContext",
    "StaticIssue",
    "UnknownActionError",
    "Where",
    "builtin_actions",
    "default_registry",
]
