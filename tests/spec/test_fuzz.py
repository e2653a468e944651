"""Property: whatever text it is given, the loader returns a runbook or raises RunbookInvalid.

Never a traceback of another kind: ``runbook validate`` must turn every input into problems with
a message. The inputs are arbitrary text, random data dumped as YAML, and a valid runbook mutated
in its structure (keys deleted, duplicated, renamed; values replaced by random data) and then in
its text (truncated, characters and YAML/template fragments inserted).
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook_engine.errors import RunbookInvalid
from runbook_engine.spec import LoadedRunbook, load_text

from ._samples import FULL

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: each example loads a whole runbook (~20 ms): fewer examples keep the suite fast
FUZZ_RUNBOOK = settings(FUZZ, max_examples=200)

BASE: dict[str, Any] = yaml.safe_load(FULL)
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump(data: Any, *, flow: bool) -> str:
    return yaml.dump(
        data, Dumper=Dumper, default_flow_style=flow, allow_unicode=True, sort_keys=False
    )


#: pieces that mean something to YAML, to the format or to templates
YAML_BITS = [":", ": ", "- ", "\n", "\n  ", "  ", "\t", "{", "}", "[", "]", ",", "'", '"', "#"]
YAML_TAGS = ["? ", "&a ", "*a", "<<: ", "!!int ", "!!binary ", "!!timestamp ", "!x ", "|", ">"]
TEMPLATE_BITS = ["{{", "}}", "{%", "%}", "{#", "(", ")", "steps.", "params.", ".__class__"]
FORMAT_WORDS = ["id", "action", "goto", "branch", "parallel", "approval", "with", "if", "end"]
ODD_VALUES = ["1h30m", "-1", "1e999", "9" * 30, "\\ud800", "\x00", "\x85", "\ufeff", "é", "---"]
FRAGMENTS = [*YAML_BITS, *YAML_TAGS, *TEMPLATE_BITS, *FORMAT_WORDS, *ODD_VALUES]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(FRAGMENTS),
    st.sampled_from(["log", "end", "check", "drain", "{{ params.host }}", "5m", "enum", "list"]),
)
json_like = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=10), inner, max_size=4),
    ),
    max_leaves=20,
)


def assert_loads_or_invalid(text: str) -> None:
    outcome: LoadedRunbook | RunbookInvalid
    try:
        outcome = load_text(text, "fuzz.yaml")
    except RunbookInvalid as exc:
        outcome = exc
    if isinstance(outcome, LoadedRunbook):
        return
    assert outcome.problems
    for problem in outcome.problems:
        assert isinstance(problem.message, str)
        assert problem.message.strip()
        assert problem.file == "fuzz.yaml"
    assert str(outcome)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*path, key)))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out.extend(_paths(child, (*path, i)))
    return out


def _container(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


@st.composite
def mutated_data(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _container(data, path[:-1])
        last = path[-1]
        op = draw(st.sampled_from(["delete", "rename", "replace", "duplicate"]))
        if op == "delete":
            del parent[last]
        elif op == "replace":
            parent[last] = draw(json_like)
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(last, parent[last])  # e.g. two steps with the same id
        elif isinstance(parent, dict):
            new_key = draw(st.one_of(st.text(max_size=12), st.sampled_from(FRAGMENTS)))
            # rename: a typo, another key of the format, or noise; duplicate: copy to a new key
            parent[new_key] = parent[last] if op == "duplicate" else parent.pop(last)
    return data


@st.composite
def text_mutations(draw: st.DrawFn, text: str) -> str:
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["truncate", "insert", "duplicate-line", "delete-span"]))
        at = draw(st.integers(0, len(text)))
        if op == "truncate":
            text = text[:at]
        elif op == "insert":
            piece = draw(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=5)))
            text = text[:at] + piece + text[at:]
        elif op == "duplicate-line":
            lines = text.splitlines(keepends=True)
            if lines:
                i = draw(st.integers(0, len(lines) - 1))
                lines.insert(i, lines[i])  # a duplicate key, or a repeated list item
                text = "".join(lines)
        else:
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
    return text


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text(text: str) -> None:
    assert_loads_or_invalid(text)


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join))
def test_fragment_soup(text: str) -> None:
    assert_loads_or_invalid(text)


@FUZZ
@given(json_like, st.booleans())
def test_random_data_as_yaml(data: Any, flow: bool) -> None:
    assert_loads_or_invalid(dump(data, flow=flow))


@FUZZ_RUNBOOK
@given(st.data())
def test_mutated_runbook(data: st.DataObject) -> None:
    document = data.draw(mutated_data())
    flow = data.draw(st.booleans())
    text = dump(document, flow=flow)
    assert_loads_or_invalid(data.draw(text_mutations(text)))


@FUZZ_RUNBOOK
@given(st.data())
def test_mutated_runbook_text(data: st.DataObject) -> None:
    assert_loads_or_invalid(data.draw(text_mutations(FULL)))


def test_the_unmutated_base_is_valid() -> None:
    assert load_text(FULL).runbook.name == BASE["name"]


# --------------------------------------------------------------------------- `with:` blocks

#: one call of each family whose checks go deepest (literal, templated, plugin-specific)
WITH_BASE: dict[str, Any] = yaml.safe_load(
    """
