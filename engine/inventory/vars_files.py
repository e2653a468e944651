"""``group_vars/`` and ``host_vars/`` beside the inventory, found and read as Ansible does.

For a group ``web`` the first of ``group_vars/web``, ``web.yml``, ``web.yaml``, ``web.json``
that exists is used; when it is a directory, every file in it (and in its subdirectories),
sorted by name, with one of those extensions or none, skipping hidden files and ``~`` backups,
is read in turn, later files overriding earlier ones. ``host_vars/`` works the same for hosts.
Files are YAML (JSON is YAML too); an empty file adds nothing.

A name with no file is simply nothing to add. A file that exists but cannot be read, is not
valid YAML or does not hold a mapping is an error naming the file (and the line, for YAML).
Each directory is listed once, so ten thousand hosts cost ten thousand dictionary look-ups,
not forty thousand ``stat`` calls.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runbook_engine.inventory.errors import InventoryError
from runbook_engine.inventory.yaml_load import read_yaml

__all__ = ["EXTENSIONS", "VarsFiles"]

#: the extensions Ansible tries, in its order; "" is the bare name (a file or a directory)
EXTENSIONS = ("", ".yml", ".yaml", ".json")


class _Directory:
    """One ``group_vars`` or ``host_vars`` directory, listed once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, bool] | None = None  # name -> is a directory

    def entries(self) -> dict[str, bool]:
        if self._entries is None:
            self._entries = {}
            try:
                with os.scandir(self.path) as listing:
                    for entry in listing:
                        self._entries[entry.name] = entry.is_dir()
            except FileNotFoundError:
                pass
            except NotADirectoryError:
                pass  # a file named group_vars: Ansible skips it too
            except OSError as exc:
                raise InventoryError(f"cannot read {self.path}: {exc.strerror}") from None
        return self._entries

    def files_for(self, name: str) -> list[Path]:
        if not name or name.startswith(os.sep):
            return []
        entries = self.entries()
        for ext in EXTENSIONS:
            found = entries.get(name + ext)
            if found is None:
                continue
            path = self.path / (name + ext)
            return _files_in(path) if found else [path]
        return []


def _files_in(directory: Path) -> list[Path]:
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise InventoryError(f"cannot read {directory}: {exc.strerror}") from None
    found: list[Path] = []
    for name in names:
        if name.startswith(".") or name.endswith("~"):
            continue
        path = directory / name
        ext = os.path.splitext(name)[1]
        if path.is_dir() and not ext:
            found.extend(_files_in(path))
        elif path.is_file() and (not ext or ext in EXTENSIONS):
            found.append(path)
    return found


class VarsFiles:
    """The variables of ``group_vars/`` and ``host_vars/`` in each base directory, in order."""

    def __init__(self, basedirs: Sequence[Path]) -> None:
        self.basedirs = [Path(os.path.realpath(d)) for d in basedirs]
        self._groups = [_Directory(d / "group_vars") for d in self.basedirs]
        self._hosts = [_Directory(d / "host_vars") for d in self.basedirs]
        self._loaded: dict[Path, dict[str, Any]] = {}

    def group(self, name: str) -> dict[str, Any]:
        return self._collect(self._groups, name)

    def host(self, name: str) -> dict[str, Any]:
        return self._collect(self._hosts, name)

    def _collect(self, directories: list[_Directory], name: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for directory in directories:
            for path in directory.files_for(name):
                merged.update(self._load(path))
        return merged

    def _load(self, path: Path) -> dict[str, Any]:
        found = self._loaded.get(path)
        if found is None:
            data = read_yaml(path)
            if not data:
                found = {}
            elif isinstance(data, dict):
                found = {str(k): v for k, v in data.items()}
            else:
                raise InventoryError(
                    f"{path}: expected a mapping of variables, got {type(data).__name__}"
                )
            self._loaded[path] = found
        return found
