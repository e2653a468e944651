"""``triggers:`` in the runbook format: what loads, and every refusal with file, line, field."""

from __future__ import annotations

import textwrap

import pytest

from runbook_engine.errors import Problem, RunbookInvalid
from runbook_engine.spec import load_text
from runbook_engine.spec.models import Matcher
from tests.triggers._runbooks import disk

FILE = "runbooks/alerted.yaml"

HEAD = """\
apiVersion: runbook/v1
name: alerted
version: 1
parameters:
  host: {type: string}
  count: {type: integer, default: 1}
steps:
  - {id: a, action: log, with: {message: hi}}
triggers:
"""


def problems(triggers: str) -> list[Problem]:
    with pytest.raises(RunbookInvalid) as info:
        load_text(HEAD + textwrap.indent(textwrap.dedent(triggers), "  "), FILE)
    assert all(p.file == FILE for p in info.value.problems)
    return info.value.problems


def only(triggers: str) -> Problem:
    [problem] = problems(triggers)
    return problem


def test_a_runbook_with_triggers_loads() -> None:
    runbook = disk().runbook
    first, second = runbook.triggers
    assert first.source == "alertmanager"
    assert first.spec.match == {
        "alertname": Matcher(equals="DiskFull"),
        "instance": Matcher(regex="(web|db)-[0-9]+:9100"),
        "severity": Matcher(equals="page"),
    }
    assert first.spec.on_resolved == "cancel"
    assert first.spec.cooldown == 600.0
    assert first.spec.max_concurrent == 2
    assert second.source == "webhook"
    assert second.webhook is not None and second.webhook.name == "disk"
    assert second.spec.match == {}
    assert second.spec.on_resolved == "ignore"
    assert second.spec.cooldown is None


def test_a_runbook_without_triggers_has_none() -> None:
    assert load_text(HEAD.replace("triggers:\n", ""), FILE).runbook.triggers == []


def test_equals_matches_a_value_that_starts_with_the_regex_prefix() -> None:
    doc = "- alertmanager: {match: {x: {equals: '~tilde'}}, params: {host: h}}\n"
    loaded = load_text(HEAD + textwrap.indent(doc, "  "), FILE)
    assert loaded.runbook.triggers[0].spec.match["x"] == Matcher(equals="~tilde")


def test_an_unknown_key_is_located_with_a_suggestion() -> None:
    p = only(
        """\
        - alertmanager:
            match: {alertname: X}
            params: {host: h}
            on_resolve: cancel
        """
    )
    assert (p.line, p.path) == (13, "triggers[0].alertmanager.on_resolve")
    assert "did you mean 'on_resolved'" in p.message


def test_a_misspelt_source_is_an_unknown_field() -> None:
    p = only("- alertmanagr: {match: {alertname: X}, params: {host: h}}\n")
    assert (p.line, p.path) == (10, "triggers[0].alertmanagr")
    assert "did you mean 'alertmanager'" in p.message


def test_two_sources_in_one_trigger() -> None:
    p = only(
        """\
        - alertmanager: {match: {a: b}, params: {host: h}}
          sns: {match: {a: b}, params: {host: h}}
        """
    )
    assert (p.line, p.path) == (10, "triggers[0]")
    assert "exactly one of: alertmanager, pagerduty, sns, webhook; found alertmanager, sns" in (
        p.message
    )


def test_no_source_in_a_trigger() -> None:
    p = only("- {}\n")
    assert p.path == "triggers[0]" and "exactly one of" in p.message


def test_params_naming_an_undeclared_parameter() -> None:
    p = only(
        """\
        - alertmanager:
            match: {alertname: X}
            params:
              host: h
              cuont: "{{ alert.labels.n }}"
        """
    )
    assert (p.line, p.path) == (14, "triggers[0].alertmanager.params.cuont")
    assert "unknown parameter 'cuont'; did you mean 'count'?" in p.message


def test_a_template_that_does_not_parse() -> None:
    p = only("- pagerduty: {match: {a: b}, params: {host: '{{ alert.labels.x }'}}\n")
    assert (p.line, p.path) == (10, "triggers[0].pagerduty.params.host")
    assert p.message.startswith("template syntax error")


