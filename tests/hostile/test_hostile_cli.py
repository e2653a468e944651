"""The ``runbook`` command on hostile input (issue 14, point 11).

Parameter values and templates come from hypothesis strategies: control characters, invalid
UTF-8, huge and empty text, Jinja syntax and JSON-breaking text in values; templates that
loop, repeat, recurse and produce values that are not JSON. Whatever the input:

* nothing prints a traceback;
* the run ends in a terminal state, or waits with a reason, and the exit code says which;
* no form of the secret parameter is in the store's files or in anything printed.

Each example is a real process on a fresh SQLite store, so the examples are few and fixed
(``derandomize``): the suite is a regression net, not a search.
"""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from runbook_engine.core.statuses import ROLLED_BACK
from tests.hostile.hostile_cli import (
    assert_settled,
    derived_forms,
    leaks,
    plain_forms,
    sandbox,
)

EXAMPLES = settings(
    max_examples=10,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    # each example is two processes: shrinking a failure would take minutes; the failing
    # example is printed as found
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)

# mixed case and long enough that its upper, lower and base64 forms are all distinct texts
secrets = st.text(string.ascii_letters + string.digits, min_size=10, max_size=20).map(
    lambda s: "Tk" + s + "zQ"
)

SPECIAL = [
    "{{ 7*7 }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ params.token }}",
    '"}, "status": "succeeded"',
    "\\u0000\\",
    "$(echo pwned); `id`; ' \" ;",
    "\u202e\u200b\ufeff",
    "\x1b[2J\x1b]0;title\x07",
    "\r\n\t\x0b\x0c",
    "NaN",
    "1e999",
    "a" * 100_000,
    "",
]

values = st.one_of(
    st.sampled_from(SPECIAL).map(lambda s: s.encode()),
    # any text but NUL (which no command line can hold) and lone surrogates
    st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=300
    ).map(lambda s: s.encode()),
    # bytes that are not UTF-8 at all
    st.binary(max_size=60).filter(lambda b: b"\x00" not in b),
)

VALUES_RUNBOOK = """\
apiVersion: runbook/v1
name: values
version: 1
parameters:
  value: {type: string}
  token: {type: string, secret: true}
steps:
  - id: echo
    action: shell.command
    with: {command: "printf '%s\\\\n' {{ params.value | quote }}"}
    outputs: {text: "{{ result.stdout }}"}
  - id: again
    action: log
    with:
      message: "v={{ steps.echo.outputs.text }} {{ params.value }} {{ params.value | to_json }}"
  - id: secret
    action: shell.command
    with:
      command: >-
        printf '%s %s %s\\\\n' {{ params.token | quote }} {{ params.token | upper | quote }}
        {{ params.token | lower | quote }}; printf %s {{ params.token | quote }} | base64
  - id: derived
    action: log
    with: {message: "{{ params.token | upper }} {{ params.token | lower }} {{ params.token[2:] }}"}
"""


@EXAMPLES
@given(value=values, secret=secrets)
def test_hostile_parameter_values(value: bytes, secret: str) -> None:
    with sandbox(secret) as box:
        box.write("values", VALUES_RUNBOOK)
        done, run = box.run("values", [b"value=" + value])
        if run is not None:
            assert_settled(done, run)
        assert leaks(box, plain_forms(secret)) == []


# ------------------------------------------------------------------ templates


def _expressions() -> st.SearchStrategy[str]:
    leaves = st.sampled_from(
        [
            "params.value",
            "params.token",
            "'a'",
            "'\\udcff'",
            "[1, 2]",
            "{'k': 1}",
            "cycler",
            "range(3)",
            "10**8",
            "2**70",
            "'nan' | float",
            "100000",
            "-1",
        ]
    )
    forms = [
        "({} * {})",
        "({} ~ {})",
        "({} + {})",
        "({} ** {})",
        "[{}, {}]",
        "{{'a': {}, 'b': {}}}",
        "({} | map('string') if {} else 1)",
        "range({}, {})",
    ]
    one = [
        "({} | upper)",
        "({} | list)",
        "({} | map('upper'))",
        "({} | select)",
        "({} | center(1000000000))",
        "('{{:>999999999}}'.format({}))",
        "({} | to_json)",
    ]

    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        two = st.tuples(st.sampled_from(forms), inner, inner).map(lambda t: t[0].format(t[1], t[2]))
        single = st.tuples(st.sampled_from(one), inner).map(lambda t: t[0].format(t[1]))
        return two | single

    return st.recursive(leaves, grow, max_leaves=6)


