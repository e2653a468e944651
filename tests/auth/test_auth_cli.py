"""The CLI's identity commands (token, audit), the identity rules of server mode, and the
four-eyes rule through every door."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runbook_engine.auth.policy import allowed
from runbook_engine.auth.principal import Principal
from runbook_engine.auth.slack_identity import SlackIdentities, read_mapping
from runbook_engine.auth.tokens import verify_token
from runbook_engine.cli import main
from runbook_engine.errors import ApprovalError
from runbook_engine.identity import Directory
from runbook_engine.service import Engine
from runbook_engine.store import Store

GATED = """\
apiVersion: runbook/v1
name: gated
version: 1
permissions: {approve: ["@leads"]}
steps:
  - {id: before, action: log, with: {message: before}}
  - id: gate
    approval: {message: "go on?"}
"""


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def gated(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A run of ``gated`` that alice started, waiting for a lead (alice is a lead too)."""
    (workdir / "runbooks").mkdir()
    (workdir / "runbooks" / "gated.yaml").write_text(GATED)
    (workdir / "groups.yaml").write_text("leads: [alice, lena]\n")
    monkeypatch.setenv("RUNBOOK_GROUPS", str(workdir / "groups.yaml"))
    started = invoke("run", "gated", "--yes", "--no-wait", "-o", "json")
    assert started.exit_code == 5, started.output
    return str(json.loads(started.output)["run_id"])


def test_token_create_prints_the_token_once(workdir: Path) -> None:
    made = invoke("token", "create", "--user", "bob@example.com", "--role", "view")
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("rbk_")
    assert "cannot be shown again" in made.stderr
    listed = invoke("token", "list", "-o", "json")
    [entry] = json.loads(listed.output)
    assert entry["user"] == "bob@example.com" and entry["roles"] == ["view"]
    assert entry["state"] == "active" and entry["expires_at"]
    assert secret not in listed.output and "hash" not in entry
    assert secret not in invoke("token", "list").output
    with Store.open() as store:
        assert verify_token(store, secret).roles == frozenset({"view"})
    revoked = invoke("token", "revoke", entry["id"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert json.loads(invoke("token", "list", "-o", "json").output)[0]["state"] == "revoked"
    again = invoke("token", "revoke", entry["id"])
    assert again.exit_code == 1 and "revoked already" in again.output


def test_token_create_refuses_a_bad_lifetime(workdir: Path) -> None:
    bad = invoke("token", "create", "--user", "bob", "--expires", "soon")
    assert bad.exit_code == 2 and "--expires" in bad.output
    never = invoke("token", "create", "--user", "bob", "--expires", "never", "-o", "json")
    assert json.loads(never.output)["expires_at"] is None


def test_audit_lists_what_was_asked_and_refused(gated: str) -> None:
    refused = invoke("approve", gated)  # alice started it
    assert refused.exit_code == 2
    approved = invoke("approve", gated, "--as", "lena", "--no-resume")
    assert approved.exit_code == 0, approved.output
    entries = json.loads(invoke("audit", "--since", "1h", "-o", "json").output)
    seen = [(e["action"], e["principal"], e["outcome"]) for e in entries]
    assert seen == [
        ("start", "alice", "ok"),
        ("approve", "alice", "refused"),
        ("approve", "lena", "ok"),
    ]
    assert all(e["via"] == "local" and e["source"].startswith("cli@") for e in entries)
    assert entries[0]["detail"] == {"runbook": "gated", "version": 1}
    assert "cannot approve it" in entries[1]["detail"]["reason"]
    text = invoke("audit", "--since", "1h").output
    assert "refused" in text and "alice (local" in text and gated in text


def test_server_mode_refuses_claimed_identities(gated: str) -> None:
    claimed = invoke("approve", gated, "--as", "lena", env={"RUNBOOK_SERVER": "https://rb"})
    assert claimed.exit_code == 2
    assert "--as is refused with RUNBOOK_SERVER set" in claimed.output
    env = {"RUNBOOK_SERVER": "https://rb", "RUNBOOK_USER": "lena"}
    claimed = invoke("cancel", gated, env=env)
    assert claimed.exit_code == 2 and "RUNBOOK_USER is refused" in claimed.output


def test_self_approval_is_refused_through_every_door(gated: str, workdir: Path) -> None:
    # the CLI, local mode, in another spelling of the same name
    cli = invoke("approve", gated, "--as", "ALICE")
    assert cli.exit_code == 2 and "started this run and cannot approve it" in cli.output
    directory = Directory.load(workdir / "groups.yaml")
    with Store.open() as store:
        engine = Engine(store=store, directory=directory)
        run = engine.load_run(gated)
        # Slack: U0ALICE is alice by the mapping file, whatever Slack groups she is in
        (workdir / "slack-users.yaml").write_text("U0ALICE: Alice\n")
        slack = SlackIdentities(read_mapping(workdir / "slack-users.yaml")).principal(
            "U0ALICE", groups=["leads"]
        )
        with pytest.raises(ApprovalError, match="Alice started this run and cannot approve"):
            engine.decide(run, user=slack.name, approve=True, extra_groups=slack.groups)
        # the API door: a token of alice
        api = allowed(
            Principal("alice", via="token:abc", source="10.0.0.1"),
            "approve",
            run.loaded.runbook,
            directory=directory,
            state=run.state,
            requester=run.record.requester,
        )
        assert not api.allowed and "cannot approve" in api.reason
        # and lena, through the API door, may
        lena = Principal("Lena", via="oidc:00u2")
        assert allowed(
            lena,
            "approve",
            run.loaded.runbook,
            directory=directory,
            state=run.state,
            requester=run.record.requester,
        ).allowed


def test_slack_users_map_by_file_then_by_profile_email() -> None:
    asked: list[str] = []

    def users_info(user: str) -> dict:
        asked.append(user)
        return {"user": {"profile": {"email": "Carol@Example.com"}}} if user == "U0C" else {}

    identities = SlackIdentities({"u0a": "alice@example.com"}, users_info)
    assert identities.principal("U0A").name == "alice@example.com"
    assert identities.principal("U0C").name == "Carol@Example.com"
    assert identities.principal("U0C").key == "carol@example.com"
    assert identities.principal("U0X").name == "U0X"  # no email: the Slack id, as before
    assert asked == ["U0C", "U0X"]  # each looked up once, then cached
    assert identities.principal("U0C") == Principal("carol@EXAMPLE.com")
