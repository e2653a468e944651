"""One policy, every door: each kind of user, each action and each door gets the same answer.

Doors: the API (the plain function the HTTP layer calls, with a token's principal), the engine
(what the CLI in local mode, workers and schedules call, with a local name), and Slack (a Slack
user id mapped to the same person, then the engine, as the Slack app calls it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runbook_engine.auth.policy import ACTIONS, ROLES, Action, allowed
from runbook_engine.auth.policy_file import Policy, current_policy
from runbook_engine.auth.principal import Principal
from runbook_engine.auth.slack_identity import SlackIdentities
from runbook_engine.errors import ApprovalError, RunbookError
from runbook_engine.identity import Directory
from runbook_engine.service import Engine
from runbook_engine.spec.loader import load_text
from runbook_engine.store import Store

RUNBOOK = """\
apiVersion: runbook/v1
name: guarded
version: 1
permissions:
  run: ["@runners"]
  approve: ["@approvers"]
steps:
  - {id: before, action: log, with: {message: before}}
  - id: gate
    approval: {message: "go on?"}
  - {id: after, action: log, with: {message: after}}
"""

#: the same permissions, and an input step that names no `from`: the run list gives it
ASKED = RUNBOOK.replace(
    """  - id: gate
    approval: {message: "go on?"}""",
    """  - id: gate
    input: {message: "how many?", fields: {n: {type: integer}}}""",
)

POLICY = """\
admins: ["@admins"]
defaults:
  view: ["@viewers"]
