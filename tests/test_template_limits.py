"""Templates render to JSON data, within size limits and a time budget (issue 14, points 1, 6).

Each case is a template that, before these limits, crashed the engine while it recorded the
step (a generator is not JSON), or hung the run, or cost gigabytes of memory."""

from __future__ import annotations

import time

import pytest

from runbook_engine import template_limits, templating
from runbook_engine.errors import TemplateError
from runbook_engine.templating import evaluate_condition, render


def test_generators_ranges_and_views_become_lists() -> None:
    assert render("{{ ['a', 'b'] | map('upper') }}", {}) == ["A", "B"]
    assert render("{{ [1, 2, 3] | select('odd') }}", {}) == [1, 3]
    assert render("{{ range(3) }}", {}) == [0, 1, 2]
    assert render("{{ {'a': 1}.items() }}", {}) == [["a", 1]]
    assert render("{{ [3, 1, 2] | reverse }}", {}) == [2, 1, 3]
    # inside mappings and lists as well, and with keys made text as JSON has them
    assert render("{{ {1: [1, 2] | map('string')} }}", {}) == {"1": ["1", "2"]}


def test_sets_become_sorted_lists() -> None:
    assert render("{{ x }}", {"x": {3, 1, 2}}) == [1, 2, 3]
    # mixed types have no order of their own: ordered by their repr, the same on every run
    assert render("{{ x }}", {"x": {1, "b"}}) == ["b", 1]


def test_values_with_no_json_form_are_errors_that_name_the_field() -> None:
    for source, words in (
        ("{{ cycler }}", "not data"),
        ("{{ 'nan' | float }}", "not a number JSON can hold"),
        ("{{ x | float }}", "not a number JSON can hold"),
        ("{{ 2 ** 70 }}", "too large (at most 64 bits)"),
        ("{{ '\\udcff' }}", "lone surrogate"),
    ):
        with pytest.raises(TemplateError) as caught:
            render({"command": source}, {"x": "inf"}, field="s.with")
        assert caught.value.field == "s.with.command", source
        assert words in str(caught.value), source


def test_a_value_that_contains_itself_is_refused() -> None:
    with pytest.raises(TemplateError, match="nests deeper than"):
        render("{% set l = [] %}{% set _ = l.append(l) %}{{ l }}", {})


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 10**8 }}",
        "{{ [1] * 10**8 }}",
        "{{ ('a' * 4000000) + ('a' * 4000000) }}",
        "{% set ns = namespace(s='a') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
        "{{ 'a' | center(10**9) }}",
        "{{ 'a'.ljust(10**9) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ ('a' * 1000000) | replace('a', 'aaaaaaaa') }}",
        "{{ ('ab' * 1000) | join('x' * 10000) }}",
        "{{ ('%s' * 1000) % (('a' * 100000,) * 1000) }}",
    ],
)
def test_values_past_the_size_limit_are_refused_before_they_are_built(source: str) -> None:
    began = time.monotonic()
    with pytest.raises(TemplateError, match=r"items or characters|longer than"):
        render(source, {}, field="f")
    assert time.monotonic() - began < 1


def test_integer_powers_and_ranges_are_bounded() -> None:
    with pytest.raises(TemplateError, match="too large an integer"):
        render("{{ 2 ** 10000 }}", {})
    with pytest.raises(TemplateError, match=r"range\(\) of 1,000,000,000 items"):
        render("{{ range(10**9) }}", {})
    with pytest.raises(TemplateError, match="'lipsum' is undefined"):
        render("{{ lipsum(10**6) }}", {})


def test_output_past_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templating, "MAX_SIZE", 10_000)
    with pytest.raises(TemplateError, match="output is longer than"):
        render("{% for i in range(100000) %}x{% endfor %}", {})


@pytest.mark.parametrize(
    "source",
    [
        # no call inside: only the loop itself can notice the time
        "{% set s = 'a' * 100000 %}{% for i in s %}{% for j in s %}{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}",
    ],
)
def test_a_template_that_would_run_for_ever_ends_at_its_budget(source: str) -> None:
    began = time.monotonic()
    with pytest.raises(TemplateError, match=r"time budget of 0\.3s"):
        render(source, {}, field="f", timeout=0.3)
    assert time.monotonic() - began < 2


def test_the_budget_is_capped_and_shared_by_a_whole_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(template_limits, "RENDER_SECONDS", 0.3)
    slow = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    began = time.monotonic()
    with pytest.raises(TemplateError, match=r"time budget of 0\.3s"):
        render([slow, slow, slow], {}, timeout=3600)  # an hour-long step timeout: still capped
    assert time.monotonic() - began < 2
    with pytest.raises(TemplateError, match="time budget"):
        evaluate_condition(slow, {})


def test_recursion_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="recurses too deeply"):
        render("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", {})


def test_ordinary_templates_are_unchanged() -> None:
    ctx = {"params": {"hosts": ["a", "b"], "n": 3}}
    assert render("{{ params.n * 2 }}", ctx) == 6
    assert render("{{ 'ab' * 3 }}", ctx) == "ababab"
    assert render("{% for h in params.hosts %}{{ loop.index }}{{ h }}{% endfor %}", ctx) == "1a2b"
    assert render("{{ '%05d' % params.n }}-{{ '{:>4}'.format('x') }}", ctx) == "00003-   x"
    assert render("{{ params.hosts | join(', ') }}", ctx) == "a, b"
    assert render("{{ params }}", ctx) == ctx["params"]
