"""Durations as people write them in runbooks: ``500ms``, ``2s``, ``15m``, ``1h30m``, ``1d``."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(value: str | int | float) -> float:
    """Seconds in ``value``. Plain numbers are seconds; strings combine ``<number><unit>`` parts."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m or 1h30m, got a boolean")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    text = value.strip().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(
            f"expected a duration like 30s, 5m or 1h30m (units ms, s, m, h, d), got {value!r}"
        )
    return total


def format_duration(seconds: float) -> str:
    """Short human form used in summaries: ``850ms``, ``12.3s``, ``4m05s``, ``2h10m``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
