"""``env:`` values of ``ssh.command`` and ``ssh.script`` never reach a remote command line.

The test servers run on this machine, so every remote process is a local one: while the
command sleeps, the test reads ``/proc/*/cmdline`` of every process and looks for the value (and
its base64 form). The command proves it got the value by printing its SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.actions.ssh import SshCommandAction, SshScriptAction
from runbook_engine.plugin.contract import Action
from tests.ssh.ssh_helpers import SshEnv

#: spaces, both quotes, a command substitution, backticks, newlines (a trailing one included)
SECRET = "p@ss word 'single' \"double\" $(touch {marker}) `id` \\n\nsecond line\n"
#: the command hashes the variable as it sees it, then sleeps while the test looks
HASH_AND_WAIT = 'printf %s "$TOKEN" | sha256sum | cut -d" " -f1; sleep 1.5'


def all_command_lines() -> list[bytes]:
    found: list[bytes] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            found.append((entry / "cmdline").read_bytes())
        except OSError:
            continue  # exited since the listing
    return found


def watch_while(run: Any, needles: list[bytes]) -> tuple[Any, int, list[bytes]]:
    """Run ``run()`` in a thread, scanning every process's argv until it returns; the result,
    how many scans were made, and the command lines that held a needle."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = run()
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    scans = 0
    leaked: list[bytes] = []
    while thread.is_alive():
        for line in all_command_lines():
            if any(needle in line for needle in needles):
                leaked.append(line)
        scans += 1
        time.sleep(0.05)
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"], scans, leaked


def secret_for(ssh: SshEnv) -> tuple[str, Path]:
    marker = ssh.scratch / "substituted"
    return SECRET.format(marker=marker), marker


def run_hidden(ssh: SshEnv, action: Action, secret: str, **raw: Any) -> dict[str, Any]:
    needles = [
        secret.encode(),
        secret.splitlines()[0].encode(),
        base64.b64encode(secret.encode()),
    ]
    result, scans, leaked = watch_while(
        lambda: ssh.run(action, env={"TOKEN": secret, "OTHER": "plain"}, **raw), needles
    )
    assert scans >= 5  # the command was looked at while it ran, not only after
    assert leaked == []
    host = result["hosts"][0]
    assert host["stdout"].splitlines()[0] == hashlib.sha256(secret.encode()).hexdigest()
    return dict(host)


def test_ssh_command_env_is_in_no_process_argv(ssh: SshEnv) -> None:
    secret, marker = secret_for(ssh)
    host = run_hidden(
        ssh,
        SshCommandAction(),
        secret,
        hosts="h01",
        command=HASH_AND_WAIT + '; echo "$OTHER"; cat',
        stdin="the command's own input\n",
    )
    # the command's stdin is intact after the values were read off it
    assert host["stdout"].splitlines()[1:] == ["plain", "the command's own input"]
    assert not marker.exists()  # $(...) in the value was never run


@pytest.mark.skipif(shutil.which("sudo") is None, reason="needs sudo")
def test_ssh_command_env_under_sudo_is_in_no_process_argv(ssh: SshEnv) -> None:
    secret, marker = secret_for(ssh)
    host = run_hidden(
        ssh,
        SshCommandAction(),
        secret,
        hosts="h02",
        command=HASH_AND_WAIT + '; id -u; echo "$SUDO_USER"',
        sudo=True,
        sudo_user="nobody",
    )
    assert host["stdout"].splitlines()[1:] == ["65534", "root"]  # really through sudo
    assert not marker.exists()


def test_ssh_script_env_is_in_no_process_argv(ssh: SshEnv) -> None:
    secret, marker = secret_for(ssh)
    host = run_hidden(
        ssh,
        SshScriptAction(),
        secret,
        hosts="h03",
        script=HASH_AND_WAIT + '\necho "$1"\n',
        args=["an argument"],
    )
    assert host["stdout"].splitlines()[1:] == ["an argument"]
    assert not marker.exists()


def test_an_empty_value_and_a_path_change_still_arrive(ssh: SshEnv) -> None:
    # PATH is exported only after every value was decoded: base64 is still found.
    result = ssh.run(
        SshCommandAction(),
        hosts="h04",
        command='printf "[%s][%s][%s]" "$EMPTY" "$PATH" "$LAST"',
        env={"EMPTY": "", "PATH": "/usr/bin:/bin", "LAST": "end"},
    )
    assert result["hosts"][0]["stdout"] == "[][/usr/bin:/bin][end]"
