"""One expectation table for every door: each role, each action, each door gets the same
answer, and a refusal reads the same wherever it was asked.

Doors, each used the way its users use it:

* ``api``: real HTTP (httpx) to ``runbook serve`` in-process, with an API token whose roles
  ceiling is the role (``auth.tokens.create_token``);
* ``cli``: ``runbook`` (click's CliRunner) on a local store of its own, as ``RUNBOOK_USER``;
* ``slack``: signed slash commands (``SlackPlayer``) into the same server, from Slack users the
  server maps to the same people (the mapping file, or their profile email);
* ``worker``: the engine as ``runbook worker`` builds it, asked by name;
* ``schedule``: the schedule loop's start of a run (``create_scheduled_run``, what both
  ``runbook serve`` and the workers call), as the ``schedule`` principal.

Outside the API a role is held through the runbook's ``permissions`` and the policy file's
``admins``. The ``cancel`` role exists only as a token's ceiling (whoever may cancel a run may
also start one, by the policy), Slack has no ``resume`` and schedules only start runs: those
cells are not doors anyone has, so they are not in the matrix.

One server (API and Slack) serves the whole module; each allowed action gets a run of its own,
refusals share one run (a refusal changes nothing).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Literal, TypeVar

import httpx
import pytest
from click.testing import CliRunner

from runbook_engine.auth.policy import ROLE_ACTIONS, Role
from runbook_engine.auth.tokens import create_token
from runbook_engine.catalog import Catalog
from runbook_engine.cli import main
from runbook_engine.core.statuses import WAITING
from runbook_engine.errors import ApprovalError
from runbook_engine.identity import Directory
from runbook_engine.schedule import SCHEDULE_REQUESTER, Tick
from runbook_engine.server.scheduling import create_scheduled_run
from runbook_engine.server.serve import ServeOptions, Server
from runbook_engine.service import Engine, new_run_id
from runbook_engine.slack.messages import INPUT_BUTTON
from runbook_engine.slack.prompts import APPROVE
from runbook_engine.slack.settings import SlackSettings
from runbook_engine.spec.loader import LoadedRunbook
from runbook_engine.store import AuditRecord, Store
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import (
    SECRET,
    SlackPlayer,
    button_value,
    ephemerals,
    prompt_of,
    run_message_of,
    texts,
)

T = TypeVar("T")

Door = Literal["api", "cli", "slack", "worker", "schedule"]
Verb = Literal["start", "approve", "reject", "cancel", "resume", "input"]

DOORS: tuple[Door, ...] = ("api", "cli", "slack", "worker", "schedule")
VERBS: tuple[Verb, ...] = ("start", "approve", "reject", "cancel", "resume", "input")
ROLES: tuple[Role, ...] = ("view", "run", "approve", "cancel", "admin")

GUARDED = """\
apiVersion: runbook/v1
name: guarded
version: 1
notify: {channel: "#ops"}
permissions:
  run: ["@runners"]
  approve: ["@approvers"]
schedule:
  - {cron: "0 3 * * *", timezone: UTC}
steps:
  - id: gate
    approval: {message: "go on?"}
  - {id: after, action: log, with: {message: after}}
"""

# two approvals from two different people
PAIR = """\
apiVersion: runbook/v1
name: pair
version: 1
notify: {channel: "#ops"}
permissions:
  run: ["@runners"]
  approve: ["@approvers"]
steps:
  - id: gate
    approval: {message: "both of you?", required: 2}
  - {id: after, action: log, with: {message: after}}
"""

# an input step that names no `from`: whoever may run the runbook gives it
ASKED = """\
apiVersion: runbook/v1
name: asked
version: 1
notify: {channel: "#ops"}
permissions:
  run: ["@runners"]
  approve: ["@approvers"]
steps:
  - id: ask
    input: {message: "how many?", fields: {count: {type: integer}}}
  - {id: after, action: log, with: {message: "count {{ steps.ask.outputs.count }}"}}
