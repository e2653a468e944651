"""Runbook files are checked before they are read (issue 14, point 6).

Before: a 500 MB file was read whole before the 1 MB limit was checked (1.6 GB of memory on
every run), a symlink to ``/dev/zero`` was read for ever, and one file claiming another's
version stopped every runbook from loading."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from runbook_engine.catalog import Catalog
from runbook_engine.errors import CatalogError, RunbookInvalid
from runbook_engine.spec.loader import MAX_BYTES, load_file

GOOD = (
    "apiVersion: runbook/v1\nname: {name}\nversion: {version}\n"
    "steps:\n  - id: a\n    action: log\n    with: {{message: {message}}}\n"
)


def _write(path: Path, name: str, version: int = 1, message: str = "hi") -> Path:
    path.write_text(GOOD.format(name=name, version=version, message=message))
    return path


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_a_huge_file_is_refused_by_its_size_without_being_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as handle:
        handle.truncate(500 * 1024 * 1024)  # sparse: costs no disk
    before = _peak_rss_kib()
    with pytest.raises(RunbookInvalid, match="larger than 1000000 bytes"):
        load_file(huge)
    assert _peak_rss_kib() - before < 50 * 1024  # far below the 500 MB a whole read costs


def test_a_file_just_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "big.yaml", "big", message="x" * MAX_BYTES)
    with pytest.raises(RunbookInvalid, match="larger than"):
        load_file(path)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_symlink_to_a_device_is_not_read(tmp_path: Path) -> None:
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    with pytest.raises(RunbookInvalid, match="a character device, not a regular file"):
        load_file(link)


def test_a_named_pipe_is_not_read_and_does_not_block(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)  # nobody writes: a plain open would wait for ever
    with pytest.raises(RunbookInvalid, match="a named pipe, not a regular file"):
        load_file(pipe)


def test_one_bad_file_never_stops_the_others_from_loading(tmp_path: Path) -> None:
    _write(tmp_path / "a-good.yaml", "good")
    (tmp_path / "b-broken.yaml").write_text("steps: [\n")
    (tmp_path / "c-zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "d-pipe.yaml")
    (tmp_path / "e-dir.yaml").mkdir()
    with (tmp_path / "f-huge.yaml").open("wb") as handle:
        handle.truncate(2 * MAX_BYTES)
    _write(tmp_path / "g-dup1.yaml", "dup", message="one")
    _write(tmp_path / "h-dup2.yaml", "dup", message="two")  # same version, other content
    _write(tmp_path / "i-last.yaml", "last")
    catalog = Catalog(dirs=[tmp_path])
    assert catalog.names() == ["dup", "good", "last"]
    by_file = {Path(p.file).name: p.message for p in catalog.problems}
    assert set(by_file) == {
        "b-broken.yaml",
        "c-zero.yaml",
        "d-pipe.yaml",
        "e-dir.yaml",
        "f-huge.yaml",
        "h-dup2.yaml",
    }
    assert "not a regular file" in by_file["c-zero.yaml"]
    assert "both claim dup version 1" in by_file["h-dup2.yaml"]
    assert catalog.resolve("good").runbook.name == "good"
    # which of the two dup files was meant is not known: neither is run
    with pytest.raises(CatalogError, match="both claim dup version 1"):
        catalog.resolve("dup")
