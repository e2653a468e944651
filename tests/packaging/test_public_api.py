"""The names embedders and plugin authors use: pinned, so a change to them is a decision."""

from __future__ import annotations

from pathlib import Path

import runbook_engine

PUBLIC = [
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


def test_all_is_pinned() -> None:
    assert runbook_engine.__all__ == PUBLIC


def test_every_public_name_resolves_to_its_defining_object() -> None:
    from runbook_engine import plugin, service, spec, store

    for name in PUBLIC:
        assert getattr(runbook_engine, name) is not None, name
    assert runbook_engine.Engine is service.Engine
    assert runbook_engine.Store is store.Store
    assert runbook_engine.load_file is spec.load_file
    assert runbook_engine.Action is plugin.Action
    assert isinstance(runbook_engine.__version__, str)


def test_every_error_is_a_runbook_error() -> None:
    errors = [getattr(runbook_engine, n) for n in PUBLIC if n.endswith("Error") or n == "LockHeld"]
    errors.append(runbook_engine.RunbookInvalid)
    for error in errors:
        assert issubclass(error, runbook_engine.RunbookError), error


def test_the_embedding_example_runs(tmp_path: Path) -> None:
    """The module docstring's example, as written, on a fresh SQLite store."""
    runbook = tmp_path / "hello.yaml"
    runbook.write_text(
        "apiVersion: runbook/v1\nname: hello\nversion: 1\n"
        "steps:\n  - {id: say, action: log, with: {message: hi}}\n"
    )
    with runbook_engine.Store.open(f"sqlite:///{tmp_path / 'runs.db'}") as store:
        outcome = runbook_engine.Engine(store).start(
            runbook_engine.load_file(runbook), {}, requester="alice"
        )
    assert outcome.status == "succeeded"
    assert outcome.exit_code == 0
