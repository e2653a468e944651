"""``for_each`` in the format: what loads, and each mistake with its line, field and message."""

from __future__ import annotations

import pytest

from runbook_engine.spec import ActionStep

from ._samples import load, one_problem, problems

HEAD = """\
apiVersion: runbook/v1
name: loops
version: 1
parameters: {hosts: {type: list, default: [a, b]}}
steps:
"""


def test_a_loop_loads_with_its_defaults_and_its_fields() -> None:
    rb = load(
        HEAD
        + """\
  - id: plain
    action: log
    for_each: "{{ params.hosts }}"
    with: {message: "{{ item }} {{ loop.index }} of {{ loop.length }}"}
  - id: named
    action: log
    for_each: "{{ params.hosts }}"
    as: host
    max_concurrency: 5
    on_item_failure: continue
    with: {message: "{{ host }}"}
    outputs: {h: "{{ host }}"}
    rollback: {action: log, with: {message: "undo {{ host }} {{ result }}"}}
"""
    ).runbook
    plain, named = rb.steps
    assert isinstance(plain, ActionStep) and isinstance(named, ActionStep)
    assert (plain.looped, plain.as_, plain.max_concurrency, plain.on_item_failure) == (
        True,
        "item",
        1,
        "stop",
    )
    assert (named.as_, named.max_concurrency, named.on_item_failure) == ("host", 5, "continue")


@pytest.mark.parametrize(
    ("step", "line", "path", "message"),
    [
        (
            '{id: a, action: log, for_each: "{{ [1] }}", as: params, with: {message: x}}',
            6,
            "steps[0].as",
            "`as: params` would hide 'params', which templates already have",
        ),
        (
            '{id: a, action: log, for_each: "{{ [1] }}", as: 9x, with: {message: x}}',
            6,
            "steps[0].as",
            "`as: 9x` is not a name templates can use",
        ),
        (
            '{id: a, action: log, for_each: "{{ [1] }}", max_concurrency: 0, with: {message: x}}',
            6,
            "steps[0].max_concurrency",
            "greater than or equal to 1",
        ),
        (
            "{id: a, action: log, max_concurrency: 2, with: {message: x}}",
            6,
            "steps[0].max_concurrency",
            "`max_concurrency` only applies to a step with `for_each`",
        ),
        (
            '{id: a, approval: {message: go}, for_each: "{{ [1] }}"}',
            6,
            "steps[0].for_each",
            "unknown field 'for_each': only action steps can loop (for_each)",
        ),
        (
            "{id: a, action: log, with: {message: '{{ item }}'}}",
            6,
            "steps[0].with.message",
            "reads `item`, which only the templates of a step with `for_each` have",
        ),
        (
            '{id: a, action: log, for_each: "{{ [1] }}", as: host, with: {message: "{{ item }}"}}',
            6,
            "steps[0].with.message",
            "reads `item`, but this step names its items `host` (`as: host`)",
        ),
        (
            '{id: a, action: log, for_each: "{{ [loop.index] }}", with: {message: x}}',
            6,
            "steps[0].for_each",
            "reads `loop`, but `for_each` is rendered once for the whole step, before any item",
        ),
        (
            '{id: a, action: log, for_each: "{{ [1] }}", if: "item", with: {message: x}}',
            6,
            "steps[0].if",
            "reads `item`, but `if` is rendered once for the whole step",
        ),
    ],
)
def test_each_loop_mistake_is_located(step: str, line: int, path: str, message: str) -> None:
    problem = one_problem(HEAD + f"  - {step}\n")
    assert (problem.line, problem.path) == (line, path), problem
    assert message in problem.message


def test_a_step_of_a_parallel_group_cannot_loop() -> None:
    found = problems(
        HEAD
        + """\
  - id: group
    parallel:
      - {id: a, action: log, for_each: "{{ [1] }}", with: {message: "{{ item }}"}}
"""
    )
    assert any(
        p.path == "steps[0].parallel"
        and "a step of a parallel group cannot use for_each" in p.message
        for p in found
    ), found


def test_a_jinja_loop_variable_is_not_taken_for_the_item() -> None:
    load(
        HEAD
        + """\
  - id: a
    action: log
    with: {message: "{% for item in params.hosts %}{{ item }}{{ loop.index }}{% endfor %}"}
"""
    )