templates = st.one_of(
    _expressions().map(lambda e: "{{ " + e + " }}"),
    st.tuples(_expressions(), _expressions()).map(
        lambda t: (
            "{% for i in range(100000) %}{% for j in " + t[0] + " %}{{ " + t[1] + " }}"
            "{% endfor %}{% endfor %}"
        )
    ),
    _expressions().map(lambda e: "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(" + e + ") }}"),
)


def _templates_runbook(first: str, second: str) -> str:
    # JSON is YAML: the templates go in as JSON strings, whatever characters they hold
    return f"""\
apiVersion: runbook/v1
name: templates
version: 1
parameters:
  value: {{type: string, default: "{{{{ 7*7 }}}}"}}
  token: {{type: string, secret: true}}
steps:
  - id: first
    action: log
    timeout: 1s
    on_failure: continue
    with: {{message: {json.dumps(first)}}}
  - id: second
    action: shell.command
    timeout: 1s
    with: {{command: 'printf "%s\\n" "$X"', env: {{X: {json.dumps(second)}}}}}
    rollback:
      action: log
      with: {{message: undone}}
"""


@EXAMPLES
@given(first=templates, second=templates, secret=secrets)
def test_hostile_templates(first: str, second: str, secret: str) -> None:
    with sandbox(secret) as box:
        box.write("templates", _templates_runbook(first, second))
        done, run = box.run("templates")
        if run is not None:
            assert_settled(done, run)
        assert leaks(box, plain_forms(secret)) == []


# ------------------------------------------------------------------ the issue's cases

ISSUE_RUNBOOK = """\
apiVersion: runbook/v1
name: issue
version: 1
parameters:
  token: {type: string, secret: true}
steps:
  - id: first
    action: shell.command
    with: {command: "echo first"}
    rollback:
      action: shell.command
      with: {command: "echo undo-first"}
  - id: generator
    action: shell.command
    on_failure: continue
    with: {command: "echo {{ ['a', 'b'] | map('upper') | join(' ') }}", env: {X: "{{ range(3) }}"}}
  - id: repeat
    action: log
    on_failure: continue
    with: {message: "{{ 'a' * 10**8 }}"}
  - id: forever
    action: log
    timeout: 1s
    on_failure: continue
    with:
      message: "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
  - id: big
    action: log
    with: {message: "{{ 2**70 }}"}
"""


def test_the_issue_templates_fail_their_steps_and_the_run_rolls_back() -> None:
    with sandbox("TkIssueSecret42zQ") as box:
        box.write("issue", ISSUE_RUNBOOK)
        done, run = box.run("issue")
        assert run is not None
        assert_settled(done, run)
        assert run["status"] == ROLLED_BACK and done.code == 1
        kinds = {
            e["data"]["step"]: e["data"]["error"]["kind"]
            for e in run["events"]
            if e["type"] == "step.failed"
        }
        assert kinds == {
            "generator": "input",
            "repeat": "template",
            "forever": "template",
            "big": "template",
        }
        assert [
            e["data"]["step"] for e in run["events"] if e["type"] == "rollback.step_succeeded"
        ] == ["first"]
        # resume reads the recorded history back: it says how the run ended, and never crashes
        resumed = box.cli("resume", run["id"])
        assert resumed.code == done.code and b"rolled_back" in resumed.out
        assert leaks(box, plain_forms(box.secret)) == []


# ------------------------------------------------------------------ derived secret forms


@settings(
    max_examples=3,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(secret=secrets)
def test_derived_secret_forms_never_reach_the_store(secret: str) -> None:
    with sandbox(secret) as box:
        box.write("values", VALUES_RUNBOOK)
        done, run = box.run("values", [b"value=plain"])
        assert run is not None
        assert_settled(done, run)
        assert leaks(box, plain_forms(secret) + derived_forms(secret)) == []


@pytest.fixture(autouse=True)
def _no_stray_secret_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # the CLI gets exactly the environment the sandbox builds; nothing of the caller's
    monkeypatch.delenv("RUNBOOK_SECRET_TOKEN", raising=False)
