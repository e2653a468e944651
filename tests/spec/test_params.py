"""Run parameters: typed values from ``-p`` text and from JSON, checks that name the parameter,
and secret redaction."""

from __future__ import annotations

from typing import Any

import pytest

from runbook_engine.errors import ParameterError
from runbook_engine.spec import (
    Runbook,
    load_text,
    parse_assignments,
    redact_params,
    redact_text,
    resolve_params,
    secret_values,
)

from ._samples import FULL, MINIMAL


@pytest.fixture(scope="module")
def runbook() -> Runbook:
    return load_text(FULL).runbook


def given(**values: Any) -> dict[str, Any]:
    return {"host": "web-1", **values}


# --------------------------------------------------------------------------- -p key=value


def test_parse_assignments() -> None:
    assert parse_assignments(["a=1", "b=x=y", " c =  spaced ", "empty="]) == {
        "a": "1",
        "b": "x=y",
        "c": "  spaced ",
        "empty": "",
    }
    assert parse_assignments(()) == {}
    with pytest.raises(ParameterError, match="'a': is given more than once"):
        parse_assignments(["a=1", "a=2"])


@pytest.mark.parametrize("pair", ["novalue", "=value", " =x", ""])
def test_parse_assignments_refuses_pairs_without_a_key(pair: str) -> None:
    with pytest.raises(ParameterError, match="expected key=value") as info:
        parse_assignments([pair])
    assert info.value.name == pair


# --------------------------------------------------------------------------- types from text


def test_defaults_are_filled_in_and_optional_values_are_none(runbook: Runbook) -> None:
    assert resolve_params(runbook, given()) == {
        "host": "web-1",
        "count": 2,
        "ratio": 0.5,
        "force": False,
        "hosts": ["web-1", "web-2"],
        "env": "staging",
        "token": None,
    }


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("count", "3", 3),
        ("count", " 7 ", 7),
        ("count", "+4", 4),
        ("ratio", "0.25", 0.25),
        ("ratio", "1", 1),
        ("ratio", "1e-1", 0.1),
        ("force", "true", True),
        ("force", "True", True),
        ("force", "yes", True),
        ("force", "on", True),
        ("force", "1", True),
        ("force", "y", True),
        ("force", "false", False),
        ("force", "NO", False),
        ("force", "off", False),
        ("force", "0", False),
        ("force", "n", False),
        ("hosts", "web-1,web-2", ["web-1", "web-2"]),
        ("hosts", " web-1 , web-3 ,", ["web-1", "web-3"]),
        ("hosts", '["web 1", "web,2"]', ["web 1", "web,2"]),
        ("hosts", "single", ["single"]),
        ("env", "prod", "prod"),
        ("host", "web-42", "web-42"),
    ],
)
def test_values_from_text(runbook: Runbook, name: str, text: str, value: Any) -> None:
    resolved = resolve_params(runbook, given(**{name: text}))
    assert resolved[name] == value
    assert type(resolved[name]) is type(value)


def test_list_items_are_typed(runbook: Runbook) -> None:
    rb = _with_params("ports: {type: list, items: integer}\nflags: {type: list, items: boolean}")
    assert resolve_params(rb, {"ports": "80, 443", "flags": "yes,no"}) == {
        "ports": [80, 443],
        "flags": [True, False],
    }
    assert resolve_params(rb, {"ports": "[8080, 9090]", "flags": "[true]"})["ports"] == [8080, 9090]


