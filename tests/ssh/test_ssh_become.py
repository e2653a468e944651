"""The inventory's ``ansible_become*`` variables on real sshd, with the step's ``sudo`` over
them, and jump hosts named as patterns name hosts.

The test servers log in as root, so sudo to root is what Ansible skips (the login user already
is the user to become); becoming ``nobody`` shows sudo at work. ``$SUDO_USER`` tells whether
the command went through sudo at all.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from runbook_engine.actions.ssh import HostsFailed, SshCommandAction, SshScriptAction
from runbook_engine.actions.ssh.become import Sudo, sudo_for
from runbook_engine.actions.ssh.command import remote_command
from runbook_engine.actions.ssh.params import CommandOptions
from runbook_engine.actions.ssh.targets import Overrides, resolve_targets
from runbook_engine.cli.hosts_cmd import hosts as hosts_command
from runbook_engine.errors import ActionInputError
from runbook_engine.inventory import load_file
from tests.ssh.ssh_helpers import SshEnv, wait_gone
from tests.ssh.sshd import addresses

pytestmark = pytest.mark.skipif(shutil.which("sudo") is None, reason="needs sudo")

#: the uid the command runs as, and who ran sudo for it ("direct": no sudo)
WHO = 'id -u; echo "${SUDO_USER:-direct}"'
NOBODY = 65534
PASSWORD = "s3cret-become-pw"


def use_ini(ssh: SshEnv, monkeypatch: pytest.MonkeyPatch, hosts_text: str) -> Path:
    """An INI inventory of the test fleet, Ansible's names only, with ``hosts_text``."""
    path = ssh.scratch.parent / "inventory.ini"
    path.write_text(
        hosts_text + "\n[all:vars]\n"
        "ansible_user=root\n"
        f"ansible_port={ssh.fleet.port}\n"
        f"ansible_ssh_private_key_file={ssh.fleet.client_key}\n"
        f"ansible_ssh_common_args='-o UserKnownHostsFile={ssh.fleet.known_hosts}'\n"
    )
    monkeypatch.setenv("RUNBOOK_INVENTORY", str(path))
    return path


def who(result: dict[str, object], index: int = 0) -> tuple[int, str]:
    hosts = result["hosts"]
    assert isinstance(hosts, list)
    uid, sudo_user = str(hosts[index]["stdout"]).split()
    return int(uid), sudo_user


BECOME = """\
[web]
w1 ansible_host=127.0.1.1 ansible_become=true ansible_become_user=nobody
w2 ansible_host=127.0.1.2 ansible_become=yes
w3 ansible_host=127.0.1.3
"""


