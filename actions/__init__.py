"""Action plugins: the contract (``actions.base``), the registry, and the built-in actions.

Third-party distributions add actions through the ``runbook_engine.actions`` entry-point group;
``default_registry()`` returns the built-ins plus everything installed.
"""

from __future__ import annotations

from actions._duration import parse_duration
from actions._registry import (
    BUILTINS,
    ENTRY_POINT_GROUP,
    PluginError,
    Registry,
    UnknownActionError,
    builtin_actions,
    default_registry,
)
from actions.base import Action, ActionContext, ActionParams, Result

__all__ = [
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "Action",
    "ActionContext",
    "ActionParams",
    "PluginError",
    "Registry",
    "Result",
    "UnknownActionError",
    "builtin_actions",
    "default_registry",
    "parse_duration",
]
