"""The catalog and admin commands as clients of a server: ``list``, ``diff``, ``plan``,
``schedules``, ``report``, ``token``, ``audit`` and ``whoami`` print what the local commands
print, from the server's runbooks, store and policy, and the client side keeps nothing.

The local commands run in this process (click's runner) on the server's own files and store,
so both sides describe the same things; each client is a separate process (~0.5-1 s each).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result

from runbook_engine.cli import main
from runbook_engine.schedule import SCHEDULE_REQUESTER
from tests.client.conftest import Remote

Start = Callable[[Mapping[str, str]], Remote]

#: both sides print tables at this width: a terminal width would differ between them
WIDTH = {"COLUMNS": "120"}
ROOT = "root@example.com"  # the server's policy admin
ALICE = "alice@example.com"

HELLO = """\
apiVersion: runbook/v1
name: hello
version: {version}
description: {description}
parameters:
  who: {{type: string, default: world}}
  token: {{type: string, secret: true, required: false}}
steps:
  - id: greet
    action: log
    with: {{message: "hello {{{{ params.who }}}} {{{{ params.token }}}}"}}
"""

NIGHTLY = """\
apiVersion: runbook/v1
name: nightly
version: 1
description: checks at night
schedule:
  - {cron: "0 6 * * *", timezone: UTC, params: {}}
  - {cron: "30 2 * * 1", timezone: Europe/Paris, missed: run_once}
steps:
  - id: check
    action: log
    with: {message: checked}
