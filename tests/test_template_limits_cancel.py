"""A render asks its runtime now and then whether the run was cancelled, and stops if so."""

from __future__ import annotations

import time

import pytest

from runbook_engine import template_limits
from runbook_engine.errors import TemplateError
from runbook_engine.templating import render

SLOW = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


class Probe:
    """Says "cancelled" from ``after`` seconds on; counts how often it was asked."""

    def __init__(self, after: float) -> None:
        self.at = time.monotonic() + after
        self.asked: list[float] = []

    def __call__(self) -> bool:
        self.asked.append(time.monotonic())
        return time.monotonic() >= self.at


def test_a_cancel_ends_a_long_render_within_a_second() -> None:
    probe = Probe(after=0.6)
    began = time.monotonic()
    with (
        template_limits.stop_when(probe) as watch,
        pytest.raises(TemplateError, match="cancelled while the template rendered") as caught,
    ):
        render(SLOW, {}, field="slow.with", timeout=10)
    took = time.monotonic() - began
    assert took < 0.6 + template_limits.CANCEL_EVERY + 0.5
    assert watch.seen
    assert caught.value.field == "slow.with"
    # asked at most every CANCEL_EVERY seconds: about once per half second, not per loop turn
    gaps = [b - a for a, b in zip(probe.asked, probe.asked[1:], strict=False)]
    assert len(probe.asked) <= took / template_limits.CANCEL_EVERY + 1
    assert all(gap >= template_limits.CANCEL_EVERY * 0.9 for gap in gaps)


def test_once_seen_every_later_render_of_the_same_decision_stops_at_once() -> None:
    probe = Probe(after=0.0)
    with template_limits.stop_when(probe):
        with pytest.raises(TemplateError, match="cancelled"):
            render(SLOW, {}, timeout=10)
        began = time.monotonic()
        with pytest.raises(TemplateError, match="cancelled"):
            render("{% for i in range(10) %}{{ i }}{% endfor %}", {})
        assert time.monotonic() - began < 0.1
    assert len(probe.asked) == 1


def test_a_short_render_never_asks_and_outside_a_watch_nothing_is_asked() -> None:
    probe = Probe(after=0.0)
    with template_limits.stop_when(probe):
        assert render("{% for i in range(3) %}{{ i }}{% endfor %}", {}) == "012"
    assert probe.asked == []
    # no watch: the budget alone ends a render
    with pytest.raises(TemplateError, match=r"time budget of 0\.2s"):
        render(SLOW, {}, timeout=0.2)
