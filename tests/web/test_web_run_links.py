"""The console's run page links a child run and its parent (call steps), and a re-run and the
run it re-runs, through ``runbook serve``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.conftest import ALICE
from tests.web.conftest import Console, serving

PARENT = """\
apiVersion: runbook/v1
name: parent
version: 1
steps:
  - id: deploy
    call: {runbook: child}
"""

CHILD = """\
apiVersion: runbook/v1
name: child
version: 1
steps:
  - {id: work, action: log, with: {message: working}}
"""


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with serving(
        tmp_path_factory.mktemp("web-links"), {"parent.yaml": PARENT, "child.yaml": CHILD}
    ) as made:
        yield made


def test_a_parent_and_its_child_link_each_other(console: Console) -> None:
    run_id = console.start(ALICE, "parent")
    assert console.wait_status(run_id, "succeeded", "failed") == "succeeded"
    child = console.api(ALICE).get(f"/runs/{run_id}").json()["children"][0]["run"]
    client = console.as_user(ALICE)
    parent_page = client.get(f"/runs/{run_id}").text
    assert f'<dt>Child run</dt><dd><a href="/runs/{child}">{child}</a></dd>' in parent_page
    child_page = client.get(f"/runs/{child}").text
    assert f'Called by run <a href="/runs/{run_id}">{run_id}</a> (step deploy)' in child_page


def test_a_rerun_and_its_original_link_each_other(console: Console) -> None:
    run_id = console.start(ALICE, "parent")
    assert console.wait_status(run_id, "succeeded", "failed") == "succeeded"
    made = console.api(ALICE).post(f"/runs/{run_id}/rerun", json={})
    assert made.status_code == 201, made.text
    again = made.json()["id"]
    client = console.as_user(ALICE)
    assert (
        f'Re-run of run <a href="/runs/{run_id}">{run_id}</a>' in client.get(f"/runs/{again}").text
    )
    assert f'Re-run as <a href="/runs/{again}">{again}</a>' in client.get(f"/runs/{run_id}").text
