"""Helpers for the AWS tests: resources created in moto, and a fault-injecting HTTP proxy."""

from __future__ import annotations

import http.client
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from runbook_engine.actions.aws import ACTIONS
from runbook_engine.plugin import Registry, builtin_actions

#: an AMI id moto accepts without loading its (slow) catalogue of real AMIs
AMI = "ami-12c6146b"


# --------------------------------------------------------------------------- resources in moto


def make_asg(
    name: str,
    *,
    desired: int,
    min_size: int = 0,
    max_size: int = 10,
    region: str = "us-east-1",
    protected: bool = False,
) -> None:
    """A group of ``desired`` InService instances (moto brings them up at once). ``protected``:
    instances are protected from scale-in, so a scale-in never completes (as on AWS)."""
    client = boto3.client("autoscaling", region_name=region)
    client.create_launch_configuration(
        LaunchConfigurationName=name, ImageId=AMI, InstanceType="t3.micro"
    )
    client.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchConfigurationName=name,
        MinSize=min_size,
        MaxSize=max_size,
        DesiredCapacity=desired,
        AvailabilityZones=[f"{region}a"],
        NewInstancesProtectedFromScaleIn=protected,
    )


def asg_state(name: str, region: str = "us-east-1") -> dict[str, Any]:
    client = boto3.client("autoscaling", region_name=region)
    group: dict[str, Any] = client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ][0]
    return group


def make_ecs_service(
    monkeypatch: pytest.MonkeyPatch, cluster: str, service: str, *, revisions: int, desired: int
) -> list[str]:
    """A service on the last of ``revisions`` task definitions; their ARNs, oldest first."""
    client = boto3.client("ecs")
    client.create_cluster(clusterName=cluster)
    family = service
    arns = [
        client.register_task_definition(
            family=family,
            containerDefinitions=[{"name": "app", "image": f"app:v{n}", "memory": 128}],
        )["taskDefinition"]["taskDefinitionArn"]
        for n in range(1, revisions + 1)
    ]
    # moto reports this many running tasks for services created now (its model of "all up")
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", str(desired))
    client.create_service(
        cluster=cluster, serviceName=service, taskDefinition=arns[-1], desiredCount=desired
    )
    return arns


def ecs_state(cluster: str, service: str) -> dict[str, Any]:
    found: dict[str, Any] = boto3.client("ecs").describe_services(
        cluster=cluster, services=[service]
    )["services"][0]
    return found


def make_instances(count: int, tags: dict[str, str], region: str = "us-east-1") -> list[str]:
    client = boto3.client("ec2", region_name=region)
    reservation = client.run_instances(
        ImageId=AMI,
        MinCount=count,
        MaxCount=count,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
    )
    return sorted(i["InstanceId"] for i in reservation["Instances"])


def instance_states(ids: list[str], region: str = "us-east-1") -> dict[str, str]:
    client = boto3.client("ec2", region_name=region)
    answer = client.describe_instances(InstanceIds=ids)
    return {
        i["InstanceId"]: i["State"]["Name"] for r in answer["Reservations"] for i in r["Instances"]
    }


# --------------------------------------------------------------------------- fault proxy


@dataclass
class Fault:
    status: int
    body: bytes
    content_type: str


def throttling(protocol: str) -> Fault:
    """The throttling answer a service of ``protocol`` gives (AWS's own formats)."""
    if protocol == "json":
        body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
        return Fault(400, body, "application/x-amz-json-1.1")
    body = (
        b'<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">'
        b"<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
        b"</Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
    )
    return Fault(400, body, "text/xml")


def unavailable() -> Fault:
    return Fault(503, b"<html>Service Unavailable</html>", "text/html")


@dataclass
class FaultProxy:
    """A real HTTP endpoint between boto3 and moto: answers the queued faults first, then
    forwards. ``requests`` lists every request it saw (its body), faults included."""

    upstream: str
    faults: list[Fault] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        proxy = self
        target = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._handle()

            def do_GET(self) -> None:
                self._handle()

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.requests.append(body)
                if proxy.faults:
                    fault = proxy.faults.pop(0)
                    self._answer(fault.status, fault.body, {"Content-Type": fault.content_type})
                    return
                assert target.hostname is not None
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                try:
                    conn.request(self.command, self.path, body, dict(self.headers.items()))
                    reply = conn.getresponse()
                    self._answer(reply.status, reply.read(), dict(reply.getheaders()))
                finally:
                    conn.close()

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                skip = {"content-length", "transfer-encoding", "connection", "server", "date"}
                for key, value in headers.items():
                    if key.lower() not in skip:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def aws_registry() -> Registry:
    registry = Registry()
    for action_cls in (*builtin_actions(), *ACTIONS):
        registry.register(action_cls)
    return registry
