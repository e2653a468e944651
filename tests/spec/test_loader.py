"""Loading runbooks: valid documents, and every kind of mistake reported with file, line, column,
field path and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_engine.errors import RunbookInvalid
from runbook_engine.spec import (
    ActionStep,
    ApprovalStep,
    BranchStep,
    GotoStep,
    ParallelStep,
    iter_steps,
    load_file,
    load_text,
)

from ._samples import FILE, FULL, MINIMAL, load, one_problem, problems

# --------------------------------------------------------------------------- valid documents


def test_minimal_document_loads_with_defaults() -> None:
    loaded = load(MINIMAL)
    rb = loaded.runbook
    assert (rb.name, rb.version, rb.api_version) == ("hello", 1, "runbook/v1")
    assert loaded.ref == "hello@1"
    assert loaded.file == FILE
    assert loaded.source == MINIMAL
    assert loaded.digest.startswith("sha256:")
    assert len(loaded.digest) == len("sha256:") + 64
    assert loaded.document["steps"][0]["with"] == {"message": "hello"}
    assert rb.parameters == {}
    assert rb.permissions.run == []
    assert rb.permissions.approve == []
    assert rb.concurrency is None
    assert rb.notify is None
    assert rb.schedule == []
    assert rb.max_step_visits == 20
    (step,) = rb.steps
    assert isinstance(step, ActionStep)
    assert step.id == "say"
    assert step.action == "log"
    assert step.with_ == {"message": "hello"}
    assert step.if_ is None
    assert step.outputs == {}
    assert step.rollback is None
    assert step.timeout is None
    assert step.on_failure == "rollback"
    assert (step.retry.attempts, step.retry.delay, step.retry.backoff) == (1, 1.0, 1.0)
    assert step.retry.on == "retryable"
    assert step.retry.max_delay is None


def test_full_document_loads_every_part() -> None:
    loaded = load_text(FULL, FILE)
    rb = loaded.runbook
    assert loaded.ref == "restart-web@3"
    assert rb.owners == ["@sre", "alice"]

    params = rb.parameters
    assert params["host"].is_required
    assert params["host"].pattern == "^web-[0-9]+$"
    assert not params["count"].is_required
    assert params["count"].default == 2
    assert params["hosts"].default == ["web-1", "web-2"]
    assert params["hosts"].items == "string"
    assert params["env"].choices == ["staging", "prod"]
    assert params["token"].secret
    assert not params["token"].is_required

    assert rb.permissions.approve == ["@sre-leads"]
    assert rb.concurrency is not None
    assert rb.concurrency.on_conflict == "wait"
    assert rb.concurrency.wait_timeout == 600.0
    (schedule,) = rb.schedule
    assert schedule.timezone == "Europe/Paris"
    assert schedule.missed == "run_once"
    assert schedule.params == {"host": "web-1", "env": "prod"}
    assert rb.notify is not None
    assert rb.notify.on == ["start", "failure", "finish"]
    assert rb.max_step_visits == 5

    kinds = [type(step) for step in rb.steps]
    assert kinds == [
        ActionStep,
        GotoStep,
        ApprovalStep,
        ActionStep,
        ParallelStep,
        BranchStep,
        ActionStep,
    ]
    check, skip, approve, drain, restart, route, _verify = rb.steps
    assert isinstance(check, ActionStep)
    assert check.retry.attempts == 3
    assert check.retry.delay == 2.0
    assert check.retry.max_delay == 30
    assert check.retry.on == "any"
    assert check.retry.jitter == 0.1
    assert check.timeout == 30.0
    assert check.on_failure == "continue"
    assert check.output_templates() == {"healthy": "{{ result.exit_code == 0 }}"}
    assert isinstance(skip, GotoStep)
    assert skip.goto == "end"
    assert skip.if_ == "steps.check.outputs.healthy and not params.force"
    assert isinstance(approve, ApprovalStep)
    assert approve.approval.timeout == 3600.0
    assert approve.approval.on_timeout == "reject"
    assert isinstance(drain, ActionStep)
    assert drain.rollback is not None
    assert drain.rollback.timeout == 60.0
    assert drain.rollback.with_["command"].startswith("undrain")
    assert isinstance(restart, ParallelStep)
    assert [c.id for c in restart.parallel] == ["restart-app", "restart-worker"]
    assert restart.max_concurrency == 2
    assert restart.on_failure == "abort"
    assert isinstance(route, BranchStep)
    assert route.branch[0].goto == "verify"
    assert route.branch[1].if_ is None

    ids = [(s.id, group.id if group else None) for s, group in iter_steps(rb)]
    assert ("restart-app", "restart") in ids
    assert ("verify", None) in ids
    assert len(ids) == 9


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("1d", 86400),
        ("1m30s", 90),
        ("2.5s", 2.5),
        ("45", 45),
        (12, 12),
        (0.25, 0.25),
        ("1d2h3m4s5ms", 93784.005),
    ],
)
def test_durations(text: str | float, seconds: float) -> None:
    value = f'"{text}"' if isinstance(text, str) else text
    loaded = load(MINIMAL + f"    timeout: {value}\n")
    step = loaded.runbook.steps[0]
    assert isinstance(step, ActionStep)
    assert step.timeout == pytest.approx(seconds)


def test_load_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "hello.yaml"
    path.write_text(MINIMAL)
    assert load_file(path).file == str(path)
    path.write_text(MINIMAL.replace("version: 1", "version: 0"))
    with pytest.raises(RunbookInvalid) as info:
        load_file(path)
    assert str(info.value).startswith(f"{path}:3:10: version:")


def test_load_file_unreadable_and_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(RunbookInvalid, match="cannot read"):
        load_file(tmp_path / "missing.yaml")
    path = tmp_path / "latin1.yaml"
    path.write_bytes(MINIMAL.replace("hello}", "h\xe9llo}").encode("latin-1"))
    with pytest.raises(RunbookInvalid, match="not UTF-8"):
        load_file(path)


def test_yaml_merge_keys_and_anchors_are_read() -> None:
    loaded = load(
        """
        apiVersion: runbook/v1
        name: merge
        version: 1
        steps:
          - &base
            id: one
            action: log
            retry: {attempts: 2}
          - <<: *base
            id: two
        """
    )
    second = loaded.runbook.steps[1]
    assert isinstance(second, ActionStep)
    assert second.retry.attempts == 2


def test_yaml_boolean_words_as_keys_stay_names() -> None:
    # `on:` is a boolean in YAML 1.1; as a key it must stay the word "on"
    loaded = load(MINIMAL + "    retry: {attempts: 2, on: any}\n")
    step = loaded.runbook.steps[0]
    assert isinstance(step, ActionStep)
    assert step.retry.on == "any"


# --------------------------------------------------------------------------- YAML level


def test_yaml_syntax_error_has_position_and_no_traceback() -> None:
    problem = one_problem(
        """
        apiVersion: runbook/v1
        name: x
        version: 1
        steps:
          - id: a
            action: log
            with: {message: hi
        """
    )
    assert problem.message.startswith("YAML syntax error: ")
    assert "Traceback" not in problem.message
    assert "\n" not in problem.message
    assert (problem.line, problem.column) == (8, 1)
    assert str(problem) == f"{FILE}:8:1: {problem.message}"


def test_yaml_syntax_error_bad_indentation() -> None:
    problem = one_problem("apiVersion: runbook/v1\nname: x\n  version: 1\n")
    assert problem.message.startswith("YAML syntax error: mapping values are not allowed")
    assert (problem.line, problem.column) == (3, 10)


def test_yaml_tab_indentation() -> None:
    problem = one_problem("apiVersion: runbook/v1\nsteps:\n\t- id: a\n")
    assert "YAML syntax error" in problem.message
    assert problem.line == 3


def test_yaml_error_is_raised_without_chained_exception() -> None:
    with pytest.raises(RunbookInvalid) as info:
        load_text("a: [", FILE)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
def test_empty_file(text: str) -> None:
    problem = one_problem(text)
    assert problem.message == "YAML syntax error: the file is empty"
    assert (problem.line, problem.column) == (1, 1)


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- a\n- b\n", "a list"), ("hello\n", "a single string"), ("42\n", "a number")],
)
def test_document_that_is_not_a_mapping(text: str, kind: str) -> None:
    problem = one_problem(text)
    assert problem.message == (f"a runbook is a mapping (apiVersion, name, steps, ...), not {kind}")
    assert (problem.line, problem.column) == (1, 1)


def test_several_documents_in_one_file() -> None:
    problem = one_problem(MINIMAL + "---\n" + MINIMAL)
    assert "expected a single document" in problem.message
    assert problem.line == 8


def test_control_character_is_a_syntax_error_with_position() -> None:
    problem = one_problem(MINIMAL.replace("hello}", "hel\x01lo}"))
    assert problem.message.startswith("YAML syntax error: unacceptable character #x0001")
    assert (problem.line, problem.column) == (7, 24)


def test_value_tagged_with_an_impossible_type() -> None:
    problem = one_problem(MINIMAL.replace("version: 1", "version: !!int one"))
    assert problem.message.startswith("YAML syntax error: cannot read this value")
    assert (problem.line, problem.column) == (3, 10)


def test_deep_nesting_and_alias_bombs_are_refused() -> None:
    problem = one_problem("a: " + "[" * 100 + "]" * 100)  # our own limit, with a position
    assert problem.message == "YAML syntax error: the document nests too deeply"
    assert (problem.line, problem.column) == (1, 68)
    problem = one_problem("[" * 800 + "]" * 800)  # deeper than PyYAML's recursion can go
    assert problem.message == "YAML syntax error: the document nests too deeply"
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    problem = one_problem("\n".join(bomb) + "\n")
    assert "more than" in problem.message
    assert "values" in problem.message


def test_file_too_large() -> None:
    problem = one_problem(MINIMAL + "#" * 1_000_001)
    assert "larger than" in problem.message


# --------------------------------------------------------------------------- unknown keys


def test_unknown_top_level_key_suggests() -> None:
    problem = one_problem(MINIMAL.replace("version: 1", "version: 1\ndescripton: typo"))
    assert problem.message == "unknown field 'descripton'; did you mean 'description'?"
    assert (problem.line, problem.column, problem.path) == (4, 1, "descripton")


def test_unknown_key_without_close_match_lists_the_allowed_keys() -> None:
    problem = one_problem(MINIMAL.replace("version: 1", "version: 1\nzzz: 1"))
    assert problem.message.startswith("unknown field 'zzz' (expected one of: apiVersion, name,")
    assert "steps" in problem.message


def test_unknown_key_in_a_step() -> None:
    problem = one_problem(MINIMAL + "    timout: 5s\n")
    assert problem.message == "unknown field 'timout'; did you mean 'timeout'?"
    assert (problem.line, problem.column, problem.path) == (8, 5, "steps[0].timout")


def test_misspelt_step_kind_points_at_the_key() -> None:
    found = problems(MINIMAL.replace("action: log", "acton: log"))
    typo = next(p for p in found if p.path == "steps[0].acton")
    assert typo.message == "unknown field 'acton'; did you mean 'action'?"
    assert (typo.line, typo.column) == (6, 5)


@pytest.mark.parametrize(
    ("extra", "path", "message", "line", "column"),
    [
        (
            "    retry: {attempts: 2, dealy: 3s}\n",
            "steps[0].retry.dealy",
            "unknown field 'dealy'; did you mean 'delay'?",
            8,
            26,
        ),
        (
            "    rollback:\n      action: log\n      wiht: {}\n",
            "steps[0].rollback.wiht",
            "unknown field 'wiht'; did you mean 'with'?",
            10,
            7,
        ),
        ("    with_: {}\n", "steps[0].with_", "unknown field 'with_'; did you mean 'with'?", 8, 5),
        ("    if_: params.x\n", "steps[0].if_", "unknown field 'if_'; did you mean 'if'?", 8, 5),
    ],
)
def test_unknown_key_in_nested_models(
    extra: str, path: str, message: str, line: int, column: int
) -> None:
    problem = one_problem(MINIMAL + extra)
    assert (problem.path, problem.message, problem.line, problem.column) == (
        path,
        message,
        line,
        column,
    )


def test_python_field_names_are_not_keys_of_the_format() -> None:
    problem = problems(MINIMAL.replace("apiVersion:", "api_version:"))
    assert {p.message for p in problem} >= {
        "missing required field 'apiVersion'",
        "unknown field 'api_version'; did you mean 'apiVersion'?",
    }


@pytest.mark.parametrize(
    ("block", "path", "suggestion"),
    [
        ("parameters:\n  p: {tpye: string}\n", "parameters.p.tpye", "type"),
        ("parameters:\n  p: {type: string, secrt: true}\n", "parameters.p.secrt", "secret"),
        ("permissions: {runs: [alice]}\n", "permissions.runs", "run"),
        ("concurrency: {lock: x, on_confict: wait}\n", "concurrency.on_confict", "on_conflict"),
        ("schedule:\n  - {cron: '0 6 * * 1', timezon: UTC}\n", "schedule[0].timezon", "timezone"),
        ("notify: {channel: '#ops', onn: [start]}\n", "notify.onn", "on"),
    ],
)
def test_unknown_key_in_runbook_level_blocks(block: str, path: str, suggestion: str) -> None:
    problem = one_problem(MINIMAL.replace("steps:\n", block + "steps:\n"))
    assert problem.path == path
    assert problem.message.endswith(f"did you mean {suggestion!r}?")
    assert problem.line == 3 + block.count("\n")  # the block's last line, where the key is


def test_unknown_key_in_approval_branch_case_and_parallel_child() -> None:
    found = problems(
        """
        apiVersion: runbook/v1
        name: x
        version: 1
        steps:
          - id: ask
            approval: {message: go on, aprovers: [alice]}
          - id: route
            branch:
              - {if: "true", goto: end, iff: x}
          - id: group
            parallel:
              - {id: one, action: log, retyr: {attempts: 2}}
        """
    )
    assert [(p.path, p.message, p.line) for p in found] == [
        ("steps[0].approval.aprovers", "unknown field 'aprovers'; did you mean 'approvers'?", 6),
        ("steps[1].branch[0].iff", "unknown field 'iff'; did you mean 'if'?", 9),
        ("steps[2].parallel[0].retyr", "unknown field 'retyr'; did you mean 'retry'?", 12),
    ]


# --------------------------------------------------------------------------- missing / types


def test_missing_required_top_level_fields() -> None:
    found = problems("apiVersion: runbook/v1\nname: x\n")
    assert {p.message for p in found} == {
        "missing required field 'version'",
        "missing required field 'steps'",
    }
    assert all((p.line, p.column) == (1, 1) for p in found)


def test_missing_required_field_in_a_step_points_at_the_step() -> None:
    found = problems(MINIMAL + "  - action: log\n")
    assert [(p.path, p.message, p.line, p.column) for p in found] == [
        ("steps[1]", "missing required field 'id'", 8, 5)
    ]


@pytest.mark.parametrize(
    ("step", "path", "field"),
    [
        ("{id: b, approval: {required: 2}}", "steps[1].approval", "message"),
        ("{id: b, branch: [{if: x}]}", "steps[1].branch[0]", "goto"),
        ("{id: b, action: log, rollback: {with: {}}}", "steps[1].rollback", "action"),
    ],
)
def test_missing_required_field_in_nested_models(step: str, path: str, field: str) -> None:
    found = problems(MINIMAL + f"  - {step}\n")
    assert [(p.path, p.message) for p in found] == [(path, f"missing required field {field!r}")]
    assert found[0].line == 8


def test_step_without_a_kind_and_step_with_two_kinds() -> None:
    found = problems(MINIMAL + "  - id: b\n  - id: c\n    action: log\n    goto: end\n")
    assert [(p.path, p.line, p.column) for p in found] == [("steps[1]", 8, 5), ("steps[2]", 9, 5)]
    assert found[0].message == (
        "a step needs exactly one of: action, approval, goto, branch, parallel, input"
    )
    assert found[1].message == (
        "a step has exactly one of action, approval, goto, branch, parallel; found action, goto"
    )


@pytest.mark.parametrize(
    ("old", "new", "path", "expected", "position"),
    [
        ("version: 1", "version: one", "version", "valid integer", (3, 10)),
        ("version: 1", "version: 0", "version", "greater than or equal to 1", (3, 10)),
        ("name: hello", "name: Hello World", "name", "should match pattern", (2, 7)),
        ("apiVersion: runbook/v1", "apiVersion: runbook/v2", "apiVersion", "'runbook/v1'", (1, 13)),
        ("  - id: say", "  - id: 9lives", "steps[0].id", "should match pattern", (5, 9)),
        (
            "    with: {message: hello}",
            "    with: [message]",
            "steps[0].with",
            "dictionary",
            (7, 11),
        ),
        (
            "    with: {message: hello}",
            "    on_failure: ignore",
            "steps[0].on_failure",
            "'rollback', 'continue' or 'abort'",
            (7, 17),
        ),
        (
            "    with: {message: hello}",
            "    retry: {attempts: many}",
            "steps[0].retry.attempts",
            "valid integer",
            (7, 23),
        ),
        (
            "    with: {message: hello}",
            "    retry: {attempts: 0}",
            "steps[0].retry.attempts",
            "greater than or equal to 1",
            (7, 23),
        ),
        (
            "    with: {message: hello}",
            "    retry: {jitter: 2}",
            "steps[0].retry.jitter",
            "less than or equal to 1",
            (7, 21),
        ),
        (
            "    with: {message: hello}",
            "    outputs: {x: 1}",
            "steps[0].outputs.x",
            "valid string",
            (7, 18),
        ),
    ],
)
def test_wrong_types_name_the_field_and_what_was_expected(
    old: str, new: str, path: str, expected: str, position: tuple[int, int]
) -> None:
    problem = one_problem(MINIMAL.replace(old, new))
    assert problem.path == path
    assert expected in problem.message
    assert (problem.line, problem.column) == position


def test_wrong_type_message_shows_the_value_given() -> None:
    problem = one_problem(MINIMAL.replace("version: 1", "version: one"))
    assert problem.message.endswith("(got 'one')")


def test_steps_must_be_a_non_empty_list() -> None:
    assert one_problem(MINIMAL.split("steps:")[0] + "steps: {id: a}\n").message == (
        "Input should be a valid list"
    )
    assert "at least 1 item" in one_problem(MINIMAL.split("steps:")[0] + "steps: []\n").message


def test_runbook_level_wrong_values() -> None:
    found = problems(
        MINIMAL.replace(
            "steps:\n",
            "max_step_visits: 0\n"
            "notify: {channel: '#ops', on: [start, bogus]}\n"
            "concurrency: {lock: x, on_conflict: queue}\n"
            "steps:\n",
        )
    )
    assert [(p.path, p.line) for p in found] == [
        ("max_step_visits", 4),
        ("notify.on[1]", 5),
        ("concurrency.on_conflict", 6),
    ]


# --------------------------------------------------------------------------- duplicates


def test_duplicate_yaml_keys_are_errors() -> None:
    found = problems(
        MINIMAL.replace("version: 1", "version: 1\nname: again") + "    action: echo\n"
    )
    assert [(p.path, p.message, p.line, p.column) for p in found] == [
        ("name", "duplicate key 'name'; the earlier value would be lost", 4, 1),
        ("steps[0].action", "duplicate key 'action'; the earlier value would be lost", 9, 5),
    ]


def test_duplicate_step_ids_including_parallel_groups() -> None:
    found = problems(
        """
        apiVersion: runbook/v1
        name: x
        version: 1
        steps:
          - id: a
            action: log
          - id: group
            parallel:
              - id: a
                action: log
              - id: b
                action: log
              - id: b
                action: log
          - id: group
            goto: end
        """
    )
    assert [(p.path, p.message, p.line, p.column) for p in found] == [
        ("steps[1].parallel[0].id", "duplicate step id 'a' (first defined on line 5)", 9, 13),
        ("steps[1].parallel[2].id", "duplicate step id 'b' (first defined on line 11)", 13, 13),
        ("steps[2].id", "duplicate step id 'group' (first defined on line 7)", 15, 9),
    ]


# --------------------------------------------------------------------------- goto / branch

GOTO_DOC = """
apiVersion: runbook/v1
name: x
version: 1
steps:
  - id: check
    action: log
  - id: jump
    goto: {target}
  - id: group
    parallel:
      - id: child
        action: log
  - id: last
    action: log
"""


@pytest.mark.parametrize("target", ["end", "check", "last", "group"])
def test_goto_known_targets_and_end(target: str) -> None:
    load(GOTO_DOC.format(target=target))


def test_goto_unknown_step_suggests() -> None:
    problem = one_problem(GOTO_DOC.format(target="lsat"))
    assert problem.message == "goto refers to unknown step 'lsat'; did you mean 'last'?"
    assert (problem.path, problem.line, problem.column) == ("steps[1].goto", 8, 11)


def test_goto_cannot_enter_a_parallel_group() -> None:
    problem = one_problem(GOTO_DOC.format(target="child"))
    assert problem.message == "goto cannot jump into parallel group 'group'"


def test_branch_targets_and_default_case_position() -> None:
    found = problems(
        """
        apiVersion: runbook/v1
        name: x
        version: 1
        steps:
          - id: route
            branch:
              - goto: end
              - if: params.x
                goto: nowhere
          - id: fine
            branch:
              - if: "true"
                goto: route
              - goto: end
        """
    )
    assert [(p.path, p.message, p.line) for p in found] == [
        ("steps[0].branch[0]", "a case without `if` is the default and must come last", 7),
        ("steps[0].branch[1].if", "reads params.x, which is not a declared parameter", 8),
        ("steps[0].branch[1].goto", "goto refers to unknown step 'nowhere'", 9),
    ]


# --------------------------------------------------------------------------- templates

TEMPLATE_DOC = """
apiVersion: runbook/v1
name: x
version: 1
parameters:
  host: {{type: string}}
steps:
  - id: first
    action: log
    with: {{message: "{first}"}}
    outputs: {{code: "{{{{ result.exit_code }}}}"}}
  - id: group
    parallel:
      - id: left
        action: log
        with: {{message: "{left}"}}
        outputs: {{out: "{{{{ result }}}}"}}
      - id: right
        action: log
        with: {{message: "{right}"}}
  - id: after
    action: log
    with: {{message: "{after}"}}
"""


def template_doc(first: str = "x", left: str = "x", right: str = "x", after: str = "x") -> str:
    return TEMPLATE_DOC.format(first=first, left=left, right=right, after=after)


def test_templates_reading_earlier_steps_load() -> None:
    load(
        template_doc(
            left="{{ steps.first.outputs.code }} {{ params.host }}",
            after="{{ steps.left.outputs.out }} {{ steps.right.status }} {{ steps.group.status }}"
            " {{ steps['first'].result }} {{ run.id }} {{ run.requester }}",
        )
    )


def test_reading_a_later_step() -> None:
    problem = one_problem(template_doc(first="{{ steps.after.result }}"))
    assert problem.message == "reads steps.after.result before step 'after' can have run"
    assert (problem.path, problem.line, problem.column) == ("steps[0].with.message", 9, 21)


def test_reading_a_sibling_in_the_same_parallel_group() -> None:
    problem = one_problem(template_doc(right="{{ steps.left.outputs.out }}"))
    assert problem.message == "reads steps.left.outputs before step 'left' can have run"
    assert problem.path == "steps[1].parallel[1].with.message"
    assert (problem.line, problem.column) == (19, 25)


def test_reading_an_undeclared_output() -> None:
    problem = one_problem(template_doc(after="{{ steps.first.outputs.stdout }}"))
    assert problem.message == "step 'first' has no output 'stdout' (it declares: code)"
    assert problem.path == "steps[2].with.message"


def test_reading_an_output_of_a_step_that_declares_none() -> None:
    problem = one_problem(template_doc(after="{{ steps.right.outputs['x'] }}"))
    assert problem.message == "step 'right' has no output 'x' (it declares: none)"


def test_reading_an_unknown_step() -> None:
    problem = one_problem(template_doc(after="{{ steps.frist.result }}"))
    assert (
        problem.message == "reads steps.frist, but there is no step 'frist'; did you mean 'first'?"
    )


def test_reading_an_undeclared_param_suggests() -> None:
    problem = one_problem(template_doc(first="{{ params.hots }}"))
    assert (
        problem.message
        == "reads params.hots, which is not a declared parameter; did you mean 'host'?"
    )
    assert (problem.path, problem.line) == ("steps[0].with.message", 9)


def test_a_step_reading_itself() -> None:
    problem = one_problem(template_doc(first="{{ steps.first.result }}"))
    assert problem.message == "step 'first' reads itself"


def test_outputs_use_result_not_their_own_step() -> None:
    problem = one_problem(MINIMAL + "    outputs: {m: '{{ steps.say.result.message }}'}\n")
    assert problem.message == "step 'say' reads its own outputs: use `result`"


def test_rollback_may_read_its_own_step() -> None:
    load(MINIMAL + "    rollback: {action: log, with: {message: '{{ steps.say.result }}'}}\n")


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{{ params.host", "unexpected end of template"),
        ("{{ params.host | nosuchfilter }}", "No filter named 'nosuchfilter'"),
        ("{% if params.host %}x", "Unexpected end of template"),
        ("{{ ((1) }}", "unexpected '}'"),
        ("{{ " + "(" * 200 + "1" + ")" * 200 + " }}", "nests too deeply"),
    ],
)
def test_template_syntax_errors(template: str, fragment: str) -> None:
    problem = one_problem(template_doc(first=template.replace('"', '\\"')))
    assert problem.message.startswith("template syntax error: ")
    assert fragment in problem.message
    assert (problem.path, problem.line) == ("steps[0].with.message", 9)


def test_templates_in_every_step_field_are_checked() -> None:
    found = problems(
        """
        apiVersion: runbook/v1
        name: x
        version: 1
        steps:
          - id: ask
            approval: {message: "{{ params.nope }}"}
          - id: act
            action: log
            with: {nested: {list: ["{{ params.nope }}"]}}
            rollback: {action: log, with: {message: "{{ params.nope }}"}}
        """
    )
    assert [p.path for p in found] == [
        "steps[0].approval.message",
        "steps[1].with.nested.list[0]",
        "steps[1].rollback.with.message",
    ]


def test_if_without_braces_is_a_template() -> None:
    loaded = load(
        """
        apiVersion: runbook/v1
        name: x
        version: 1
        parameters:
          force: {type: boolean, default: false}
        steps:
          - id: a
            action: log
            if: params.force and not false
          - id: b
            action: log
            if: "{{ steps.a.status == 'succeeded' }}"
        """
    )
    assert loaded.runbook.steps[0].if_ == "params.force and not false"


def test_if_without_braces_is_checked() -> None:
    found = problems(
        MINIMAL + "    if: params.forse\n  - id: b\n    action: log\n    if: steps.say.status ==\n"
    )
    assert [(p.path, p.line) for p in found] == [("steps[0].if", 8), ("steps[1].if", 11)]
    assert found[0].message == "reads params.forse, which is not a declared parameter"
    assert found[1].message.startswith("template syntax error:")


def test_a_with_key_named_if_is_not_a_condition() -> None:
    load(MINIMAL.replace("{message: hello}", "{message: hello, if: any text at all}"))


def test_concurrency_lock_is_checked() -> None:
    found = problems(
        MINIMAL.replace(
            "steps:\n", "concurrency: {lock: '{{ steps.say.result }}{{ params.x }}'}\nsteps:\n"
        )
    )
    assert [p.message for p in found] == [
        "a lock key is taken before any step runs; it cannot read steps.say"
    ]
    assert one_problem(
        MINIMAL.replace("steps:\n", "concurrency: {lock: '{{ oops'}\nsteps:\n")
    ).message.startswith("template syntax error")


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        (
            "{type: integer, default: abc}",
            "default 'abc' does not fit the parameter: expected an integer, got 'abc'",
        ),
        (
            "{type: integer, minimum: 1, maximum: 5, default: 9}",
            "default 9 does not fit the parameter: expected at most 5, got 9",
        ),
        (
            "{type: number, minimum: 0.5, default: 0.1}",
            "default 0.1 does not fit the parameter: expected at least 0.5, got 0.1",
        ),
        (
            "{type: string, pattern: '^[a-z]+$', default: ABC}",
            "default 'ABC' does not fit the parameter: expected text matching '^[a-z]+$', "
            "got 'ABC'",
        ),
        (
            "{type: string, min_length: 3, default: ab}",
            "default 'ab' does not fit the parameter: expected at least 3 characters, got 2",
        ),
        (
            "{type: enum, choices: [a, b], default: c}",
            "default 'c' does not fit the parameter: expected one of a, b; got 'c'",
        ),
        (
            "{type: boolean, default: maybe}",
            "default 'maybe' does not fit the parameter: expected true or false, got 'maybe'",
        ),
        (
            "{type: list, items: integer, default: [1, x]}",
            "default [1, 'x'] does not fit the parameter: expected an integer, got 'x'",
        ),
        (
            "{type: list, max_length: 1, default: [a, b]}",
            "default ['a', 'b'] does not fit the parameter: expected at most 1 items, got 2",
        ),
        ("{type: enum}", "an enum parameter needs `choices`"),
        ("{type: enum, choices: []}", "an enum parameter needs `choices`"),
        ("{type: string, choices: [a]}", "`choices` only applies to type: enum"),
        ("{type: integer, minimum: 5, maximum: 1}", "minimum is larger than maximum"),
        ("{required: true, default: x}", "a parameter with a default cannot also be required"),
    ],
)
def test_parameter_declarations(declaration: str, message: str) -> None:
    problem = one_problem(MINIMAL.replace("steps:\n", f"parameters:\n  p: {declaration}\nsteps:\n"))
    assert problem.message == message
    assert (problem.path, problem.line, problem.column) == ("parameters.p", 5, 6)


def test_parameter_bad_pattern_and_bad_type() -> None:
    found = problems(
        MINIMAL.replace("steps:\n", "parameters:\n  p: {pattern: '('}\n  q: {type: text}\nsteps:\n")
    )
    assert [(p.path, p.line) for p in found] == [
        ("parameters.p.pattern", 5),
        ("parameters.q.type", 6),
    ]
    assert found[0].message.startswith("pattern is not a valid regular expression")
    assert "'string', 'integer', 'number', 'boolean', 'list' or 'enum'" in found[1].message


def test_parameter_names_must_be_identifiers() -> None:
    problem = one_problem(MINIMAL.replace("steps:\n", "parameters:\n  Bad-Name: {}\nsteps:\n"))
    assert "parameter name 'Bad-Name' must be lowercase" in problem.message
    assert problem.path == "parameters"


# --------------------------------------------------------------------------- schedules


def schedule_doc(entry: str) -> str:
    return MINIMAL.replace(
        "steps:\n",
        "parameters:\n  env: {type: enum, choices: [staging, prod]}\n"
        f"schedule:\n  - {entry}\nsteps:\n",
    )


def test_valid_schedule() -> None:
    loaded = load(
        schedule_doc("{cron: '*/15 9-17 * * 1-5', timezone: America/New_York, params: {env: prod}}")
    )
    assert loaded.runbook.schedule[0].cron == "*/15 9-17 * * 1-5"


@pytest.mark.parametrize("cron", ["0 6 * * 1", "*/15 9-17 * * 1-5", "0 0 1 1 *", "* * * * * 30"])
def test_good_cron(cron: str) -> None:
    load(schedule_doc(f"{{cron: '{cron}', params: {{env: prod}}}}"))


@pytest.mark.parametrize(
    "cron", ["0 6 * *", "61 * * * *", "@daily", "0 6 * * 1 2024", "x", "* * * * * * *"]
)
def test_bad_cron(cron: str) -> None:
    problem = one_problem(schedule_doc(f"{{cron: '{cron}', params: {{env: prod}}}}"))
    assert problem.message.startswith(f"{cron!r} is not a valid cron expression")
    assert (problem.path, problem.line) == ("schedule[0].cron", 7)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe", "", "../etc/passwd"])
def test_bad_timezone(zone: str) -> None:
    problem = one_problem(
        schedule_doc(f"{{cron: '0 6 * * 1', timezone: '{zone}', params: {{env: prod}}}}")
    )
    assert problem.message == f"unknown timezone {zone!r} (use an IANA name like Europe/Paris)"
    assert problem.path == "schedule[0].timezone"


def test_schedule_params_naming_unknown_parameters() -> None:
    problem = one_problem(schedule_doc("{cron: '0 6 * * 1', params: {evn: prod}}"))
    assert problem.message == "unknown parameter 'evn'; did you mean 'env'?"
    assert (problem.path, problem.line, problem.column) == ("schedule[0].params.evn", 7, 34)


def test_schedule_params_with_wrong_values_or_missing_required() -> None:
    problem = one_problem(schedule_doc("{cron: '0 6 * * 1', params: {env: dev}}"))
    assert problem.message == "parameter 'env': expected one of staging, prod; got 'dev'"
    assert problem.path == "schedule[0].params"
    problem = one_problem(schedule_doc("{cron: '0 6 * * 1'}"))
    assert problem.message.startswith("parameter 'env': is required")


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    "value",
    [
        "5 minutes",
        "10x",
        "-1",
        "1h30",
        "m",
        "''",
        "-5",
        "true",
        "[1]",
        "1m1m",
        "30s1m",
        "'1h 30m'",
        ".inf",
        "9" * 400,
    ],
)
def test_bad_durations(value: str) -> None:
    problem = one_problem(MINIMAL + f"    timeout: {value}\n")
    assert problem.path == "steps[0].timeout"
    assert (problem.line, problem.column) == (8, 14)
    assert "duration" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("    with: {message: hello}", "    retry: {delay: soon}", "steps[0].retry.delay"),
        ("    with: {message: hello}", "    retry: {max_delay: 1y}", "steps[0].retry.max_delay"),
        ("    with: {message: hello}", "    approval: {message: go on, timeout: 1w}", None),
        (
            "    with: {message: hello}",
            "    rollback: {action: x, timeout: forever}",
            "steps[0].rollback.timeout",
        ),
    ],
)
def test_bad_durations_everywhere(old: str, new: str, path: str | None) -> None:
    if path is None:  # an approval step: rebuild it without the action
        text = MINIMAL.replace("    action: log\n", "").replace(old, new)
        path = "steps[0].approval.timeout"
    else:
        text = MINIMAL.replace(old, new)
    problem = one_problem(text)
    assert problem.path == path
    assert "invalid duration" in problem.message


def test_bad_duration_in_concurrency() -> None:
    problem = one_problem(
        MINIMAL.replace("steps:\n", "concurrency: {lock: x, wait_timeout: 2 weeks}\nsteps:\n")
    )
    assert problem.path == "concurrency.wait_timeout"
    assert "'2 weeks'" in problem.message


# --------------------------------------------------------------------------- all at once


def test_every_problem_in_a_file_is_reported_at_once_sorted_by_line() -> None:
    found = problems(
        """
        apiVersion: runbook/v1
        name: five-mistakes
        version: 1
        parameters:
          env: {type: enum, choices: [staging, prod], default: dev}
        steps:
          - id: first
            action: log
            timout: 5s
            with: {message: "{{ params.evn }}"}
          - id: jump
            goto: nowhere
          - id: first
            action: log
        """
    )
    assert [(p.line, p.path) for p in found] == [
        (5, "parameters.env"),
        (9, "steps[0].timout"),
        (10, "steps[0].with.message"),
        (12, "steps[1].goto"),
        (13, "steps[2].id"),
    ]
    text = str(RunbookInvalid(found))
    assert text.splitlines()[0].startswith(f"{FILE}:5:8: parameters.env: default 'dev'")
