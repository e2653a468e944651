"""Runbook Engine: versioned YAML runbooks, action plugins, rollbacks, approvals, Slack.

The names in ``__all__`` are the contract for embedders and plugin authors; everything else
(``runbook_engine.service``, ``runbook_engine.store``, ...) may move between releases.

    from runbook_engine import Engine, Store, load_file

    with Store.open("sqlite:///runs.db") as store:
        outcome = Engine(store).start(load_file("runbooks/disk-usage-check.yaml"), {},
                                      requester="alice")

Plugin authors subclass ``Action`` with an ``ActionParams`` model and register it in the
``runbook_engine.actions`` entry-point group. The engine, store and loader are imported when
first used, so importing this package (as every ``runbook`` command does) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from runbook_engine.errors import (
    ActionError,
    ActionInputError,
    ActionTimeout,
    ApprovalError,
    CatalogError,
    CommandFailed,
    LockHeld,
    ParameterError,
    Problem,
    RunbookError,
    RunbookInvalid,
    StoreError,
    TemplateError,
)

if TYPE_CHECKING:
    from runbook_engine.catalog import Catalog
    from runbook_engine.plugin import (
        ENTRY_POINT_GROUP,
        Action,
        ActionContext,
        ActionParams,
        PluginError,
        Registry,
        Result,
        UnknownActionError,
        default_registry,
    )
    from runbook_engine.service import Engine, RunOutcome
    from runbook_engine.spec.loader import LoadedRunbook, load_file, load_text
    from runbook_engine.store import Store

__all__ = [
    "ENTRY_POINT_GROUP",
    "Action",
    "ActionContext",
    "ActionError",
    "ActionInputError",
    "ActionParams",
    "ActionTimeout",
    "ApprovalError",
    "Catalog",
    "CatalogError",
    "CommandFailed",
    "Engine",
    "LoadedRunbook",
    "LockHeld",
    "ParameterError",
    "PluginError",
    "Problem",
    "Registry",
    "Result",
    "RunOutcome",
    "RunbookError",
    "RunbookInvalid",
    "Store",
    "StoreError",
    "TemplateError",
    "UnknownActionError",
    "__version__",
    "default_registry",
    "load_file",
    "load_text",
]

#: where each lazily imported public name lives (PEP 562)
_LAZY = {
    "Catalog": "runbook_engine.catalog",
    "Engine": "runbook_engine.service",
    "RunOutcome": "runbook_engine.service",
    "Store": "runbook_engine.store",
    "LoadedRunbook": "runbook_engine.spec.loader",
    "load_file": "runbook_engine.spec.loader",
    "load_text": "runbook_engine.spec.loader",
    **dict.fromkeys(
        [
            "ENTRY_POINT_GROUP",
            "Action",
            "ActionContext",
            "ActionParams",
            "PluginError",
            "Registry",
            "Result",
            "UnknownActionError",
            "default_registry",
        ],
        "runbook_engine.plugin",
    ),
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("runbook-engine")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'runbook_engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
