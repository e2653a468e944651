"""Immutable copies of runbook versions."""

from __future__ import annotations

from datetime import UTC

import pytest

from runbook_engine.errors import CatalogError
from runbook_engine.store import Store, StoredVersion

SOURCE = "name: restart-api\nversion: 1\nsteps: []\n"
DOCUMENT = {"name": "restart-api", "version": 1, "steps": [], "meta": {"owners": ["sre"]}}


def test_save_version_inserts_and_returns_the_copy(store: Store) -> None:
    saved = store.save_version("restart-api", 1, "sha256:aaaa", SOURCE, DOCUMENT)
    assert isinstance(saved, StoredVersion)
    assert (saved.name, saved.version, saved.digest) == ("restart-api", 1, "sha256:aaaa")
    assert saved.source == SOURCE
    assert saved.document == DOCUMENT
    assert saved.recorded_at.tzinfo is UTC
    assert store.get_version("restart-api", 1) == saved


def test_same_digest_again_returns_the_existing_copy(store: Store) -> None:
    first = store.save_version("restart-api", 1, "sha256:aaaa", SOURCE, DOCUMENT)
    again = store.save_version("restart-api", 1, "sha256:aaaa", SOURCE, DOCUMENT)
    assert again == first  # including the original recorded_at
    assert len(store.list_versions("restart-api")) == 1


def test_different_digest_for_a_recorded_version_is_refused(store: Store) -> None:
    store.save_version("restart-api", 1, "sha256:aaaa", SOURCE, DOCUMENT)
    with pytest.raises(CatalogError) as caught:
        store.save_version("restart-api", 1, "sha256:bbbb", SOURCE + "# edited\n", DOCUMENT)
    message = str(caught.value)
    assert message.startswith(
        "restart-api version 1 is already recorded with different content (digest "
    )
    assert "sha256:aaaa" in message
    assert "sha256:bbbb" in message
    assert message.endswith("bump `version` when you change a runbook")
    # The recorded copy is untouched.
    recorded = store.get_version("restart-api", 1)
    assert recorded is not None
    assert recorded.digest == "sha256:aaaa"
    assert recorded.source == SOURCE


def test_get_version_of_unknown_is_none(store: Store) -> None:
    assert store.get_version("nope", 1) is None


def test_list_versions_sorted_and_filtered(store: Store) -> None:
    store.save_version("b-runbook", 2, "d-b2", "b2", {})
    store.save_version("a-runbook", 10, "d-a10", "a10", {})
    store.save_version("b-runbook", 1, "d-b1", "b1", {})
    store.save_version("a-runbook", 9, "d-a9", "a9", {})
    assert [(v.name, v.version) for v in store.list_versions()] == [
        ("a-runbook", 9),
        ("a-runbook", 10),
        ("b-runbook", 1),
        ("b-runbook", 2),
    ]
    assert [v.version for v in store.list_versions("b-runbook")] == [1, 2]
    assert store.list_versions("nope") == []
