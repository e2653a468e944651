"""Cursors for paged lists: opaque to clients, and stable while new runs are recorded (a page
continues after the last run it showed, not at an offset that new runs would shift)."""

from __future__ import annotations

import base64
from datetime import datetime

import orjson

from runbook_engine.api.problems import ApiProblem

MAX_LIMIT = 500


def encode(*parts: str | int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(parts))).decode().rstrip("=")


def _decode(cursor: str) -> list[object]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError):
        raise ApiProblem(400, "bad-cursor", "cursor: not one this API gave out") from None
    if not isinstance(parts, list):
        raise ApiProblem(400, "bad-cursor", "cursor: not one this API gave out")
    return parts


def run_cursor(created_at: datetime, run_id: str) -> str:
    return encode(created_at.isoformat(), run_id)


def read_run_cursor(cursor: str) -> tuple[datetime, str]:
    parts = _decode(cursor)
    if len(parts) == 2 and isinstance(parts[0], str) and isinstance(parts[1], str):
        try:
            return datetime.fromisoformat(parts[0]), parts[1]
        except ValueError:
            pass
    raise ApiProblem(400, "bad-cursor", "cursor: not one this API gave out")


def read_name_cursor(cursor: str) -> str:
    parts = _decode(cursor)
    if len(parts) == 1 and isinstance(parts[0], str):
        return parts[0]
    raise ApiProblem(400, "bad-cursor", "cursor: not one this API gave out")
