"""``runbook rerun`` as a client of a server: the server checks, records and drives the re-run;
the CLI gives the secrets again, follows the new run and exits as it would locally."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from tests.client.conftest import Remote

Factory = Callable[[Mapping[str, str]], Remote]

FLAKY = """\
apiVersion: runbook/v1
name: flaky
version: 1
parameters:
  token: {{type: string, secret: true}}
steps:
  - id: build
    action: shell.command
    with: {{command: "echo built >> {marks}/built"}}
  - id: apply
    action: shell.command
    with:
      command: 'test -e {marks}/go && test "$TOKEN" = s3cr3t-value'
      env: {{TOKEN: "{{{{ params.token }}}}"}}
"""


def cli(remote: Remote, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    kw.setdefault("input", "")  # no terminal: nothing waits for a person
    return remote.cli(*args, **kw)  # type: ignore[arg-type]


def test_rerun_through_the_server_follows_the_new_run(
    remote_factory: Factory, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    remote = remote_factory({"flaky": FLAKY.format(marks=marks)})
    (remote.home / "token.txt").write_text("s3cr3t-value\n")
    first = cli(remote, "run", "flaky", "-p", "token=@token.txt", "-o", "json")
    assert first.returncode == 1, first.stderr
    original = json.loads(first.stdout)["run_id"]
    (marks / "go").touch()

    # the secret was never stored: without it, the server refuses and nothing is recorded
    missing = cli(remote, "rerun", original, "--from", "apply")
    assert missing.returncode == 2
    assert "parameter 'token'" in missing.stderr and "never stored" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert len(remote.server.store.list_runs(limit=20)) == 1

    again = cli(remote, "rerun", original, "--from", "apply", "-p", "token=@token.txt")
    assert again.returncode == 0, again.stderr
    assert f"re-run of {original} (from apply)" in again.stderr
    found = re.search(r"run (r[0-9a-f]{11}): succeeded", again.stdout)
    assert found, again.stdout
    assert (marks / "built").read_text() == "built\n"  # build was carried over
    assert "s3cr3t-value" not in again.stdout + again.stderr
    shown = cli(remote, "show", found.group(1))
    assert f"re-run of {original} (from apply)" in shown.stdout, shown.stderr

    left = cli(remote, "rerun", original, "--no-follow", "-p", "token=@token.txt", "-o", "json")
    assert left.returncode == 0, left.stderr
    answer = json.loads(left.stdout)
    assert answer["rerun_of"] == {"run": original, "from": None, "failed_hosts": False}
    assert answer["run_id"].startswith("r")
    assert remote.local_files() == []


def test_refusals_exit_as_locally(remote_factory: Factory, tmp_path: Path) -> None:
    remote = remote_factory({"flaky": FLAKY.format(marks=tmp_path)})
    (remote.home / "token.txt").write_text("s3cr3t-value\n")
    first = cli(remote, "run", "flaky", "-p", "token=@token.txt", "-o", "json")
    original = json.loads(first.stdout)["run_id"]
    bad = cli(remote, "rerun", original, "--from", "nope", "-p", "token=@token.txt")
    assert bad.returncode == 2
    assert "no such top-level step; its steps: build, apply" in bad.stderr
    hosts = cli(remote, "rerun", original, "--failed-hosts", "-p", "token=@token.txt")
    assert hosts.returncode == 2 and "no step runs on hosts" in hosts.stderr
    inventory = cli(remote, "rerun", original, "--inventory", str(remote.home / "token.txt"))
    assert inventory.returncode == 2 and "--inventory is refused" in inventory.stderr
    for result in (bad, hosts, inventory):
        assert "Traceback" not in result.stderr