"""

DIRECTORY = Directory(
    {
        "runners": frozenset({"rita@example.com", "runner@example.com"}),
        "approvers": frozenset({"approver@example.com"}),
        "viewers": frozenset({"viewer@example.com"}),
        "admins": frozenset({"admin@example.com"}),
    }
)
REQUESTER = "rita@example.com"

#: each kind of user, and what they may do to a run another runner started
EXPECTED: dict[str, set[str]] = {
    "nobody@example.com": set(),
    "viewer@example.com": {"view"},
    "runner@example.com": {"view", "run", "cancel", "resume", "input"},
    "approver@example.com": {"view", "approve", "reject"},
    # admins hold everything but the second pair of eyes: that is a person the runbook names
    "admin@example.com": {"view", "run", "cancel", "resume", "admin", "input"},
}

#: Slack user ids of the same people (spelt in another case: one person all the same)
SLACK_IDS = {f"U0{name.split('@')[0].upper()}": name.upper() for name in EXPECTED}
SLACK_IDS["U0RITA"] = REQUESTER.title()

LOADED = load_text(RUNBOOK, "guarded.yaml")
LOADED_ASKED = load_text(ASKED, "guarded.yaml")


@pytest.fixture
def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    monkeypatch.setenv("RUNBOOK_POLICY", str(path))
    return path


@pytest.fixture
def engine(tmp_path: Path, policy_file: Path) -> Iterator[Engine]:
    with Store.open(str(tmp_path / "matrix.db")) as store:
        yield Engine(store=store, directory=DIRECTORY)


def waiting_run(engine: Engine, action: str = "") -> str:
    """A run another runner started, waiting for what ``action`` answers (an input, else an
    approval)."""
    loaded = LOADED_ASKED if action == "input" else LOADED
    outcome = engine.start(loaded, {}, requester=REQUESTER, wait_for_approval=False)
    assert outcome.status == ("waiting_input" if action == "input" else "waiting_approval")
    return outcome.run_id


def via_engine(engine: Engine, name: str, groups: frozenset[str], action: Action) -> None:
    """The engine door: what the CLI, workers and schedules call, by name."""
    if action in {"view", "admin"}:
        # no engine operation views or administers; the doors ask the policy directly
        answer = allowed(Principal.local(name, groups), action, LOADED.runbook, directory=DIRECTORY)
        if not answer.allowed:
            raise ApprovalError(answer.reason)
        return
    if action == "run":
        engine.check(LOADED, {}, requester=name, extra_groups=groups)
        return
    if action == "trigger":
        # as the hooks start a run an alert matched (the runbook here has no triggers)
        trigger = {"index": 0, "alert": {}}
        engine.check(LOADED, {}, requester=name, extra_groups=groups, trigger=trigger)
        return
    run_id = waiting_run(engine, action)
    if action == "input":
        engine.give_input(run_id, user=name, values={"n": 1}, extra_groups=groups)
    elif action in {"approve", "reject"}:
        engine.decide(
            run_id, user=name, approve=action == "approve", reason="why", extra_groups=groups
        )
    elif action == "cancel":
        engine.cancel(run_id, by=name, extra_groups=groups)
    else:
        engine.resume(run_id, by=name, wait_for_approval=False, extra_groups=groups)


def door_api(engine: Engine, name: str, action: Action) -> bool:
    principal = Principal(name, via="token:t1", source="10.0.0.1")
    state = engine.load_run(waiting_run(engine, action)).state
    runbook = (LOADED_ASKED if action == "input" else LOADED).runbook
    answer = allowed(
        principal, action, runbook, directory=DIRECTORY, state=state, requester=REQUESTER
    )
    return answer.allowed


def door_engine(engine: Engine, name: str, action: Action) -> bool:
    try:
        via_engine(engine, name, frozenset(), action)
    except ApprovalError:
        return False
    return True


def door_slack(engine: Engine, name: str, action: Action) -> bool:
    slack_id = next(k for k, v in SLACK_IDS.items() if v.casefold() == name)
    principal = SlackIdentities(SLACK_IDS).principal(slack_id)
    assert principal.via == f"slack:{slack_id}" and principal.name != name  # another spelling
    try:
        via_engine(engine, principal.name, principal.groups, action)
    except ApprovalError:
        return False
    return True


DOORS: dict[str, Callable[[Engine, str, Action], bool]] = {
    "api": door_api,
    "engine": door_engine,
    "slack": door_slack,
}


@pytest.mark.parametrize("door", list(DOORS))
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("user", list(EXPECTED))
def test_every_door_gives_the_same_answer(
    engine: Engine, door: str, action: Action, user: str
) -> None:
    assert DOORS[door](engine, user, action) is (action in EXPECTED[user])


#: a token's roles narrow what its user may do; the user here may do everything there is
TOKEN_ALLOWS: dict[str, set[str]] = {
    "view": {"view"},
    "run": {"view", "run", "resume", "cancel", "input"},
    "approve": {"view", "approve", "reject", "input"},
    "cancel": {"view", "cancel"},
    "trigger": {"trigger"},
    "admin": set(ACTIONS),
}

#: the runbook with a trigger, so that the trigger role has something to allow
TRIGGERED = RUNBOOK.replace("steps:", "triggers:\n  - webhook: {name: guarded}\nsteps:")


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_a_token_role_is_a_ceiling(engine: Engine, role: str, action: Action) -> None:
    boss = Directory({**DIRECTORY.groups, "bosses": frozenset({"boss@example.com"})})
    policy = Policy(admins=("@bosses",))
    source = ASKED if action == "input" else TRIGGERED
    loaded = load_text(source.replace('["@approvers"]', '["@bosses"]'), "guarded.yaml")
    state = engine.load_run(waiting_run(engine, action)).state
    principal = Principal("boss@example.com", roles=frozenset({role}), via="token:t2")
    answer = allowed(
        principal,
        action,
        loaded.runbook,
        directory=boss,
        policy=policy,
        state=state,
        requester=REQUESTER,
    )
    assert answer.allowed is (action in TOKEN_ALLOWS[role])
    if not answer.allowed:
        assert f"token:t2 allows only: {role}" in answer.reason


def test_without_a_policy_file_view_is_anyone_and_an_empty_run_list_everyone() -> None:
    open_runbook = load_text(RUNBOOK.replace('run: ["@runners"]', "run: []"), "open.yaml")
    anyone = Principal("someone")
    for action in ("view", "run", "cancel", "resume"):
        assert allowed(anyone, action, open_runbook.runbook, directory=Directory(), policy=Policy())
    assert not allowed(anyone, "admin", directory=Directory(), policy=Policy()).allowed


def test_the_policy_default_run_list_applies_only_where_the_runbook_is_silent() -> None:
    policy = Policy(run=("@oncall",))
    directory = Directory({"oncall": frozenset({"olive"})})
    silent = load_text(RUNBOOK.replace('run: ["@runners"]', "run: []"), "open.yaml").runbook
    refused = allowed(Principal("eve"), "run", silent, directory=directory, policy=policy)
    assert refused.reason == "eve may not run guarded (policy default run: @oncall)"
    assert allowed(Principal("OLIVE"), "run", silent, directory=directory, policy=policy).allowed
    # the runbook's own list wins
    assert not allowed(
        Principal("olive"), "run", LOADED.runbook, directory=directory, policy=policy
    ).allowed


def test_a_policy_file_that_cannot_be_read_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_POLICY", str(tmp_path / "missing.yaml"))
    with pytest.raises(RunbookError, match="cannot read policy file"):
        current_policy()
    (tmp_path / "bad.yaml").write_text("admins: [a]\nsuperusers: [b]\n")
    monkeypatch.setenv("RUNBOOK_POLICY", str(tmp_path / "bad.yaml"))
    with pytest.raises(RunbookError, match="superusers"):
        current_policy()
