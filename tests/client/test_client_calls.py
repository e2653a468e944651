"""A call step through the server: the child run waits for an approval, which is given on the
child by another user through the API (the CLI as its client); the server carries the child and
then the parent on, and ``runbook show`` draws the tree of runs. The requester cannot approve
the child either: the same four-eyes rule as on any run."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping

from tests.client.conftest import Remote

Factory = Callable[[Mapping[str, str]], Remote]

PARENT = """\
apiVersion: runbook/v1
name: release
version: 1
parameters:
  service: {type: string, default: api}
steps:
  - {id: prep, action: log, with: {message: "releasing {{ params.service }}"}}
  - id: deploy
    call: {runbook: deploy-one, with: {service: "{{ params.service }}"}}
  - id: after
    action: log
    with: {message: "deployed {{ steps.deploy.outputs.apply.deployed }}"}
"""

CHILD = """\
apiVersion: runbook/v1
name: deploy-one
version: 1
parameters:
  service: {type: string}
permissions:
  approve: [bob@example.com]
steps:
  - id: ok
    approval: {message: "deploy {{ params.service }}?"}
  - id: apply
    action: log
    with: {message: "deploying {{ params.service }}"}
    outputs: {deployed: "{{ params.service }}"}
"""


def test_a_childs_approval_is_given_on_the_child_and_the_parent_goes_on(
    remote_factory: Factory,
) -> None:
    remote = remote_factory({"release": PARENT, "deploy-one": CHILD})
    run = remote.spawn("run", "release", "--yes", "-o", "json")
    store = remote.server.store
    deadline = time.monotonic() + 30
    child = None
    while child is None:
        assert time.monotonic() < deadline, "the child run never waited for its approval"
        waiting = store.list_runs(runbook="deploy-one", status="waiting_approval")
        child = waiting[0].id if waiting else None
        time.sleep(0.05)

    refused = remote.cli("approve", child)  # alice started the parent, so the child too
    assert refused.returncode != 0
    assert "started this run and cannot approve it" in refused.stderr

    approved = remote.cli("approve", child, user="bob@example.com")
    assert approved.returncode == 0, approved.stderr
    stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == 0, stderr
    parent = json.loads(stdout)
    assert parent["status"] == "succeeded"
    outputs = parent["steps"]["deploy"]["outputs"]
    assert outputs == {"ok": {"approved_by": ["bob@example.com"]}, "apply": {"deployed": "api"}}

    shown = remote.cli("show", parent["run_id"])
    assert shown.returncode == 0, shown.stderr
    assert "runs:" in shown.stdout
    assert f"deploy: {child}  deploy-one@1  succeeded" in shown.stdout
    detail = remote.cli("show", child, "-o", "json")
    assert json.loads(detail.stdout)["parent"] == {"run": parent["run_id"], "step": "deploy"}
