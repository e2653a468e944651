"""Templates: sandboxed, strict, native types, parameter values never evaluated again."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from runbook_engine.errors import TemplateError
from runbook_engine.templating import (
    check_syntax,
    condition_source,
    evaluate_condition,
    is_template,
    quote,
    references,
    render,
)

CONTEXT: dict[str, Any] = {
    "params": {
        "host": "web 1",
        "evil": "{{ 7*7 }}",
        "statement": "{% for x in range(3) %}x{% endfor %}",
        "looks_like_list": "[1, 2]",
        "looks_like_number": "42",
        "count": 3,
        "force": False,
        "hosts": ["a b", "c;d", "e'f"],
    },
    "steps": {
        "check": {
            "status": "succeeded",
            "outputs": {"healthy": True, "code": 0},
            "result": {"stdout": "ok\n", "exit_code": 0, "lines": [1, 2]},
        },
    },
    "run": {"id": "r-123", "requester": "alice", "runbook": "restart-web", "version": 3},
}


def r(source: Any, **extra: Any) -> Any:
    return render(source, {**CONTEXT, **extra}, field="with.command")


# --------------------------------------------------------------------------- sandbox


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ params.__init__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ params.__class__ }}",
        "{{ '{0.__class__}'.format(params) }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
    ],
)
def test_sandbox_refuses_python_internals(source: str) -> None:
    with pytest.raises(TemplateError) as info:
        r(source)
    message = str(info.value)
    assert "sandbox" in message or "undefined" in message or "unsafe" in message
    assert info.value.field == "with.command"


def test_sandbox_refusal_names_the_field() -> None:
    with pytest.raises(TemplateError, match=r"^with\.command: refused by the sandbox"):
        r("{{ ''.__class__ }}")


# --------------------------------------------------------------------------- strict


def test_undefined_name_is_an_error_naming_the_field_and_the_name() -> None:
    with pytest.raises(TemplateError) as info:
        r("{{ nope }}")
    assert info.value.field == "with.command"
    assert str(info.value).startswith("with.command: ")
    assert "'nope' is undefined" in str(info.value)


def test_missing_attribute_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(TemplateError, match="has no attribute 'hots'"):
        r("ssh {{ params.hots }}")
    with pytest.raises(TemplateError, match="has no attribute 'missing'"):
        r("{{ steps.check.outputs.missing }}")


def test_undefined_inside_nested_values_names_the_nested_field() -> None:
    with pytest.raises(TemplateError) as info:
        render({"env": {"A": "ok", "B": ["x", "{{ nope }}"]}}, CONTEXT, field="steps.s.with")
    assert info.value.field == "steps.s.with.env.B[1]"


def test_runtime_errors_become_template_errors() -> None:
    with pytest.raises(TemplateError, match="ZeroDivisionError"):
        r("{{ 1 / 0 }}")


def test_syntax_error_at_render_time() -> None:
    with pytest.raises(TemplateError, match="template syntax error"):
        r("{{ params.host ")


# --------------------------------------------------------------------------- native types


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 3 }}", 3),
        ("{{ 2.5 }}", 2.5),
        ("{{ [1,2] }}", [1, 2]),
        ("{{ {'a': 1} }}", {"a": 1}),
        ("{{ true }}", True),
        ("{{ none }}", None),
        ("{{ params.count }}", 3),
        ("{{ params.count + 1 }}", 4),
        ("{{ params.hosts }}", ["a b", "c;d", "e'f"]),
        ("{{ steps.check.result.lines }}", [1, 2]),
        ("{{ steps.check.outputs.healthy }}", True),
        ("{{ run.version }}", 3),
    ],
)
def test_a_single_expression_keeps_its_type(source: str, expected: Any) -> None:
    value = r(source)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x {{ 3 }}", "x 3"),
        ("{{ 3 }}{{ 4 }}", "34"),
        ("{{ [1, 2] }} items", "[1, 2] items"),
        ("{{ params.count }}\n", "3\n"),
        ("host={{ params.host }}", "host=web 1"),
        (
            "{{ run.runbook }}@{{ run.version }} by {{ run.requester }} ({{ run.id }})",
            "restart-web@3 by alice (r-123)",
        ),
    ],
)
def test_mixed_text_is_a_string(source: str, expected: str) -> None:
    assert r(source) == expected


def test_a_quoted_number_stays_a_string() -> None:
    assert r("{{ '3' }}") == "3"
    assert r("{{ params.looks_like_number }}") == "42"


def test_text_without_markers_is_returned_as_is() -> None:
    assert r("plain {text} with } braces") == "plain {text} with } braces"
    assert r(42) == 42
    assert r(None) is None
    assert r(["a", "{{ 1 + 1 }}", {"k": "{{ params.count }}"}]) == ["a", 2, {"k": 3}]


# --------------------------------------------------------------------------- data stays data


def test_parameter_values_are_never_evaluated_again() -> None:
    assert r("{{ params.evil }}") == "{{ 7*7 }}"
    assert r("echo {{ params.evil }}") == "echo {{ 7*7 }}"
    assert r("{{ params.statement }}") == "{% for x in range(3) %}x{% endfor %}"


def test_parameter_that_looks_like_a_list_stays_a_string() -> None:
    value = r("{{ params.looks_like_list }}")
    assert value == "[1, 2]"
    assert isinstance(value, str)


def test_outputs_are_data_too() -> None:
    ctx = {**CONTEXT, "steps": {"s": {"outputs": {"o": "{{ 1 + 1 }}"}}}}
    assert render("{{ steps.s.outputs.o }}", ctx) == "{{ 1 + 1 }}"


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("web-1", "web-1"),
        ("web 1", "'web 1'"),
        ("a; rm -rf /", "'a; rm -rf /'"),
        ("it's", "'it'\"'\"'s'"),
        ("$(reboot)", "'$(reboot)'"),
        ("", "''"),
        (None, "''"),
        (3, "3"),
        (["a b", "c;d", "e'f"], "'a b' 'c;d' 'e'\"'\"'f'"),
        (("x", "y z"), "x 'y z'"),
    ],
)
def test_quote(value: Any, expected: str) -> None:
    assert quote(value) == expected


@pytest.mark.parametrize("value", ["a b", "x; y", "it's", "`id`", '"q"', "\\", "*", "\n"])
def test_quote_round_trips_through_a_shell_parser(value: str) -> None:
    assert shlex.split(quote(value)) == [value]
    assert shlex.split(quote([value, value])) == [value, value]


def test_quote_filter_in_templates() -> None:
    assert r("ssh {{ params.host | quote }} uptime") == "ssh 'web 1' uptime"
    assert r("rm {{ params.hosts | quote }}") == "rm 'a b' 'c;d' 'e'\"'\"'f'"
    assert r("{{ params.host | shquote }}") == "'web 1'"


def test_to_json_filter() -> None:
    assert r("{{ steps.check.result | to_json }}") == (
        '{"exit_code": 0, "lines": [1, 2], "stdout": "ok\\n"}'
    )
    assert r("{{ params.evil | to_json }}") == '"{{ 7*7 }}"'


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("params.count > 2", True),
        ("params.count > 5", False),
        ("{{ params.count > 2 }}", True),
        ("{{ params.count > 5 }}", False),
        ("params.force", False),
        ("not params.force", True),
        ("steps.check.status == 'succeeded'", True),
        ("steps.check.outputs.healthy and steps.check.outputs.code == 0", True),
        ("{{ 'false' }}", False),
        ("{{ 'no' }}", False),
        ("{{ '' }}", False),
        ("{{ 0 }}", False),
        ("{{ [] }}", False),
        ("{{ params.host }}", True),
        ("{{ params.force }} and more text", True),
        ("params.hosts | length == 3", True),
    ],
)
def test_evaluate_condition(expr: str, expected: bool) -> None:
    assert evaluate_condition(expr, CONTEXT) is expected


def test_condition_errors_name_the_field() -> None:
    with pytest.raises(TemplateError) as info:
        evaluate_condition("params.nope", CONTEXT, field="steps.a.if")
    assert info.value.field == "steps.a.if"


def test_condition_source_adds_braces_only_when_missing() -> None:
    assert condition_source("params.force") == "{{ params.force }}"
    assert condition_source("{{ params.force }}") == "{{ params.force }}"


def test_is_template() -> None:
    assert is_template("{{ x }}")
    assert is_template("{% if x %}{% endif %}")
    assert is_template("{# c #}")
    assert not is_template("plain")
    assert not is_template("{ x }")


# --------------------------------------------------------------------------- static analysis


def test_references_find_attribute_and_item_access() -> None:
    source = (
        "{{ steps.a.outputs.x }} {{ steps['b'].outputs['y'] }} {{ steps.c }}"
        " {% if steps.d.status == 'ok' %}{{ steps.e.result | to_json }}{% endif %}"
        " {{ params.p | quote }}"
    )
    assert references(source, "steps") == [
        ["a", "outputs", "x"],
        ["b", "outputs", "y"],
        ["c"],
        ["d", "status"],
        ["e", "result"],
    ]
    assert references(source, "params") == [["p"]]


def test_references_ignore_dynamic_access_and_other_roots() -> None:
    assert references("{{ params[name] }} {{ other.params.x }} {{ params }}", "params") == []
    assert references("{{ params['a'][key] }}", "params") == [["a"]]


def test_references_of_a_broken_template_is_empty() -> None:
    assert references("{{ steps.a.outputs.x", "steps") == []


def test_check_syntax() -> None:
    assert check_syntax("{{ params.x | quote }}") is None
    error = check_syntax("{{ params.x | nosuch }}")
    assert error is not None
    assert "No filter named 'nosuch'" in error
    error = check_syntax("{% if x %}")
    assert error is not None
    assert error.startswith("template syntax error:")
    error = check_syntax("{{ " + "(" * 300 + "1" + ")" * 300 + " }}")
    assert error == "template syntax error: the expression nests too deeply"
