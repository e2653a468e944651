"""Where the sessions' signing key comes from: the environment, a file kept beside a SQLite
store, or (no folder to keep one in) a random key per process, said in a warning."""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Any, cast

import pytest

from runbook_engine.store import Store
from runbook_engine.web.session import KEY_ENV, KEY_FILE, load_key


class _Located:
    """What ``load_key`` asks of a store: its URL."""

    def __init__(self, url: str) -> None:
        self.url = url


def _store(url: str) -> Store:
    return cast(Any, _Located(url))


def test_the_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(KEY_ENV, "k" * 40)
    assert load_key(_store(f"sqlite:///{tmp_path / 'runbook.db'}")) == b"k" * 40
    assert not (tmp_path / KEY_FILE).exists()


def test_a_key_is_made_once_beside_a_sqlite_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    store = _store(f"sqlite:///{tmp_path / 'runbook.db'}")
    first = load_key(store)
    kept = tmp_path / KEY_FILE
    assert kept.exists()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert load_key(store) == first  # a restart keeps its sessions


def test_without_a_folder_the_key_is_random_and_said(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    store = _store("postgresql+psycopg://runbook@db.internal/runbook")
    with caplog.at_level(logging.WARNING, logger="runbook.web"):
        one, two = load_key(store), load_key(store)
    assert one != two
    assert "sessions use a random key" in caplog.text