def test_enum_with_number_choices_returns_the_choice() -> None:
    rb = _with_params("replicas: {type: enum, choices: [1, 3, 5]}")
    assert resolve_params(rb, {"replicas": "3"}) == {"replicas": 3}
    with pytest.raises(ParameterError, match=r"expected one of 1, 3, 5; got '4'"):
        resolve_params(rb, {"replicas": "4"})


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("count", "three", "expected an integer, got 'three'"),
        ("count", "2.5", "expected an integer, got '2.5'"),
        ("count", "0", "expected at least 1, got 0"),
        ("count", "11", "expected at most 10, got 11"),
        ("ratio", "half", "expected a number, got 'half'"),
        ("ratio", "1.5", "expected at most 1, got 1.5"),
        ("ratio", "-0.1", "expected at least 0, got -0.1"),
        ("force", "maybe", "expected true or false, got 'maybe'"),
        ("host", "db-1", "expected text matching '^web-[0-9]+$', got 'db-1'"),
        ("hosts", "", "expected at least 1 items, got 0"),
        ("hosts", "a,b,c,d,e,f", "expected at most 5 items, got 6"),
        ("hosts", "[web-1", "expected a JSON list or comma-separated values"),
        ("hosts", "[1, 2]", "expected a string, got int"),
        ("env", "dev", "expected one of staging, prod; got 'dev'"),
    ],
)
def test_bad_values_name_the_parameter_and_what_was_expected(
    runbook: Runbook, name: str, text: str, message: str
) -> None:
    with pytest.raises(ParameterError) as info:
        resolve_params(runbook, given(**{name: text}))
    assert info.value.name == name
    assert str(info.value).startswith(f"parameter {name!r}: ")
    assert message in str(info.value)


def test_string_length_limits() -> None:
    rb = _with_params("reason: {type: string, min_length: 3, max_length: 5}")
    assert resolve_params(rb, {"reason": "abcd"}) == {"reason": "abcd"}
    with pytest.raises(ParameterError, match="expected at least 3 characters, got 2"):
        resolve_params(rb, {"reason": "ab"})
    with pytest.raises(ParameterError, match="expected at most 5 characters, got 6"):
        resolve_params(rb, {"reason": "abcdef"})


def test_pattern_applies_to_list_items() -> None:
    rb = _with_params("hosts: {type: list, pattern: '^web-\\d+$'}")
    with pytest.raises(ParameterError, match=r"expected text matching .* got 'db-2'"):
        resolve_params(rb, {"hosts": "web-1,db-2"})


def test_huge_numbers_from_text_do_not_crash() -> None:
    rb = _with_params("n: {type: number}\ni: {type: integer}")
    digits = "1" * 400
    assert resolve_params(rb, {"n": digits, "i": digits}) == {"n": int(digits), "i": int(digits)}


# --------------------------------------------------------------------------- names


def test_unknown_parameter_suggests_the_close_one(runbook: Runbook) -> None:
    with pytest.raises(ParameterError) as info:
        resolve_params(runbook, given(forse="true"))
    assert info.value.name == "forse"
    assert str(info.value) == (
        "parameter 'forse': runbook restart-web has no such parameter; did you mean 'force'?"
    )


def test_unknown_parameter_without_a_close_one_lists_the_declared(runbook: Runbook) -> None:
    with pytest.raises(ParameterError, match=r"\(declared: host, count, ratio, force, hosts"):
        resolve_params(runbook, given(zzz="1"))
    with pytest.raises(ParameterError, match=r"\(declared: none\)"):
        resolve_params(load_text(MINIMAL).runbook, {"x": "1"})


def test_required_parameter_missing(runbook: Runbook) -> None:
    with pytest.raises(ParameterError) as info:
        resolve_params(runbook, {})
    assert info.value.name == "host"
    assert str(info.value) == (
        "parameter 'host': is required (the host to restart); pass -p host=..."
    )


def test_required_without_description_names_the_type() -> None:
    rb = _with_params("n: {type: integer}")
    with pytest.raises(ParameterError, match=r"is required \(integer\); pass -p n=\.\.\."):
        resolve_params(rb, {})


def test_partial_resolution_keeps_only_the_given(runbook: Runbook) -> None:
    assert resolve_params(runbook, {"token": "s3cret"}, partial=True) == {"token": "s3cret"}


