"""Durations for action parameters: the engine's one parser, re-exported for plugin authors."""

from __future__ import annotations

from engine.durations import parse_duration

__all__ = ["parse_duration"]
