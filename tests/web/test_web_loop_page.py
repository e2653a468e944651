"""A run with a loop of 300 items through ``runbook serve``: the API's run detail counts the
loop's items, the console's run page shows the loop step with its counts and failed items (not
a row per item), and the page's log of the loop step is its items' log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.conftest import ALICE
from tests.web.conftest import Console, serving

LOOP = """\
apiVersion: runbook/v1
name: loop
version: 1
description: a loop of many items, two of which fail
steps:
  - id: each
    action: shell.command
    for_each: "{{ range(300) | list }}"
    max_concurrency: 8
    on_item_failure: continue
    on_failure: continue
    with: {command: "echo item-{{ item }}; test {{ item }} != 12 -a {{ item }} != 250"}
    rollback: {action: log, with: {message: "undo {{ item }}"}}
  - {id: after, action: log, with: {message: "{{ steps.each.status }}"}}
"""


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with serving(tmp_path_factory.mktemp("web-loop"), {"loop.yaml": LOOP}) as made:
        yield made


def test_the_api_and_the_run_page_summarise_a_loop(console: Console) -> None:
    run_id = console.start(ALICE, "loop")
    assert console.wait_status(run_id, "succeeded", "failed", timeout=60) == "succeeded"

    detail = console.api(ALICE).get(f"/runs/{run_id}").json()
    assert detail["loops"]["each"] == {
        "items": 300,
        "succeeded": 298,
        "skipped": 0,
        "failed": 2,
        "running": 0,
        "not_started": 0,
        "failed_items": ["each[12]", "each[250]"],
    }
    assert detail["state"]["steps"]["each[250]"]["status"] == "failed"
    assert detail["order"] == ["each", "after"]

    client = console.as_user(ALICE)
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    html = page.text
    assert 'id="step-each"' in html
    assert "300 items: 298 succeeded, 2 failed (each[12], each[250])" in html
    assert 'id="step-each[3]"' not in html  # the items are no rows of the timeline

    only = client.get(f"/runs/{run_id}", params={"step": "each"}).text
    log = only[only.index('id="log-lines"') :]
    assert "item-0" in log and "item-299" in log