# --------------------------------------------------------------------------- JSON values


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("count", 4, 4),
        ("count", 4.0, 4),
        ("ratio", 1, 1),
        ("force", True, True),
        ("hosts", ["web-1"], ["web-1"]),
        ("hosts", "web-1,web-2", ["web-1", "web-2"]),
        ("env", "prod", "prod"),
        ("host", "web-1", "web-1"),
    ],
)
def test_json_values(runbook: Runbook, name: str, value: Any, expected: Any) -> None:
    assert resolve_params(runbook, given(**{name: value}), from_text=False)[name] == expected


def test_json_numbers_become_strings_for_string_parameters() -> None:
    rb = _with_params("ticket: {type: string}")
    assert resolve_params(rb, {"ticket": 1234}, from_text=False) == {"ticket": "1234"}
    with pytest.raises(ParameterError, match="expected a string, got bool"):
        resolve_params(rb, {"ticket": True}, from_text=False)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("count", True, "expected an integer, got a boolean"),
        ("count", 1.5, "expected an integer, got 1.5"),
        ("ratio", False, "expected a number, got a boolean"),
        ("force", 1, "expected true or false, got 1"),
        ("hosts", {"a": 1}, "expected a list, got dict"),
    ],
)
def test_bad_json_values(runbook: Runbook, name: str, value: Any, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        resolve_params(runbook, given(**{name: value}), from_text=False)


# --------------------------------------------------------------------------- secrets


def test_redact_params_replaces_secret_values(runbook: Runbook) -> None:
    values = resolve_params(runbook, given(token="s3cret"))
    redacted = redact_params(runbook, values)
    assert redacted["token"] == "***"
    assert {k: v for k, v in redacted.items() if k != "token"} == {
        k: v for k, v in values.items() if k != "token"
    }
    assert values["token"] == "s3cret"  # the input is not changed


def test_redact_params_keeps_unknown_keys(runbook: Runbook) -> None:
    assert redact_params(runbook, {"other": "x", "token": "t"}) == {"other": "x", "token": "***"}
    # an optional secret left out is stored as absent, not as a mask to be filled in later
    assert redact_params(runbook, {"other": "x", "token": None}) == {"other": "x", "token": None}


def test_secret_values(runbook: Runbook) -> None:
    assert secret_values(runbook, given(token="s3cret")) == ("s3cret",)
    assert secret_values(runbook, given()) == ()
    assert secret_values(runbook, given(token="")) == ()


def test_secret_values_of_lists_and_numbers() -> None:
    rb = _with_params(
        "keys: {type: list, secret: true}\npin: {type: integer, secret: true}\nuser: {}"
    )
    values = resolve_params(rb, {"keys": "k1,k2", "pin": "1234", "user": "alice"})
    assert sorted(secret_values(rb, values)) == ["1234", "k1", "k2"]


def test_redact_text() -> None:
    secrets = ("abc", "abcdef", "p@ss")
    text = "token=abcdef short=abc pw=p@ss other=ab"
    assert redact_text(text, secrets) == "token=*** short=*** pw=*** other=ab"
    assert redact_text("nothing here", ()) == "nothing here"
    assert redact_text("x" * 3, ("x",)) == "*********"


def test_redaction_end_to_end(runbook: Runbook) -> None:
    values = resolve_params(runbook, given(token="hunter2"))
    log_line = f"curl -H 'Authorization: {values['token']}' http://{values['host']}/"
    shown = redact_text(log_line, secret_values(runbook, values))
    assert "hunter2" not in shown
    assert "***" in shown
    assert "web-1" in shown


# --------------------------------------------------------------------------- helpers


def _with_params(block: str) -> Runbook:
    indented = "".join(f"  {line}\n" for line in block.splitlines())
    return load_text(MINIMAL.replace("steps:\n", f"parameters:\n{indented}steps:\n")).runbook


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999"])
def test_non_finite_numbers_are_refused(text: str) -> None:
    rb = _with_params("n: {type: number}")
    with pytest.raises(ParameterError, match="expected a finite number"):
        resolve_params(rb, {"n": text})