"""


def local(*args: str) -> Result:
    """The command without ``RUNBOOK_SERVER``: the server's files and store, read here."""
    result = CliRunner().invoke(main, list(args), env=WIDTH, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def client(
    remote: Remote,
    *args: str,
    user: str = ALICE,
    roles: list[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return remote.cli(*args, user=user, roles=roles, env={**WIDTH, **(env or {})})


def ok(answer: subprocess.CompletedProcess[str]) -> str:
    assert answer.returncode == 0, answer.stderr
    return answer.stdout


def nothing_kept(remote: Remote) -> None:
    """The client made no store, no data folder, no file at all."""
    assert list(remote.home.rglob("*")) == []


def test_catalog_commands_print_what_the_local_ones_print(remote_factory: Start) -> None:
    remote = remote_factory(
        {
            "hello": HELLO.format(version=2, description="greets twice"),
            "hello-1": HELLO.format(version=1, description="greets"),
            "nightly": NIGHTLY,
        }
    )
    assert ok(client(remote, "list")) == local("list").stdout
    mine, theirs = (
        json.loads(local("list", "-o", "json").stdout),
        json.loads(ok(client(remote, "list", "-o", "json"))),
    )
    # the API does not say where the server keeps its files: everything else is the same
    assert {r["file"] for r in theirs["runbooks"]} == {None}
    for row in mine["runbooks"]:
        row["file"] = None
    assert theirs == mine
    assert [r["name"] for r in theirs["runbooks"]] == ["hello", "nightly"]

    diff = ok(client(remote, "diff", "hello@1", "hello@2"))
    assert diff == local("diff", "hello@1", "hello@2").stdout
    assert "\n-description: greets\n" in diff and "\n+description: greets twice\n" in diff
    assert ok(client(remote, "diff", "hello", "hello@2")) == "hello@2 and hello@2 are identical\n"

    args = ("plan", "hello", "-p", "who=bob", "-p", "token=hunter2-s3cr3t")
    text = ok(client(remote, *args))
    assert text == local(*args).stdout
    assert "hello bob ***" in text and "hunter2" not in text
    planned = json.loads(ok(client(remote, *args, "-o", "json")))
    assert planned == json.loads(local(*args, "-o", "json").stdout)
    assert planned["runbook"] == "hello" and planned["version"] == 2

    # a path names a file of this machine: the server runs its own, so it is refused here
    path = client(remote, "plan", "./runbooks/hello.yaml")
    assert path.returncode == 2 and "NAME or NAME@VERSION" in path.stderr
    unknown = client(remote, "diff", "hello@1", "nope")
    assert unknown.returncode == 2 and "nope" in unknown.stderr
    nothing_kept(remote)


def _without_countdown(table: str) -> list[str]:
    """The schedules table but its last column (time until each fire, which moves on)."""
    stamp = re.compile(r"^(.*?(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|next \(UTC\)))")
    return [m.group(1) if (m := stamp.match(line)) else line for line in table.splitlines()]


def test_schedules_and_report_come_from_the_server(remote_factory: Start) -> None:
    remote = remote_factory({"nightly": NIGHTLY, "hello": HELLO.format(version=1, description="x")})
    store = remote.server.store
    # two runs the scheduler would have made: one passed, one failed its check
    for run_id, status, state in (
        ("sched-ok", "succeeded", {}),
        ("sched-bad", "failed", {"failure": {"step": "check", "message": "disk full"}}),
    ):
        store.create_run(
            run_id,
            runbook="nightly",
            version=1,
            digest="sha256:x",
            params={},
            requester=SCHEDULE_REQUESTER,
            state=state,
            status=status,
        )

    rows = json.loads(ok(client(remote, "schedules", "--count", "2", "-o", "json")))
    assert rows == json.loads(local("schedules", "--count", "2", "-o", "json").stdout)
    assert [(r["schedule"], r["timezone"]) for r in rows] == [
        (0, "UTC"),
        (0, "UTC"),
        (1, "Europe/Paris"),
        (1, "Europe/Paris"),
    ]
    table = ok(client(remote, "schedules"))
    assert _without_countdown(table) == _without_countdown(local("schedules").stdout)

    since = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()
    report = json.loads(ok(client(remote, "report", "--since", since, "-o", "json")))
    assert report == json.loads(local("report", "--since", since, "-o", "json").stdout)
    [nightly] = report["runbooks"]
    assert (nightly["passed"], nightly["failed"]) == (1, 1)
    assert nightly["failed_checks"] == {"check": 1}
    text = ok(client(remote, "report", "--since", since))
    assert text == local("report", "--since", since).stdout

    # --slack is a local posting: refused here, before the server is asked, without a token
    slack = client(remote, "report", "--slack", "#ops")
    assert slack.returncode == 1 and "SLACK_BOT_TOKEN" in slack.stderr
    nothing_kept(remote)


def _token_ids(remote: Remote, user: str) -> list[str]:
    return [t.id for t in remote.server.store.list_tokens(user)]


def test_tokens_and_the_audit_trail_through_the_server(
    remote_factory: Start, tmp_path: Path
) -> None:
    remote = remote_factory({"hello": HELLO.format(version=1, description="x")})
    made = client(
        remote, "token", "create", "--user", "bob@example.com", "--role", "view", user=ROOT
    )
    secret = ok(made).strip()
    assert secret.startswith("rbk_") and "\n" not in secret
    assert "cannot be shown again" in made.stderr and "(view)" in made.stderr
    [root_token] = _token_ids(remote, ROOT)
    [bob_token] = _token_ids(remote, "bob@example.com")

    # the new token works against the server, as bob, no further than its role
    bob = json.loads(ok(client(remote, "whoami", "-o", "json", env={"RUNBOOK_TOKEN": secret})))
    assert bob == {
        "name": "bob@example.com",
        "via": f"token:{bob_token}",
        "groups": [],
        "roles": ["view"],
        "server": remote.url,
        "note": None,
    }

    # the JSON of a token made by the server has the keys a local one has
    there = json.loads(
        ok(
            client(
                remote,
                "token",
                "create",
                "--user",
                "carol",
                "--expires",
                "never",
                "-o",
                "json",
                user=ROOT,
            )
        )
    )
    here = CliRunner().invoke(
        main,
        ["token", "create", "--user", "carol", "--expires", "never", "-o", "json"],
        env={"RUNBOOK_DB": str(tmp_path / "local.db")},
    )
    assert list(there) == list(json.loads(here.stdout))
    assert there["expires_at"] is None and there["token"].startswith("rbk_")

    refused = client(remote, "token", "create", "--user", ALICE, user=ALICE)
    assert refused.returncode == 2
    assert "may not administer the engine (policy admins: root@example.com)" in refused.stderr
    assert "rbk_" not in refused.stdout

    # anyone sees their own tokens, an admin everyone's
    mine = json.loads(ok(client(remote, "token", "list", "-o", "json", user=ALICE)))
    assert [t["user"] for t in mine] == [ALICE]
    listed = ok(client(remote, "token", "list", user=ROOT))
    assert all(name in listed for name in (ROOT, ALICE, "bob@example.com", "carol"))
    assert secret not in listed

    # someone else's token does not exist for alice; its admin revokes it, and it stops
    others = client(remote, "token", "revoke", bob_token, user=ALICE)
    assert others.returncode == 1 and "does not exist" in others.stderr
    assert (
        ok(client(remote, "token", "revoke", bob_token, user=ROOT))
        == f"token {bob_token} revoked\n"
    )
    gone = client(remote, "whoami", env={"RUNBOOK_TOKEN": secret})
    assert gone.returncode == 2 and "revoked" in gone.stderr
    again = client(remote, "token", "revoke", bob_token, user=ROOT)
    assert again.returncode == 1 and "revoked already" in again.stderr

    trail = json.loads(ok(client(remote, "audit", "-o", "json", user=ROOT)))
    assert all(
        list(e) == ["at", "principal", "via", "source", "action", "target", "outcome", "detail"]
        for e in trail
    )
    seen = [(e["action"], e["principal"], e["outcome"]) for e in trail]
    assert seen == [
        ("token.create", ROOT, "ok"),
        ("token.create", ROOT, "ok"),
        ("token.create", ALICE, "refused"),
        ("token.revoke", ALICE, "refused"),
        ("token.revoke", ROOT, "ok"),
    ]
    by_root = [e for e in trail if e["principal"] == ROOT]
    assert {(e["via"], e["source"]) for e in by_root} == {(f"token:{root_token}", "127.0.0.1")}
    assert trail[0]["target"] == bob_token
    text = ok(client(remote, "audit", user=ROOT))
    assert f"refused  token.create  {ALICE}" in text
    assert "may not administer the engine" in text and "(token:" in text and "127.0.0.1)" in text

    not_admin = client(remote, "audit", user=ALICE)
    assert not_admin.returncode == 2 and "may not administer the engine" in not_admin.stderr
    nothing_kept(remote)


def test_whoami_and_a_server_without_a_token(remote_factory: Start) -> None:
    remote = remote_factory({"hello": HELLO.format(version=1, description="x")})
    shown = ok(client(remote, "whoami", user=ALICE, roles=["view", "run"]))
    [alice_token] = _token_ids(remote, ALICE)
    assert shown.splitlines() == [
        ALICE,
        f"  via     token:{alice_token}",
        "  groups  -",
        "  roles   run, view",
        f"  server  {remote.url}",
    ]
    claimed = client(remote, "whoami", "-o", "json", env={"RUNBOOK_USER": "mallory"})
    assert json.loads(ok(claimed))["name"] == ALICE and "RUNBOOK_USER is ignored" in claimed.stderr
    refused = client(remote, "token", "revoke", alice_token, env={"RUNBOOK_USER": "mallory"})
    assert refused.returncode == 2 and "RUNBOOK_USER is refused" in refused.stderr
    here = local("whoami", "-o", "json")
    mine = json.loads(here.stdout)
    assert mine["via"] == "local" and mine["server"] is None
    assert "only as trustworthy as the store's permissions" in mine["note"]
    assert "only as trustworthy" in local("whoami").stdout

    for command in (["list"], ["token", "list"]):
        missing = client(remote, *command, env={"RUNBOOK_TOKEN": ""})
        assert missing.returncode == 2, command
        assert "RUNBOOK_SERVER is set: the server needs RUNBOOK_TOKEN" in missing.stderr
    nothing_kept(remote)
