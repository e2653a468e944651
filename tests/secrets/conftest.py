"""A real store, the built-in and test actions, and an Engine over both, for the secret tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_engine.identity import Directory
from runbook_engine.plugin import Registry, builtin_actions
from runbook_engine.service import Engine
from runbook_engine.store import Store
from tests.runtime.runtime_actions import BOARD, TEST_ACTIONS


@pytest.fixture(autouse=True)
def _clean_board() -> Iterator[None]:
    BOARD.reset()
    yield
    BOARD.reset()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open("sqlite:///" + str(tmp_path / "r.db"))
    yield opened
    opened.close()


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    for action_cls in (*builtin_actions(), *TEST_ACTIONS):
        reg.register(action_cls)
    return reg


@pytest.fixture
def engine(store: Store, registry: Registry) -> Engine:
    return Engine(
        store=store,
        registry=registry,
        directory=Directory({"sre": frozenset({"bob"}), "leads": frozenset({"carol"})}),
    )
