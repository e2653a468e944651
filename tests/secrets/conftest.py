"""The secret tests use the runtime tests' fixtures: a real store, the built-in and test
actions, and an Engine over both."""

from tests.runtime.conftest import _clean_board, engine, registry, store

__all__ = ["_clean_board", "engine", "registry", "store"]