def test_a_template_reading_something_other_than_the_alert() -> None:
    p = only("- sns: {match: {a: b}, params: {host: '{{ params.count }}'}}\n")
    assert p.path == "triggers[0].sns.params.host"
    assert "reads only `alert`" in p.message and "'params'" in p.message


def test_a_template_reading_a_field_an_alert_does_not_have() -> None:
    p = only("- sns: {match: {a: b}, params: {host: '{{ alert.lables.x }}'}}\n")
    assert "alert.lables" in p.message and "did you mean 'labels'?" in p.message


def test_a_constant_that_does_not_fit_its_parameter() -> None:
    p = only("- sns: {match: {a: b}, params: {host: h, count: many}}\n")
    assert p.path == "triggers[0].sns.params.count" and "expected an integer" in p.message


def test_a_required_parameter_left_out() -> None:
    p = only("- sns: {match: {a: b}}\n")
    assert p.path == "triggers[0].sns" and "required parameter 'host'" in p.message


def test_a_regex_that_does_not_compile() -> None:
    p = only(
        """\
        - alertmanager:
            match:
              instance: "~web-[0-9"
            params: {host: h}
        """
    )
    assert (p.line, p.column) == (12, 19)
    assert p.path.startswith("triggers[0].alertmanager.match.instance")
    assert "not a valid regular expression" in p.message


@pytest.mark.parametrize("regex", ["(a+)+", "(.*)*x", "(?:x|y+)*", "(a{1,500})+", "(a|aa)*"])
def test_a_regex_that_can_take_exponential_time(regex: str) -> None:
    p = only(f"- alertmanager: {{match: {{instance: '~{regex}'}}, params: {{host: h}}}}\n")
    assert p.path == "triggers[0].alertmanager.match.instance"
    assert "exponential time" in p.message


@pytest.mark.parametrize("regex", ["(web|db)-[0-9]+", "(a|b)*", "[a-z]+.*", "(?:ab)+", "x{1,5}"])
def test_regexes_that_stay_linear_are_accepted(regex: str) -> None:
    doc = f"- alertmanager: {{match: {{instance: '~{regex}'}}, params: {{host: h}}}}\n"
    assert load_text(HEAD + textwrap.indent(doc, "  "), FILE).runbook.triggers


def test_a_backreference() -> None:
    p = only(r"- alertmanager: {match: {instance: '~(a)\1'}, params: {host: h}}" + "\n")
    assert "backreferences" in p.message


def test_a_number_as_a_label_value() -> None:
    p = only("- alertmanager: {match: {code: 500}, params: {host: h}}\n")
    assert p.path == "triggers[0].alertmanager.match.code" and "quote it ('500')" in p.message


def test_a_matcher_with_both_forms() -> None:
    p = only("- alertmanager: {match: {x: {equals: a, regex: b}}, params: {host: h}}\n")
    assert "exactly one of `equals` and `regex`" in p.message


def test_no_matcher_at_all() -> None:
    p = only("- alertmanager: {match: {}, params: {host: h}}\n")
    assert p.path == "triggers[0].alertmanager.match" and "at least one" in p.message


def test_a_webhook_needs_its_name() -> None:
    p = only("- webhook: {params: {host: h}}\n")
    assert p.path == "triggers[0].webhook" and "name" in p.message


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("on_resolved", "stop", "'ignore' or 'cancel'"),
        ("cooldown", "10 minutes", "duration"),
        ("max_concurrent", "0", "greater than or equal to 1"),
    ],
)
def test_bad_settings(field: str, value: str, expected: str) -> None:
    p = only(f"- alertmanager: {{match: {{a: b}}, params: {{host: h}}, {field}: {value}}}\n")
    assert p.path == f"triggers[0].alertmanager.{field}" and expected in p.message


def test_every_problem_at_once() -> None:
    found = problems(
        """\
        - alertmanager:
            match: {instance: "~[", code: 5}
            params: {hots: h, count: "{{ alert.x }}"}
        """
    )
    assert [p.line for p in found] == sorted(p.line or 0 for p in found)
    assert len(found) >= 4