"""

#: who holds each role (through the groups file's groups the runbook and the policy name)
PEOPLE: dict[Role, str] = {
    "view": "viewer@example.com",
    "run": "runner@example.com",
    "approve": "approver@example.com",
    "cancel": "canceller@example.com",  # a runner, held to cancel by the token's ceiling
    "admin": "admin@example.com",
}
REQUESTER = "rita@example.com"  # starts the runs the others act on
ALICE = "alice@example.com"  # runs and approves: for her own run and for two doors
BOB = "bob@example.com"  # another approver

GROUPS = f"""\
runners: [{REQUESTER}, {PEOPLE["run"]}, {PEOPLE["cancel"]}, {ALICE}]
approvers: [{PEOPLE["approve"]}, {ALICE}, {BOB}]
viewers: [{PEOPLE["view"]}]
admins: [{PEOPLE["admin"]}]
"""

POLICY = """\
admins: ["@admins"]
defaults:
  view: ["@viewers"]
"""

#: the Slack users of the same people: some by the mapping file, some by their profile email
SLACK_IDS: dict[Role, str] = {
    "view": "U0VIEWER",
    "run": "U0RUNNER",
    "approve": "U0APPROVER",
    "admin": "U0ADMIN",
}
MAPPED = {SLACK_IDS["view"]: PEOPLE["view"], SLACK_IDS["run"]: PEOPLE["run"], "U0BOB": BOB}
EMAILS = {
    SLACK_IDS["approve"]: PEOPLE["approve"],
    SLACK_IDS["admin"]: PEOPLE["admin"],
    "U0ALICE": ALICE,
    "U0RITA": REQUESTER,
}

# -------------------------------------------------------------------- the expectation table

OK = None
#: refused by the runbook's run list (and so its cancel and resume)
RUN_LIST = "{who} may not {what} (permissions.run: @runners)"
#: refused by the approval step's approvers
APPROVERS = "{who} is not an approver of step 'gate' (approvers: @approvers)"
#: refused by a token's roles ceiling, before anything else is asked
CEILING = "{who} may not {what} ({via} allows only: {role})"

#: role -> action -> None (allowed) or how the refusal reads. The API's tokens are made with
#: the role as their ceiling, so where a role does not reach, the API refuses by the ceiling
#: (CEILING) first, the other doors by the rule behind it; allowed or not is this table's
#: answer at every door. Admins hold everything but the second pair of eyes.
EXPECTED: dict[Role, dict[Verb, str | None]] = {
    "view": {
        "start": RUN_LIST,
        "approve": APPROVERS,
        "reject": APPROVERS,
        "cancel": RUN_LIST,
        "resume": RUN_LIST,
        "input": RUN_LIST,
    },
    "run": {
        "start": OK,
        "approve": APPROVERS,
        "reject": APPROVERS,
        "cancel": OK,
        "resume": OK,
        "input": OK,
    },
    "approve": {
        "start": RUN_LIST,
        "approve": OK,
        "reject": OK,
        "cancel": RUN_LIST,
        "resume": RUN_LIST,
        # the role holds it (a person answering the run's question), the rule does not
        "input": RUN_LIST,
    },
    "cancel": {
        "start": CEILING,
        "approve": CEILING,
        "reject": CEILING,
        "cancel": OK,
        "resume": CEILING,
        "input": CEILING,
    },
    "admin": {
        "start": OK,
        "approve": APPROVERS,
        "reject": APPROVERS,
        "cancel": OK,
        "resume": OK,
        "input": OK,
    },
}

#: what the policy calls each action in its refusals
WHAT: dict[Verb, str] = {
    "start": "run guarded",
    "approve": "approve runs of guarded",
    "reject": "reject runs of guarded",
    "cancel": "cancel runs of guarded",
    "resume": "resume runs of guarded",
    "input": "give input to runs of asked",
}

#: the policy's name of each door action
POLICY_ACTION = {
    "start": "run",
    "approve": "approve",
    "reject": "reject",
    "cancel": "cancel",
    "resume": "resume",
    "input": "input",
}


def expected(door: Door, role: Role, verb: Verb, via: str = "") -> str | None:
    """The table's answer at ``door``: None, or the refusal as that door reads it."""
    rule = EXPECTED[role][verb]
    if rule is OK:
        return None
    ceiling = POLICY_ACTION[verb] not in ROLE_ACTIONS[role]
    if door == "api" and ceiling:
        rule = CEILING
    who = SCHEDULE_REQUESTER if door == "schedule" else PEOPLE[role]
    return rule.format(who=who, what=WHAT[verb], via=via, role=role)


