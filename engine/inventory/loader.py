"""Where the inventory comes from, and reading it in the right format.

``runbook run --inventory PATH`` sets ``RUNBOOK_INVENTORY``; without it, ``./inventory.yaml``,
``./inventory.yml`` or ``./inventory.ini`` is used if present. No inventory at all is fine:
hosts named literally (``127.0.1.5``, ``deploy@db1:2222``) still work.
"""

from __future__ import annotations

import os
from pathlib import Path

from runbook_engine.inventory.errors import InventoryError
from runbook_engine.inventory.ini_format import parse_ini
from runbook_engine.inventory.model import Inventory
from runbook_engine.inventory.yaml_format import looks_like_yaml, parse_yaml

__all__ = ["DEFAULT_NAMES", "ENV_VAR", "inventory_path", "load_file", "load_inventory"]

ENV_VAR = "RUNBOOK_INVENTORY"
DEFAULT_NAMES = ("inventory.yaml", "inventory.yml", "inventory.ini")


def inventory_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The inventory file to use: ``explicit``, else ``$RUNBOOK_INVENTORY``, else a default
    name in the working directory, else None. A path that was asked for must exist."""
    given = explicit if explicit not in (None, "") else os.environ.get(ENV_VAR) or None
    if given is not None:
        path = Path(given).expanduser()
        if not path.is_file():
            origin = "--inventory" if explicit not in (None, "") else ENV_VAR
            raise InventoryError(f"inventory {path} ({origin}) does not exist or is not a file")
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
    """Parse ``path`` as YAML (``.yaml``/``.yml``) or INI (``.ini``, ``.cfg``); other names,
    such as Ansible's classic ``hosts``, are recognised by their content."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read inventory {path}: {exc}") from None
    source = str(path)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return parse_yaml(text, source)
    if suffix in (".ini", ".cfg"):
        return parse_ini(text, source)
    return parse_yaml(text, source) if looks_like_yaml(text) else parse_ini(text, source)