def test_ansible_become_runs_the_command_through_sudo(
    ssh: SshEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_ini(ssh, monkeypatch, BECOME)
    result = ssh.run(SshCommandAction(), hosts="web", command=WHO)
    assert result["ok"] == ["w1", "w2", "w3"]
    assert who(result, 0) == (NOBODY, "root")  # ansible_become_user: sudo -u nobody
    # become to root as root: Ansible skips sudo then, and so do we; root all the same
    assert who(result, 1) == (0, "direct")
    assert who(result, 2) == (0, "direct")  # no ansible_become


def test_sudo_false_on_the_step_overrides_ansible_become(
    ssh: SshEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_ini(ssh, monkeypatch, BECOME)
    result = ssh.run(SshCommandAction(), hosts="w1", command=WHO, sudo=False)
    assert who(result) == (0, "direct")


def test_become_user_and_the_steps_sudo_user(ssh: SshEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    use_ini(ssh, monkeypatch, BECOME)
    # sudo: true on the step, the host's ansible_become_user says whom to become
    result = ssh.run(SshCommandAction(), hosts="w1,w3", command=WHO, sudo=True)
    assert who(result, 0) == (NOBODY, "root")
    assert who(result, 1) == (0, "root")  # asked for explicitly: sudo even to root
    # the step's sudo_user is more specific than the inventory's
    result = ssh.run(SshCommandAction(), hosts="w2", command=WHO, sudo_user="nobody")
    assert who(result) == (NOBODY, "root")
    # sudo_user alone does not turn sudo on for a host without ansible_become
    result = ssh.run(SshCommandAction(), hosts="w3", command=WHO, sudo_user="nobody")
    assert who(result) == (0, "direct")


def test_become_from_group_vars_applies_to_scripts_and_is_killed_on_timeout(
    ssh: SshEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = use_ini(ssh, monkeypatch, "[web]\nw1 ansible_host=127.0.1.4\n")
    (path.parent / "group_vars").mkdir()
    (path.parent / "group_vars" / "web.yml").write_text(
        "ansible_become: true\nansible_become_user: nobody\n"
    )
    result = ssh.run(SshScriptAction(), hosts="web", script="#!/bin/sh\n" + WHO + "\n")
    assert who(result) == (NOBODY, "root")  # the script was readable by nobody
    with pytest.raises(HostsFailed):
        ssh.run(SshCommandAction(), hosts="w1", command="sleep 617.41", timeout=1)
    assert wait_gone("sleep 617.41") == []


def test_other_become_methods_are_refused(ssh: SshEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    use_ini(
        ssh,
        monkeypatch,
        "[web]\n"
        "w1 ansible_host=127.0.1.1 ansible_become=true ansible_become_method=su\n"
        "w2 ansible_host=127.0.1.2 ansible_become=true ansible_become_method=sudo "
        "ansible_become_user=nobody\n",
    )
    with pytest.raises(ActionInputError, match=r"host w1: ansible_become_method is 'su'"):
        ssh.run(SshCommandAction(), hosts="web", command=WHO)
    assert who(ssh.run(SshCommandAction(), hosts="w2", command=WHO)) == (NOBODY, "root")
    # without become the method does not matter; the step can also say so
    assert who(ssh.run(SshCommandAction(), hosts="w1", command=WHO, sudo=False)) == (0, "direct")


def test_a_become_password_is_refused_and_never_shown(
    ssh: SshEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = use_ini(
        ssh,
        monkeypatch,
        "[web]\nw1 ansible_host=127.0.1.1 ansible_become=true ansible_become_user=nobody "
        f"ansible_become_password={PASSWORD}\n",
    )
    with pytest.raises(ActionInputError, match="ansible_become_password is set") as caught:
        ssh.run(SshCommandAction(), hosts="w1", command=WHO)
    assert PASSWORD not in str(caught.value)
    # not an obstacle where no sudo runs
    assert who(ssh.run(SshCommandAction(), hosts="w1", command=WHO, sudo=False)) == (0, "direct")
    assert not any(PASSWORD in line for line in ssh.lines)
    shown = CliRunner().invoke(hosts_command, ["-i", str(path), "w1", "--vars", "-o", "json"])
    assert shown.exit_code == 0, shown.output
    assert PASSWORD not in shown.output
    (row,) = json.loads(shown.output)["hosts"]
    assert row["vars"]["ansible_become_password"] == "<hidden>"
    assert (row["become"], row["become_user"]) == (True, "nobody")


def test_a_login_user_other_than_root_sudoes_to_root(tmp_path: Path) -> None:
    path = tmp_path / "inventory.ini"
    path.write_text("[web]\nweb1 ansible_user=deploy ansible_become=true\n")
    (target,) = resolve_targets("web1", Overrides(), load_file(path))
    sudo = sudo_for(target, sudo=None, sudo_user=None)
    assert sudo == Sudo(None)
    command = remote_command(CommandOptions(), "id -u", sudo, timeout=None)
    assert "exec sudo -n -- /bin/sh -c 'id -u'" in command.line and command.sudo


JUMP = """\
bastion ansible_host=127.0.1.50
inner1 ansible_host=127.0.1.9 ansible_ssh_common_args='-o ProxyJump=bastion'
"""


def test_a_jump_host_named_in_the_inventory_resolves_to_it(
    ssh: SshEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    (jump,) = ssh.fleet.start(addresses(1, first=50), log_level="DEBUG1")
    try:
        use_ini(ssh, monkeypatch, JUMP)
        result = ssh.run(SshCommandAction(), hosts="inner1", command="echo through")
        assert result["hosts"][0]["stdout"] == "through\n"
        assert f"target 127.0.1.9 port {ssh.fleet.port}" in jump.log.read_text()
    finally:
        jump.stop()


def test_a_jump_host_neither_in_the_inventory_nor_an_address_is_an_error(
    ssh: SshEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_ini(
        ssh,
        monkeypatch,
        "bastion ansible_host=127.0.1.50\n"
        "inner1 ansible_host=127.0.1.9 ansible_ssh_common_args='-o ProxyJump=bastoin'\n"
        "inner2 ansible_host=127.0.1.8 jump=ops@bastoin:2200\n",
    )
    with pytest.raises(ActionInputError) as caught:
        ssh.run(SshCommandAction(), hosts="inner1", command="true")
    message = str(caught.value)
    assert "host inner1: jump host 'bastoin' (from ansible_ssh_common_args)" in message
    assert "not in the inventory" in message
    with pytest.raises(ActionInputError, match=r"'ops@bastoin:2200' \(from jump\)"):
        ssh.run(SshCommandAction(), hosts="inner2", command="true")
    with pytest.raises(ActionInputError, match=r"'bastoin' \(from the step's jump parameter\)"):
        ssh.run(SshCommandAction(), hosts="bastion", command="true", jump="bastoin")


def test_jump_hosts_follow_the_literal_host_rules(tmp_path: Path) -> None:
    path = tmp_path / "inventory.ini"
    path.write_text(
        "bastion ansible_host=203.0.113.7 ansible_user=ops ansible_port=2201\n"
        "[web]\nweb1 ansible_host=10.0.0.1\n"
    )
    inventory = load_file(path)

    def hop(spec: str) -> tuple[str, str, int, str]:
        (target,) = resolve_targets("web1", Overrides(jump=spec), inventory)
        assert target.jump is not None
        j = target.jump
        return (j.name, j.address, j.port, j.user)

    assert hop("bastion") == ("bastion", "203.0.113.7", 2201, "ops")
    assert hop("jumper@bastion:2200") == ("bastion", "203.0.113.7", 2200, "jumper")
    assert hop("jump.example.com")[1:3] == ("jump.example.com", 22)
    assert hop("x@10.0.9.1:2022")[1:] == ("10.0.9.1", 2022, "x")
    assert hop("[2001:db8::1]:2222")[1:3] == ("2001:db8::1", 2222)
    for wrong in ("bastoin", "ops@bastoin", "bastoin:2200", "bastion,bastoin"):
        with pytest.raises(ActionInputError, match="is not in the inventory"):
            hop(wrong)
