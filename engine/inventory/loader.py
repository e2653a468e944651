"""Where the inventory comes from, and reading it in the right format.

``runbook run --inventory PATH`` sets ``RUNBOOK_INVENTORY``; without it, ``./inventory.yaml``,
``./inventory.yml`` or ``./inventory.ini`` is used if present. No inventory at all is fine:
hosts named literally (``10.0.0.5``, ``deploy@db.example.com:2222``) still work.

PATH may be a file or a directory. A directory is read as ``ansible -i DIR`` reads it: every
file in it, in name order, into one inventory, subdirectories too, skipping hidden files,
``group_vars``, ``host_vars`` and the extensions Ansible skips (``.md``, ``.txt``, ``.cfg``,
``~``...). Each file is YAML (``.yaml``, ``.yml``, ``.json``, or no extension and YAML
content), the JSON of ``ansible-inventory --list``, or INI (anything else). ``group_vars/`` and
``host_vars/`` are read beside a file, or inside a directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from runbook_engine.inventory.errors import InventoryError
from runbook_engine.inventory.ini_format import read_ini
from runbook_engine.inventory.list_format import is_list_output, read_list_output
from runbook_engine.inventory.model import Inventory, InventoryBuilder
from runbook_engine.inventory.yaml_format import looks_like_yaml, read_yaml_inventory
from runbook_engine.inventory.yaml_load import load_yaml, read_text

__all__ = ["DEFAULT_NAMES", "ENV_VAR", "inventory_path", "load_file", "load_inventory"]

ENV_VAR = "RUNBOOK_INVENTORY"
DEFAULT_NAMES = ("inventory.yaml", "inventory.yml", "inventory.ini")

_YAML_SUFFIXES = (".yaml", ".yml", ".json")
#: what Ansible leaves out of an inventory directory, by name and by ending
_SKIPPED_NAMES = frozenset({"group_vars", "host_vars", "vars_plugins"})
_SKIPPED_ENDINGS = (
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg",
    ".retry",
)  # fmt: skip


def inventory_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The inventory to use: ``explicit``, else ``$RUNBOOK_INVENTORY``, else a default name in
    the working directory, else None. A path that was asked for must exist."""
    given = explicit if explicit not in (None, "") else os.environ.get(ENV_VAR) or None
    if given is not None:
        path = Path(given).expanduser()
        if not (path.is_file() or path.is_dir()):
            origin = "--inventory" if explicit not in (None, "") else ENV_VAR
            raise InventoryError(f"inventory {path} ({origin}) does not exist")
        return path
    for name in DEFAULT_NAMES:
        path = Path(name)
        if path.is_file():
            return path
    return None


def load_inventory(explicit: str | os.PathLike[str] | None = None) -> Inventory:
    """The inventory ``inventory_path`` finds, or an empty one."""
    path = inventory_path(explicit)
    return Inventory.empty() if path is None else load_file(path)


def load_file(path: Path) -> Inventory:
    """The inventory in ``path``, a file or a directory of them, with its ``group_vars/`` and
    ``host_vars/``."""
    path = Path(path)
    if path.is_dir():
        builder = InventoryBuilder(str(path), vars_dirs=[path])
        _read_directory(builder, path)
    else:
        builder = InventoryBuilder(str(path), vars_dirs=[path.parent])
        _read_one(builder, path)
    return builder.build()


def _read_directory(builder: InventoryBuilder, directory: Path) -> None:
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise InventoryError(
            f"cannot read inventory directory {directory}: {exc.strerror}"
        ) from None
    for name in names:
        if name.startswith(".") or name in _SKIPPED_NAMES or name.endswith(_SKIPPED_ENDINGS):
            continue
        path = directory / name
        if path.is_dir():
            _read_directory(builder, path)
        elif path.is_file():
            _read_one(builder, path)


def _read_one(builder: InventoryBuilder, path: Path) -> None:
    """One file, in the format Ansible would read it with."""
    text = read_text(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix == ".toml":
        raise InventoryError(f"{source}: TOML inventories are not supported; use YAML or INI")
    if suffix in _YAML_SUFFIXES or (suffix == "" and _is_yaml(text)):
        _read_yaml(builder, load_yaml(text, source), source)
    else:
        read_ini(builder, text, source)


def _is_yaml(text: str) -> bool:
    """A file without extension: YAML when it parses as a mapping of groups, as the
    ``--list`` JSON, or as a plugin configuration; INI otherwise (Ansible tries YAML first)."""
    try:
        data = load_yaml(text, "")
    except InventoryError:
        return False
    return (
        looks_like_yaml(data)
        or is_list_output(data)
        or (isinstance(data, dict) and "plugin" in data)
    )


def _read_yaml(builder: InventoryBuilder, data: object, source: str) -> None:
    if is_list_output(data):
        assert isinstance(data, dict)
        read_list_output(builder, data, source)
    else:
        read_yaml_inventory(builder, data, source)