apiVersion: runbook/v1
name: calls
version: 1
parameters:
  n: {type: integer, default: 2}
  host: {type: string, default: web01}
steps:
  - id: sh
    action: shell.command
    with: {command: "echo {{ params.host | quote }}", timeout: 5s}
    rollback: {action: log, with: {message: undo}}
  - id: ssh
    action: ssh.command
    with: {hosts: "web[01:02],!web02", command: [uptime], batch: "50%"}
  - id: aws
    action: aws.call
    with: {service: ec2, operation: DescribeInstances, params: {InstanceIds: ["{{ params.host }}"]}}
  - id: group
    parallel:
      - id: asg
        action: scaling.asg
        with: {group: web, desired_capacity: "{{ params.n }}", limits: {max_change: 2}}
      - id: wait
        action: aws.wait
        with: {service: ec2, waiter: instance_running, params: {InstanceIds: [i-1]}}
"""
)


def assert_checks_cleanly(text: str) -> None:
    """The whole check (format and actions) gives a runbook or located problems, never a
    traceback, whatever the ``with:`` blocks hold."""
    from runbook_engine.inventory import Inventory
    from runbook_engine.plugin import StaticContext, default_registry
    from runbook_engine.preflight import check_text

    ctx = StaticContext(Inventory.empty)
    loaded, report = check_text(text, "fuzz.yaml", default_registry(), ctx)
    for problem in [*report.errors, *report.warnings]:
        assert isinstance(problem.message, str)
        assert problem.message.strip()
        assert problem.file == "fuzz.yaml"
        assert str(problem)
    if loaded is None:
        assert report.errors


def _with_paths(data: Any) -> list[tuple[Any, ...]]:
    """The paths inside every ``with:`` block (and the blocks themselves)."""
    return [p for p in _paths(data) if "with" in p]


@st.composite
def mutated_with(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(WITH_BASE)
    for _ in range(draw(st.integers(1, 4))):
        paths = _with_paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _container(data, path[:-1])
        last = path[-1]
        op = draw(st.sampled_from(["delete", "rename", "replace"]))
        if op == "delete":
            del parent[last]
        elif op == "replace":
            parent[last] = draw(json_like)
        elif isinstance(parent, dict):
            new_key = draw(st.one_of(st.text(max_size=12), st.sampled_from(FRAGMENTS)))
            parent[new_key] = parent.pop(last)
    return data


def test_the_unmutated_calls_check_cleanly() -> None:
    from runbook_engine.plugin import StaticContext, default_registry
    from runbook_engine.preflight import check_text

    loaded, report = check_text(
        dump(WITH_BASE, flow=False), "x", default_registry(), StaticContext()
    )
    assert loaded is not None
    assert report.errors == [], report.errors


@FUZZ_RUNBOOK
@given(st.data())
def test_mutated_with_blocks(data: st.DataObject) -> None:
    document = data.draw(mutated_with())
    text = dump(document, flow=data.draw(st.booleans()))
    assert_checks_cleanly(text)


@FUZZ_RUNBOOK
@given(st.data())
def test_mutated_with_blocks_text(data: st.DataObject) -> None:
    text = dump(data.draw(mutated_with()), flow=False)
    assert_checks_cleanly(data.draw(text_mutations(text)))
