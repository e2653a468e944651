"""What a re-run takes over from its original (``runtime.rerun.plan_rerun``) and how its
``step.carried`` events fold: the carried state, the cursor, nothing to roll back, and what
is refused (secret or masked outputs), on original runs driven by the real engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runbook_engine.core.apply import Layout, apply
from runbook_engine.core.state import RunState
from runbook_engine.runtime.rerun import RerunRefused, limits_of, link_text, plan_rerun
from runbook_engine.spec.loader import load_text
from runbook_engine.testing import run_runbook

BOOK = """\
apiVersion: runbook/v1
name: plan
version: 1
steps:
  - id: measure
    action: shell.command
    with: {{command: "echo 42"}}
    outputs: {{value: "{{{{ result.stdout | trim }}}}"}}
  - id: flag
    action: file.write
    with: {{path: "{flag}", content: "on"}}
  - id: maybe
    if: "false"
    action: log
    with: {{message: never}}
  - id: ahead
    goto: fan
  - id: never
    action: log
    with: {{message: jumped over}}
  - id: fan
    parallel:
      - {{id: left, action: log, with: {{message: left}}, outputs: {{side: left}}}}
      - {{id: right, action: log, with: {{message: right}}}}
  - id: last
    action: fail
    with: {{message: boom}}
"""

SECRETS = """\
apiVersion: runbook/v1
name: secrets
version: 1
parameters:
  token: {type: string, secret: true, default: "tok-123456"}
steps:
  - id: hidden
    action: log
    with: {message: hidden}
    outputs: {key: {value: "k-1", secret: true}}
  - id: masked
    action: log
    with: {message: "masked"}
    outputs: {echo: "{{ params.token }}"}
  - id: last
    action: fail
    with: {message: boom}
"""


def plain_text() -> str:
    return SECRETS.replace('    outputs: {key: {value: "k-1", secret: true}}\n', "")


def never_fans_out(action: str) -> bool:
    return False


def test_steps_before_the_start_are_carried_and_fold_as_the_original_had_them(
    tmp_path: Path,
) -> None:
    text = BOOK.format(flag=tmp_path / "flag")
    original = run_runbook(text, {})
    assert original.status == "rolled_back"  # file.write was undone
    runbook = load_text(text).runbook
    made = plan_rerun("orig", runbook, original.state, from_step="last", fans_out=never_fans_out)
    assert made.link == {"run": "orig", "from": "last", "failed_hosts": False}
    assert made.limits == {}
    assert [(c.step, c.status, c.rolled_back) for c in made.carried] == [
        ("measure", "succeeded", None),
        ("flag", "succeeded", True),  # the original undid it: said so, not redone
        ("maybe", "skipped", None),
        ("ahead", "succeeded", None),
        ("never", "pending", None),  # jumped over in the original
        ("fan", "succeeded", None),
        ("left", "succeeded", None),
        ("right", "succeeded", None),
    ]
    assert {c.from_run for c in made.carried} == {"orig"}

    layout = Layout.of(runbook)
    state = RunState()
    for seq, carried in enumerate(made.carried, start=2):
        state = apply(layout, state, carried.TYPE, carried.to_data(), 0.0, seq)
    assert state.status == "pending"  # carried before the run starts
    assert state.cursor == layout.top.index("last")
    assert state.steps["measure"].outputs == {"value": "42"}
    assert state.steps["measure"].result["stdout"].strip() == "42"
    assert state.steps["measure"].result_seq == 2  # read back from its carried event
    assert state.steps["left"].outputs == {"side": "left"}
    assert state.steps["never"].status == "pending"
    assert len(state.completed) == 0  # nothing carried is rolled back by the re-run
    # a checkpoint keeps no result: the carried event is where a load reads it back
    again = RunState.from_checkpoint(state.to_checkpoint())
    assert again.result_seqs() == {2, 3, 8, 9}  # measure, flag, left, right


def test_the_start_must_be_a_top_level_step(tmp_path: Path) -> None:
    text = BOOK.format(flag=tmp_path / "flag")
    original = run_runbook(text, {})
    runbook = load_text(text).runbook
    with pytest.raises(RerunRefused, match="'left' runs inside parallel group 'fan'"):
        plan_rerun("orig", runbook, original.state, from_step="left", fans_out=never_fans_out)
    with pytest.raises(RerunRefused, match="its steps: measure, flag, maybe, ahead, never, fan"):
        plan_rerun("orig", runbook, original.state, from_step="nope", fans_out=never_fans_out)
    whole = plan_rerun("orig", runbook, original.state, fans_out=never_fans_out)
    assert whole.start is None and whole.carried == ()


def test_outputs_never_stored_in_the_clear_are_not_carried() -> None:
    original = run_runbook(SECRETS, {"token": "tok-123456"})
    runbook = load_text(SECRETS).runbook
    assert original.state.steps["masked"].outputs == {"echo": "***"}
    with pytest.raises(RerunRefused, match="step 'hidden' has secret outputs \\(key\\)"):
        plan_rerun("orig", runbook, original.state, from_step="masked", fans_out=never_fans_out)
    # whatever the runbook says now, a value the log holds masked is never carried as ***
    without = load_text(SECRETS.replace("secret: true}}", "secret: false}}")).runbook
    with pytest.raises(RerunRefused, match="step 'hidden''s recorded outputs hold a masked"):
        plan_rerun("orig", without, original.state, from_step="last", fans_out=never_fans_out)
    plain = load_text(plain_text()).runbook
    with pytest.raises(RerunRefused, match="step 'masked''s recorded outputs hold a masked"):
        plan_rerun(
            "orig",
            plain,
            run_runbook(plain_text(), {}).state,
            from_step="last",
            fans_out=never_fans_out,
        )


def test_the_link_says_what_the_rerun_is() -> None:
    link: dict[str, Any] = {
        "run": "abc",
        "from": "deploy",
        "failed_hosts": True,
        "step": "deploy",
        "hosts": ["h03", "h05"],
    }
    assert limits_of(link) == {"deploy": ["h03", "h05"]}
    assert limits_of({**link, "failed_hosts": False}) == {}
    assert limits_of(None) == {}
    assert link_text(link) == "re-run of abc (from deploy, failed hosts only: h03, h05)"
    assert link_text({"run": "abc", "from": None, "failed_hosts": False}) == "re-run of abc"
