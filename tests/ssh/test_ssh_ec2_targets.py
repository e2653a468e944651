"""ssh.command targeting EC2 instances by tag: moto (server mode) says which instances exist,
real sshd answers on their (loopback) private addresses."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from moto.server import ThreadedMotoServer

from runbook_engine.actions.ssh import SshCommandAction
from runbook_engine.cli import main
from runbook_engine.errors import ActionInputError
from tests.ssh.ssh_helpers import SshEnv
from tests.ssh.sshd import addresses


@pytest.fixture
def ec2_fleet(ssh: SshEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        # moto keeps its state per process, not per server: start from an empty account
        import urllib.request

        urllib.request.urlopen(
            urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")
        ).close()
        for name in list(os.environ):
            if name.startswith("AWS_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
        ec2 = boto3.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="127.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="127.0.1.0/24")["Subnet"]["SubnetId"]
        ids = []
        for i, address in enumerate(addresses(4)):
            role = "web" if i < 3 else "db"
            made = ec2.run_instances(
                ImageId="ami-12c6146b",
                MinCount=1,
                MaxCount=1,
                SubnetId=subnet,
                PrivateIpAddress=address,
                TagSpecifications=[
                    {"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": role}]}
                ],
            )
            ids.append(made["Instances"][0]["InstanceId"])
        yield ids
    finally:
        server.stop()


def test_targets_instances_by_tag(ssh: SshEnv, ec2_fleet: list[str]) -> None:
    result = ssh.run(
        SshCommandAction(), hosts="ec2:tag:Role=web", command='set -- $SSH_CONNECTION; echo "on $3"'
    )
    assert sorted(result["ok"]) == sorted(ec2_fleet[:3])
    by_name = {h["host"]: h for h in result["hosts"]}
    for instance_id, address in zip(ec2_fleet[:3], addresses(3), strict=True):
        assert by_name[instance_id]["address"] == address
        assert by_name[instance_id]["stdout"] == f"on {address}\n"


def test_no_matching_instance_is_an_input_error(ssh: SshEnv, ec2_fleet: list[str]) -> None:
    with pytest.raises(ActionInputError, match="matches no running EC2 instance"):
        ssh.run(SshCommandAction(), hosts="ec2:tag:Role=cache", command="true")


def test_runbook_hosts_lists_ec2_instances(ssh: SshEnv, ec2_fleet: list[str]) -> None:
    import json

    result = CliRunner().invoke(main, ["hosts", "ec2:tag:Role=db", "-o", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["hosts"]
    assert [r["name"] for r in rows] == [ec2_fleet[3]]
    assert rows[0]["address"] == addresses(4)[3]
