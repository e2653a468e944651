"""One rule for who may cancel, resume and decide, whichever door a request comes through: the
CLI (click's CliRunner on a real SQLite store), the engine API the servers and workers use, and
Slack (real slack-sdk clients against the fake Slack API)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runbook_engine.cli import main
from runbook_engine.errors import ApprovalError
from runbook_engine.identity import Directory
from runbook_engine.permissions import may_cancel, may_resume, may_run
from runbook_engine.service import Engine
from runbook_engine.spec.loader import load_text
from runbook_engine.store import Store

GUARDED = """\
apiVersion: runbook/v1
name: guarded
version: 1
permissions:
  run: ["@oncall"]
  approve: ["@leads"]
steps:
  - id: before
    action: log
    with: {message: before}
  - id: approve
    approval: {message: "go on?"}
  - id: after
    action: log
    with: {message: after}
"""

GROUPS = "oncall: [alice, olive]\nleads: [lena]\n"


def invoke(*args: str, user: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"RUNBOOK_USER": user}, catch_exceptions=False)


@pytest.fixture
def guarded(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A run of ``guarded`` started by alice, waiting for approval; its id."""
    (workdir / "runbooks").mkdir()
    (workdir / "runbooks" / "guarded.yaml").write_text(GUARDED)
    (workdir / "groups.yaml").write_text(GROUPS)
    monkeypatch.setenv("RUNBOOK_GROUPS", str(workdir / "groups.yaml"))
    started = invoke("run", "guarded", "--yes", "--no-wait", "-o", "json", user="alice")
    assert started.exit_code == 5, started.output
    return str(json.loads(started.output)["run_id"])


def _status(run_id: str) -> str:
    with Store.open() as store:
        record = store.get_run(run_id)
        assert record is not None
        return str(record.status)


def test_cli_cancel_by_someone_who_may_not_run_the_runbook_is_refused(guarded: str) -> None:
    refused = invoke("cancel", guarded, "--reason", "mine now", user="mallory")
    assert refused.exit_code == 2, refused.output
    assert "mallory may not cancel runs of guarded (permissions.run: @oncall)" in refused.output
    assert "Traceback" not in refused.output
    assert _status(guarded) == "waiting_approval"
    # a member of the run list may
    allowed = invoke("cancel", guarded, "--reason", "not today", user="olive")
    assert allowed.exit_code == 4, allowed.output
    assert _status(guarded) == "cancelled"


def test_cli_resume_by_someone_who_may_not_run_the_runbook_is_refused(guarded: str) -> None:
    refused = invoke("resume", guarded, "--no-wait", user="mallory")
    assert refused.exit_code == 2, refused.output
    assert "mallory may not resume runs of guarded" in refused.output
    assert invoke("resume", guarded, "--no-wait", user="olive").exit_code == 5


def test_the_requesters_own_reject_says_reject(guarded: str) -> None:
    refused = invoke("reject", guarded, "--reason", "changed my mind", user="alice")
    assert refused.exit_code == 2, refused.output
    assert "alice started this run and cannot reject it" in refused.output
    assert "cannot approve" not in refused.output
    approve = invoke("approve", guarded, user="alice")
    assert "alice started this run and cannot approve it" in approve.output


def test_an_approver_who_may_not_run_it_still_moves_the_run_on(guarded: str) -> None:
    # the continuation after a decision is the engine's, not a resume by the approver
    done = invoke("approve", guarded, user="lena")
    assert done.exit_code == 0, done.output
    assert _status(guarded) == "succeeded"


def test_the_engine_api_refuses_the_same_cancel(guarded: str, workdir: Path) -> None:
    """What servers and workers call: the same rule, the same words."""
    with Store.open() as store:
        engine = Engine(store=store, directory=Directory.load(workdir / "groups.yaml"))
        with pytest.raises(ApprovalError, match="mallory may not cancel runs of guarded"):
            engine.cancel(guarded, by="mallory")
        with pytest.raises(ApprovalError, match="mallory may not resume runs of guarded"):
            engine.resume(guarded, by="mallory", wait_for_approval=False)
        # a Slack user group the directory does not know counts when the door passes it
        engine.cancel(guarded, by="U0SLACKER", extra_groups={"oncall"})


def test_the_rules_name_the_action_and_the_list() -> None:
    runbook = load_text(GUARDED, "guarded.yaml").runbook
    directory = Directory({"oncall": frozenset({"olive"})})
    for check, verb in ((may_run, "run guarded"), (may_cancel, "cancel runs of guarded")):
        with pytest.raises(ApprovalError, match=f"eve may not {verb} \\(permissions.run: @oncall"):
            check(runbook, "eve", directory)
        check(runbook, "olive", directory)
    may_resume(runbook, "eve", directory, extra_groups=["@oncall"])
