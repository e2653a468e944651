"""Reading a decoded JSON notification field by field, each error naming the field's path.

The payloads come from outside, so nothing is assumed: every read checks the type, and an
error says ``alerts[2].labels.instance: expected text, got a number`` rather than a KeyError."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from runbook_engine.triggers.alert import PayloadError

#: Go's zero time, which Alertmanager writes as the end of an alert that has not ended
_GO_ZERO_YEAR = 1


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Fields:
    """The fields of one payload of ``source``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, path: str, message: str) -> PayloadError:
        return PayloadError(self.source, path, message)

    def obj(self, value: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.error(path, f"expected an object, got {_kind(value)}")
        return value

    def items(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.error(path, f"expected a list, got {_kind(value)}")
        return value

    def get(self, parent: Mapping[str, Any], key: str, path: str) -> Any:
        """``parent[key]``; missing is an error naming ``path.key``."""
        if key not in parent:
            raise self.error(_join(path, key), "missing")
        return parent[key]

    def text(self, parent: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str:
        """Text at ``parent[key]``; an optional one that is absent or null is ``""``."""
        value = parent.get(key)
        if value is None and not required:
            return ""
        if key not in parent:
            raise self.error(_join(path, key), "missing")
        if not isinstance(value, str):
            raise self.error(_join(path, key), f"expected text, got {_kind(value)}")
        return value

    def labels(self, parent: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
        """A mapping of names to text at ``parent[key]`` (absent or null: empty). Numbers and
        booleans become their JSON text: a generic sender may well write ``"code": 500``."""
        value = parent.get(key)
        if value is None:
            return {}
        where = _join(path, key)
        out: dict[str, str] = {}
        for name, item in self.obj(value, where).items():
            if isinstance(item, str):
                out[name] = item
            elif isinstance(item, bool | int | float):
                out[name] = json.dumps(item)
            else:
                raise self.error(_join(where, name), f"expected text, got {_kind(item)}")
        return out

    def time(
        self, parent: Mapping[str, Any], key: str, path: str, *, required: bool = True
    ) -> datetime | None:
        """An RFC 3339 time at ``parent[key]``, in UTC; Go's zero time means none. A time
        without an offset is taken as UTC."""
        text = self.text(parent, key, path, required=required)
        if not text:
            if required:
                raise self.error(_join(path, key), "expected an RFC 3339 time, got empty text")
            return None
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise self.error(
                _join(path, key),
                f"expected an RFC 3339 time such as 2024-05-01T12:00:00Z, got {text[:60]!r}",
            ) from None
        if when.year == _GO_ZERO_YEAR:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(UTC)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key
