"""The run form's fields and the reading of a submitted form: each field as its parameter's
type asks, secrets never filled in, and every message the CLI's own."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import FormData, UploadFile

from runbook_engine.errors import ParameterError
from runbook_engine.spec.loader import load_text
from runbook_engine.spec.models import Runbook
from runbook_engine.spec.params import parse_assignments, resolve_params
from runbook_engine.web.forms import FieldSpec, build_fields, field_name, parse_form

SOURCE = """\
apiVersion: runbook/v1
name: deploy
version: 1
parameters:
  service: {type: string, description: the service to deploy, pattern: "[a-z-]+", max_length: 20}
  env: {type: enum, choices: [staging, production], default: staging}
  region: {type: enum, choices: [eu, us]}
  replicas: {type: integer, default: 2, minimum: 1, maximum: 10}
  ratio: {type: number, minimum: 0.5, required: false}
  dry_run: {type: boolean, default: true}
  notify: {type: boolean, required: false}
  hosts: {type: list, items: string, min_length: 1, default: [web1, web2]}
  ports: {type: list, items: integer, required: false}
  token: {type: string, secret: true}
  keys: {type: list, secret: true, required: false}
steps:
  - {id: one, action: log, with: {message: "{{ params.service }}"}}
"""


@pytest.fixture(scope="module")
def runbook() -> Runbook:
    return load_text(SOURCE, "<test>").runbook


def fields(runbook: Runbook, **kwargs: Any) -> dict[str, FieldSpec]:
    return {f.name: f for f in build_fields(runbook, **kwargs)}


def form(**values: str | list[str]) -> FormData:
    items: list[tuple[str, str | UploadFile]] = [("csrf_token", "x")]
    for name, value in values.items():
        for one in value if isinstance(value, list) else [value]:
            items.append((field_name(name), one))
    return FormData(items)


def cli_error(runbook: Runbook, *pairs: str) -> str:
    """What ``runbook run ... -p pair`` says about these parameters (without ``error: ``)."""
    with pytest.raises(ParameterError) as caught:
        resolve_params(runbook, parse_assignments(list(pairs)), from_text=True)
    return str(caught.value)


VALID = {"service": "api", "region": "eu", "token": "s3cr3t", "dry_run": "true"}


# --------------------------------------------------------------------------- fields


def test_each_type_has_its_widget(runbook: Runbook) -> None:
    got = {name: f.widget for name, f in fields(runbook).items()}
    assert got == {
        "service": "text",
        "env": "select",
        "region": "select",
        "replicas": "number",
        "ratio": "number",
        "dry_run": "checkbox",
        "notify": "checkbox",
        "hosts": "repeated",
        "ports": "repeated",
        "token": "password",
        "keys": "password",
    }


def test_fields_follow_declaration_order_and_prefix_names(runbook: Runbook) -> None:
    specs = build_fields(runbook)
    assert [f.name for f in specs] == list(runbook.parameters)
    assert all(f.input_name == "p." + f.name for f in specs)
    assert all(f.input_id == "param-" + f.name for f in specs)


def test_defaults_fill_the_fields(runbook: Runbook) -> None:
    got = fields(runbook)
    assert got["replicas"].value == "2"
    assert got["dry_run"].checked
    assert not got["notify"].checked
    assert got["hosts"].items == ("web1", "web2", "")  # a field per item, and one to add
    assert got["service"].value == ""
    assert got["service"].required
    assert not got["replicas"].required
    assert got["service"].description == "the service to deploy"


def test_enum_select_marks_the_default(runbook: Runbook) -> None:
    env = fields(runbook)["env"]
    assert [(o.value, o.selected) for o in env.options] == [
        ("staging", True),
        ("production", False),
    ]


def test_enum_without_default_starts_with_an_empty_choice(runbook: Runbook) -> None:
    region = fields(runbook)["region"]
    assert [(o.value, o.selected) for o in region.options] == [
        ("", True),
        ("eu", False),
        ("us", False),
    ]


def test_number_inputs_carry_bounds_and_step(runbook: Runbook) -> None:
    got = fields(runbook)
    assert (got["replicas"].min, got["replicas"].max, got["replicas"].step) == ("1", "10", "1")
    assert (got["ratio"].min, got["ratio"].max, got["ratio"].step) == ("0.5", None, "any")
    assert "from 1 to 10" in got["replicas"].hint


def test_text_inputs_carry_lengths_and_pattern_in_the_hint(runbook: Runbook) -> None:
    service = fields(runbook)["service"]
    assert service.maxlength == 20
    assert "matching [a-z-]+" in service.hint


def test_a_secret_field_is_never_filled() -> None:
    rb = load_text(
        SOURCE.replace(
            "token: {type: string, secret: true}",
            "token: {type: string, secret: true, default: hunter2}",
        ),
        "<test>",
    ).runbook
    token = fields(rb)["token"]
    assert token.value == ""
    assert token.secret
    again = fields(rb, entered={"token": "hunter2"})["token"]
    assert again.value == ""


def test_entered_values_and_errors_come_back(runbook: Runbook) -> None:
    got = fields(
        runbook,
        entered={"service": "API!", "replicas": "99", "env": "production", "dry_run": "false"},
        errors={"service": "parameter 'service': no"},
    )
    assert got["service"].value == "API!"
    assert got["service"].error == "parameter 'service': no"
    assert got["replicas"].value == "99"
    assert got["replicas"].error is None
    assert [o.value for o in got["env"].options if o.selected] == ["production"]
    assert not got["dry_run"].checked


# --------------------------------------------------------------------------- parsing


def test_a_valid_form_gives_typed_values(runbook: Runbook) -> None:
    got = parse_form(
        runbook, form(**VALID, replicas="3", hosts="web1\n\n  web3 \n", ports="80\n443")
    )
    assert got.ok, got.errors
    assert got.values == {
        "service": "api",
        "env": "staging",
        "region": "eu",
        "replicas": 3,
        "ratio": None,
        "dry_run": True,
        "notify": False,
        "hosts": ["web1", "web3"],
        "ports": [80, 443],
        "token": "s3cr3t",
        "keys": None,
    }
    assert got.given["token"] == "s3cr3t"
    assert got.given["hosts"] == ["web1", "web3"]


def test_given_values_start_a_run_as_the_cli_would(runbook: Runbook) -> None:
    got = parse_form(runbook, form(**VALID, replicas="3"))
    assert resolve_params(runbook, got.given, from_text=True) == got.values


def test_empty_fields_are_not_given(runbook: Runbook) -> None:
    got = parse_form(runbook, form(**VALID, replicas="", hosts="\n \n", ratio=" "))
    assert got.ok, got.errors
    assert got.values["replicas"] == 2
    assert got.values["hosts"] == ["web1", "web2"]
    assert got.values["ratio"] is None
    assert "replicas" not in got.given


def test_an_unticked_checkbox_is_false_even_with_a_true_default(runbook: Runbook) -> None:
    values = dict(VALID)
    del values["dry_run"]
    got = parse_form(runbook, form(**values))
    assert got.values["dry_run"] is False
    assert got.entered["dry_run"] == "false"


@pytest.mark.parametrize(
    ("field", "value", "pair"),
    [
        ("replicas", "99", "replicas=99"),
        ("replicas", "two", "replicas=two"),
        ("replicas", "0", "replicas=0"),
        ("ratio", "0.1", "ratio=0.1"),
        ("ratio", "nan", "ratio=nan"),
        ("service", "API!", "service=API!"),
        ("service", "a" * 21, "service=" + "a" * 21),
        ("env", "prod", "env=prod"),
        ("ports", "80\nhttp", "ports=80,http"),
    ],
)
def test_messages_are_the_clis(runbook: Runbook, field: str, value: str, pair: str) -> None:
    got = parse_form(runbook, form(**{**VALID, field: value}))
    assert got.errors == {field: cli_error(runbook, *_valid_pairs(but=field), pair)}


def _valid_pairs(but: str) -> list[str]:
    return [f"{k}={v}" for k, v in VALID.items() if k != but]


def test_a_missing_required_field_says_what_the_cli_says(runbook: Runbook) -> None:
    got = parse_form(runbook, form(**{**VALID, "service": ""}))
    assert got.errors == {"service": cli_error(runbook, "region=eu", "token=x")}
    assert "is required" in got.errors["service"]


def test_every_wrong_field_has_its_message(runbook: Runbook) -> None:
    got = parse_form(
        runbook, form(service="", region="", replicas="11", ports="x", token="", dry_run="true")
    )
    assert set(got.errors) == {"service", "region", "replicas", "ports", "token"}
    assert got.errors["replicas"] == "parameter 'replicas': expected at most 10, got 11"
    assert not got.ok
    assert got.values == {}


def test_entered_values_keep_what_was_typed_but_no_secret(runbook: Runbook) -> None:
    got = parse_form(runbook, form(**{**VALID, "replicas": "99", "hosts": "a\nb"}))
    assert got.entered["replicas"] == "99"
    assert got.entered["hosts"] == "a\nb"
    assert got.entered["token"] == ""
    assert "s3cr3t" not in repr(got.entered)
    assert "s3cr3t" not in repr(build_fields(runbook, got.entered, got.errors))


def test_a_secret_list_is_read_as_the_cli_reads_it(runbook: Runbook) -> None:
    got = parse_form(runbook, form(**VALID, keys="k1, k2"))
    assert got.values["keys"] == ["k1", "k2"]
    got = parse_form(runbook, form(**VALID, keys='["a,b"]'))
    assert got.values["keys"] == ["a,b"]


def test_a_list_item_may_hold_a_comma(runbook: Runbook) -> None:
    got = parse_form(runbook, form(**VALID, hosts="a,b\nc"))
    assert got.values["hosts"] == ["a,b", "c"]


def test_fields_of_other_names_and_files_are_ignored(runbook: Runbook) -> None:
    items = [*form(**VALID).multi_items(), ("service", "other"), ("p.nope", "1")]
    got = parse_form(runbook, FormData(items))
    assert got.ok
    assert got.values["service"] == "api"
    assert "nope" not in got.given


def test_a_runbook_without_parameters_has_an_empty_form() -> None:
    rb = load_text(
        "apiVersion: runbook/v1\nname: bare\nversion: 1\n"
        "steps:\n  - {id: one, action: log, with: {message: hi}}\n",
        "<test>",
    ).runbook
    assert build_fields(rb) == []
    got = parse_form(rb, FormData([]))
    assert got.ok
    assert got.values == {}


def test_a_refused_secret_is_not_quoted_back() -> None:
    rb = load_text(
        SOURCE.replace(
            "token: {type: string, secret: true}",
            'token: {type: string, secret: true, pattern: "[0-9]{4}"}',
        ),
        "<test>",
    ).runbook
    got = parse_form(rb, form(**{**VALID, "token": "hunter2"}))
    cli = cli_error(rb, *_valid_pairs(but="token"), "token=hunter2")
    assert "'hunter2'" in cli  # the CLI quotes it, to the terminal it was typed on
    assert got.errors == {"token": cli.replace("'hunter2'", "'***'")}
    assert "hunter2" not in repr(build_fields(rb, got.entered, got.errors))


def test_a_list_is_repeated_fields_and_add_another_gives_one_more(runbook: Runbook) -> None:
    got = parse_form(runbook, form(**VALID, hosts=["web1", " ", "web3"]))
    assert got.ok, got.errors
    assert got.values["hosts"] == ["web1", "web3"]  # a blank field is no item
    again = {f.name: f for f in build_fields(runbook, got.entered, more="hosts")}
    assert again["hosts"].items == ("web1", "web3", "", "")
    assert {f.name: f for f in build_fields(runbook, got.entered)}["hosts"].items == (
        "web1",
        "web3",
        "",
    )