def applies(door: Door, role: Role, verb: Verb) -> bool:
    """Cells some door has (see the module's docstring for those left out)."""
    if role == "cancel" and door != "api":
        return False
    if door == "slack":
        return verb != "resume"
    if door == "schedule":
        return verb == "start"
    return True


CELLS = [
    pytest.param(door, role, verb, id=f"{door}-{role}-{verb}")
    for door in DOORS
    for role in ROLES
    for verb in VERBS
    if applies(door, role, verb)
]

# -------------------------------------------------------------------- the module's world


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class World:
    root: Path
    server: Server
    fake: FakeSlack
    player: SlackPlayer
    http: httpx.Client
    cli_db: Path
    #: the CLI's local store, and an engine on it to make the runs the CLI acts on
    cli: Engine
    #: the engine as a worker builds it, on a store of its own
    worker: Engine
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # user+roles -> secret, id
    idle: dict[str, str] = field(default_factory=dict)  # store -> a waiting run refusals share
    _fire: count[int] = field(default_factory=count)

    # ---------------------------------------------------------------- runs

    def loaded(self, name: str = "guarded") -> LoadedRunbook:
        return Catalog().resolve(name)

    def served_run(self, name: str = "guarded", requester: str = REQUESTER) -> str:
        """A run of the server, waiting for approval (or input) and driven by nobody (a
        decision made now finds it where it stopped)."""
        run_id = self.server.executor.start(
            self.server.engine.catalog.resolve(name, self.server.store),
            {},
            requester=requester,
            run_id=new_run_id(),
        )
        self.settled(run_id)
        return run_id

    def settled(self, run_id: str) -> None:
        def probe() -> bool:
            record = self.server.store.get_run(run_id)
            waiting = record is not None and record.status in WAITING
            return waiting and run_id not in self.server.executor.driving()

        wait_for(f"run {run_id} to wait for a person", probe)

    def local_run(self, engine: Engine, requester: str = REQUESTER, name: str = "guarded") -> str:
        loaded = self.loaded(name)
        outcome = engine.start(loaded, {}, requester=requester, wait_for_approval=False)
        assert outcome.status in WAITING, outcome
        return outcome.run_id

    def run_for(self, door: Door, fresh: bool, name: str = "guarded") -> str:
        """A run of ``name`` for ``door`` to act on: a new one when the action will change
        it."""
        where = "server" if door in ("api", "slack") else door
        key = f"{where}:{name}"
        if not fresh and key in self.idle:
            return self.idle[key]
        if where == "server":
            run_id = self.served_run(name)
        else:
            run_id = self.local_run(self.cli if door == "cli" else self.worker, name=name)
        if not fresh:
            self.idle[key] = run_id
        return run_id

    # ---------------------------------------------------------------- the API

    def token(self, user: str, roles: list[str] | None = None) -> tuple[str, str]:
        """A token of ``user`` (made once): its secret and its id."""
        key = f"{user}|{roles}"
        if key not in self.tokens:
            made = create_token(self.server.store, user, roles=roles)
            self.tokens[key] = (made.secret, made.record.id)
        return self.tokens[key]

    def api(self, secret: str, verb: Verb, run_id: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {secret}"}
        if verb == "start":
            return self.http.post("/runs", json={"runbook": "guarded"}, headers=headers)
        if verb == "input":
            values = {"values": {"count": 3}}
            return self.http.post(f"/runs/{run_id}/input", json=values, headers=headers)
        body = {"reason": "not today"} if verb == "reject" else {}
        return self.http.post(f"/runs/{run_id}/{verb}", json=body, headers=headers)

    # ---------------------------------------------------------------- Slack

    def slack(self, user: str, text: str, answered: Callable[[str], bool]) -> str:
        """The private answer to ``user``'s ``/runbook text`` that ``answered`` recognises."""
        before = len(ephemerals(self.fake, user))
        status, body, _ = self.player.command(text, user=user)
        assert status == 200, body

        def probe() -> str | None:
            return next((t for t in ephemerals(self.fake, user)[before:] if answered(t)), None)

        return wait_for(f"an answer to {user}'s /runbook {text}", probe)

    # ---------------------------------------------------------------- the audit

    def audit_of(self, via: str, action: str) -> AuditRecord:
        entries = [
            e for e in self.server.store.audit_since() if e.via == via and e.action == action
        ]
        assert entries, f"no {action} audited via {via}"
        return entries[-1]


def cli(world: World, user: str, *args: str) -> tuple[int, str]:
    """``runbook ARGS`` as ``user`` on the CLI's local store: exit code and the error said."""
    env = {"RUNBOOK_USER": user, "RUNBOOK_DB": str(world.cli_db)}
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    lines = result.stderr.splitlines()
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    return result.exit_code, errors[0] if errors else ""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("doors")
    books = root / "runbooks"
    books.mkdir()
    (books / "guarded.yaml").write_text(GUARDED, encoding="utf-8")
    (books / "pair.yaml").write_text(PAIR, encoding="utf-8")
    (books / "asked.yaml").write_text(ASKED, encoding="utf-8")
    (root / "groups.yaml").write_text(GROUPS, encoding="utf-8")
    (root / "policy.yaml").write_text(POLICY, encoding="utf-8")
    mapping = "".join(f"{slack_id}: {name}\n" for slack_id, name in MAPPED.items())
    (root / "slack-users.yaml").write_text(mapping, encoding="utf-8")
    with FakeSlack() as fake, pytest.MonkeyPatch.context() as mp:
        for slack_id, email in EMAILS.items():
            fake.add_user(slack_id, slack_id.lower(), email=email)
        mp.chdir(root)
        mp.setenv("RUNBOOK_DB", str(root / "server.db"))
        mp.setenv("RUNBOOK_PATH", str(books))
        mp.setenv("RUNBOOK_GROUPS", str(root / "groups.yaml"))
        mp.setenv("RUNBOOK_POLICY", str(root / "policy.yaml"))
        mp.setenv("RUNBOOK_SLACK_USERS", str(root / "slack-users.yaml"))
        mp.setenv("SLACK_BOT_TOKEN", fake.token)
        mp.setenv("SLACK_SIGNING_SECRET", SECRET)
        mp.setenv("RUNBOOK_SLACK_API_URL", fake.api_url)
        for var in (
            "SLACK_APP_TOKEN",
            "RUNBOOK_USER",
            "RUNBOOK_SERVER",
            "RUNBOOK_EXECUTOR",
            "RUNBOOK_LOG_FORMAT",
            "RUNBOOK_OIDC_ISSUER",
            "RUNBOOK_OIDC_AUDIENCE",
        ):
            mp.delenv(var, raising=False)
        options = ServeOptions(
            host="127.0.0.1", port=0, grace=5.0, sweep_interval=0.2, update_interval=0.05
        )
        server = Server(SlackSettings.from_env(), options)
        server.start()
        cli_db, worker_db = root / "cli.db", root / "worker.db"
        try:
            with (
                Store.open(str(cli_db)) as cli_store,
                Store.open(str(worker_db)) as worker_store,
                httpx.Client(base_url=server.url + "/api/v1", timeout=15.0) as http,
            ):
                yield World(
                    root,
                    server,
                    fake,
                    SlackPlayer(server.url, fake),
                    http,
                    cli_db,
                    Engine(store=cli_store),
                    # as runbook worker builds it: the environment's groups and policy
                    Engine(store=worker_store),
                )
        finally:
            server.stop()


# -------------------------------------------------------------------- the doors

#: the private answer Slack gives when an action was done
SLACK_DONE: dict[Verb, str] = {
    "start": ":rocket: Starting *guarded*@1",
    "approve": ":white_check_mark: You approved step `gate`",
    "reject": ":no_entry: You rejected step `gate`",
    "cancel": ":no_entry_sign: Cancel requested",
}
REFUSED = ":no_entry: "

#: the exit codes of an action done on the CLI: waiting, succeeded, rejected or cancelled
CLI_DONE = {"start": 5, "approve": 0, "reject": 4, "cancel": 4, "resume": 5, "input": 0}


def door_api(world: World, role: Role, verb: Verb, run_id: str) -> tuple[str | None, str]:
    secret, token_id = world.token(PEOPLE[role], [role])
    via = f"token:{token_id}"
    answer = world.api(secret, verb, run_id)
    if answer.status_code == 403:
        reason = str(answer.json()["detail"])
    else:
        assert answer.status_code in (200, 201, 202), answer.text
        reason = None
    # the audit names the person and how they proved it, allowed or not
    entry = world.audit_of(via, verb)
    assert entry.principal == PEOPLE[role]
    assert entry.outcome == ("refused" if reason else "ok")
    return reason, via


def door_cli(world: World, role: Role, verb: Verb, run_id: str) -> tuple[str | None, str]:
    args = {
        "start": ["run", "guarded", "--yes", "--no-wait", "-o", "json"],
        "approve": ["approve", run_id],
        "reject": ["reject", run_id, "--reason", "not today"],
        "cancel": ["cancel", run_id],
        "resume": ["resume", run_id, "--no-wait"],
        "input": ["input", run_id, "--set", "count=3"],
    }[verb]
    code, error = cli(world, PEOPLE[role], *args)
    if code == 2:
        return error, ""
    assert code == CLI_DONE[verb], (code, error)
    return None, ""


def slack_input(world: World, user: str, run_id: str) -> str | None:
    """The "Provide input" button on the run message, then the form it opens, submitted."""
    message = wait_for(
        "the input button",
        lambda: (m := run_message_of(world.fake, run_id)) and INPUT_BUTTON in str(m.blocks) and m,
    )
    before = len(ephemerals(world.fake, user)), len(world.fake.calls("views.open"))
    value = button_value(message, INPUT_BUTTON)
    status, _, _ = world.player.click(message.channel, message.ts, INPUT_BUTTON, value, user=user)
    assert status == 200

    def answered() -> str | None:
        refused = [t for t in ephemerals(world.fake, user)[before[0] :] if t.startswith(REFUSED)]
        if refused:
            return refused[0]
        opened = world.fake.calls("views.open")[before[1] :]
        return "opened" if opened else None

    told = wait_for("the form or a refusal", answered)
    if told != "opened":
        return told[len(REFUSED) :]
    view = world.fake.calls("views.open")[before[1]].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    field = {"value": {"type": "plain_text_input", "value": "3"}}
    status, body, _ = world.player.submit(view, {"param:count": field}, user=user)
    assert status == 200 and not body, body  # accepted: the form closes
    return None


def door_slack(world: World, role: Role, verb: Verb, run_id: str) -> tuple[str | None, str]:
    user = SLACK_IDS[role]
    if verb == "input":
        reason = slack_input(world, user, run_id)
        entry = world.audit_of(f"slack:{user}", verb)
        assert entry.principal == PEOPLE[role]
        assert entry.outcome == ("refused" if reason else "ok")
        return reason, ""
    text = {
        "start": "run guarded",
        "approve": f"approve {run_id}",
        "reject": f"reject {run_id} not today",
        "cancel": f"cancel {run_id}",
    }[verb]
    done = SLACK_DONE[verb]
    told = world.slack(user, text, lambda t: t.startswith(done) or t.startswith(REFUSED))
    reason = None if told.startswith(done) else told[len(REFUSED) :]
    entry = world.audit_of(f"slack:{user}", verb)
    assert entry.principal == PEOPLE[role]  # the person, not the Slack user id
    assert entry.outcome == ("refused" if reason else "ok")
    return reason, ""


def door_worker(world: World, role: Role, verb: Verb, run_id: str) -> tuple[str | None, str]:
    engine, who = world.worker, PEOPLE[role]
    try:
        if verb == "start":
            engine.create(world.loaded(), {}, requester=who)
        elif verb in ("approve", "reject"):
            engine.decide(run_id, user=who, approve=verb == "approve", reason="not today")
        elif verb == "cancel":
            engine.cancel(run_id, by=who)
        elif verb == "input":
            engine.give_input(run_id, user=who, values={"count": 3}, from_text=False)
        else:
            engine.resume(run_id, by=who, wait_for_approval=False)
    except ApprovalError as exc:
        return str(exc), ""
    return None, ""


def door_schedule(world: World, role: Role, verb: Verb, run_id: str) -> tuple[str | None, str]:
    """The schedule holds the role as the people do: by the groups the lists name."""
    assert verb == "start"
    groups = dict(Directory.load().groups)
    group = {"view": "viewers", "run": "runners", "approve": "approvers", "admin": "admins"}
    groups[group[role]] = groups[group[role]] | {SCHEDULE_REQUESTER}
    engine = Engine(store=world.worker.store, directory=Directory(groups))
    loaded = world.loaded()
    # a tick of its own for each cell: each tick starts one run at most
    fire_at = datetime(2026, 1, 1, 3, tzinfo=UTC) + timedelta(days=next(world._fire))
    tick = Tick(loaded, 0, loaded.runbook.schedule[0], fire_at, late=False)
    try:
        assert create_scheduled_run(engine, tick)
    except ApprovalError as exc:
        return str(exc), ""
    record = engine.store.get_run(tick.run_id)
    assert record is not None and record.requester == SCHEDULE_REQUESTER
    return None, ""


ASK: dict[Door, Callable[[World, Role, Verb, str], tuple[str | None, str]]] = {
    "api": door_api,
    "cli": door_cli,
    "slack": door_slack,
    "worker": door_worker,
    "schedule": door_schedule,
}

# -------------------------------------------------------------------- the tests


@pytest.mark.parametrize(("door", "role", "verb"), CELLS)
def test_every_door_answers_as_the_table_says(
    world: World, door: Door, role: Role, verb: Verb
) -> None:
    allowed = EXPECTED[role][verb] is OK
    name = "asked" if verb == "input" else "guarded"
    run_id = "" if verb == "start" else world.run_for(door, fresh=allowed, name=name)
    reason, via = ASK[door](world, role, verb, run_id)
    assert reason == expected(door, role, verb, via)


@pytest.fixture(scope="module")
def alices_run(world: World) -> str:
    """A run of ``guarded`` alice started from Slack (U0ALICE, known by her profile email)."""
    told = world.slack("U0ALICE", "run guarded", lambda t: t.startswith(SLACK_DONE["start"]))
    run_id = told.split("`")[1]
    world.settled(run_id)
    return run_id


def test_a_slack_start_names_the_person(world: World, alices_run: str) -> None:
    record = world.server.store.get_run(alices_run)
    assert record is not None and record.requester == ALICE
    entry = world.audit_of("slack:U0ALICE", "start")
    assert (entry.principal, entry.target, entry.outcome) == (ALICE, alices_run, "ok")
    # Slack shows a name that is no Slack user id as text, never as a broken mention
    message = wait_for("the run message", lambda: run_message_of(world.fake, alices_run))
    assert f"started by {ALICE}" in texts(message.blocks)
    assert "<@alice" not in texts(message.blocks)


SELF = "{who} started this run and cannot approve it (the runbook does not set allow_requester)"


@pytest.mark.parametrize("door", ["api", "cli", "slack-command", "slack-button"])
def test_the_requester_cannot_approve_their_own_run_through_any_door(
    world: World, door: str, request: pytest.FixtureRequest
) -> None:
    if door == "cli":
        # the CLI acts on a store of its own: alice's run there, started on the CLI
        run_id = world.local_run(world.cli, requester=ALICE)
        code, error = cli(world, "ALICE@example.com", "approve", run_id)
        assert (code, error) == (2, SELF.format(who="ALICE@example.com"))
        record = world.cli.store.get_run(run_id)
        assert record is not None and record.status == "waiting_approval"
        return
    alices_run: str = request.getfixturevalue("alices_run")
    if door == "api":
        secret, _ = world.token("Alice@Example.com")  # the same person in another spelling
        answer = world.api(secret, "approve", alices_run)
        assert answer.status_code == 403, answer.text
        assert answer.json()["detail"] == SELF.format(who="Alice@Example.com")
    elif door == "slack-command":
        told = world.slack("U0ALICE", f"approve {alices_run}", lambda t: t.startswith(REFUSED))
        assert told == REFUSED + SELF.format(who=ALICE)
    else:
        prompt = wait_for("the prompt", lambda: prompt_of(world.fake, alices_run))
        before = len(ephemerals(world.fake, "U0ALICE"))
        value = button_value(prompt, APPROVE)
        status, _, _ = world.player.click(prompt.channel, prompt.ts, APPROVE, value, user="U0ALICE")
        assert status == 200
        told = wait_for(
            "the refusal",
            lambda: next(
                (t for t in ephemerals(world.fake, "U0ALICE")[before:] if t.startswith(REFUSED)),
                None,
            ),
        )
        assert told == REFUSED + SELF.format(who=ALICE)
    if door != "api":
        refused = world.audit_of("slack:U0ALICE", "approve")
        assert (refused.principal, refused.outcome) == (ALICE, "refused")
    record = world.server.store.get_run(alices_run)
    assert record is not None and record.status == "waiting_approval"


TWICE = "{who} has already decided on step 'gate'"


@pytest.mark.parametrize("first", ["slack", "api"])
def test_one_person_through_two_doors_gives_one_approval(world: World, first: str) -> None:
    run_id = world.served_run("pair")
    secret, _ = world.token("Alice@Example.com")

    def by_slack() -> str | None:
        told = world.slack(
            "U0ALICE",
            f"approve {run_id}",
            lambda t: t.startswith(SLACK_DONE["approve"]) or t.startswith(REFUSED),
        )
        return None if told.startswith(SLACK_DONE["approve"]) else told[len(REFUSED) :]

    def by_api() -> str | None:
        answer = world.api(secret, "approve", run_id)
        if answer.status_code == 200:
            return None
        assert answer.status_code == 403, answer.text
        return str(answer.json()["detail"])

    doors = [by_slack, by_api] if first == "slack" else [by_api, by_slack]
    assert doors[0]() is None
    world.settled(run_id)  # one approval of two: the run waits on
    second = doors[1]()
    assert second == TWICE.format(who=ALICE if first == "api" else "Alice@Example.com")
    decided = [
        e.data for e in world.server.store.events(run_id) if e.type == "approval.decided" and e.data
    ]
    assert [d["user"].casefold() for d in decided] == [ALICE]
    # someone else's approval is the second one
    bob = world.slack("U0BOB", f"approve {run_id}", lambda t: t.startswith(SLACK_DONE["approve"]))
    assert bob
    wait_for(
        "the run to finish",
        lambda: (r := world.server.store.get_run(run_id)) is not None and r.status == "succeeded",
    )
    assert world.audit_of("slack:U0BOB", "approve").principal == BOB
