"""The console's run page while a run waits at an input step: the step's message, its fields,
who may give it, and how (the console itself has no form for it)."""

from __future__ import annotations

import re

from tests.api.conftest import ALICE, BOB
from tests.web.conftest import Console

ASK = f"""\
apiVersion: runbook/v1
name: web-ask
version: 1
permissions:
  run: [{ALICE}, {BOB}]
steps:
  - id: ask
    input:
      message: "How many replicas for {{{{ run.requester }}}}?"
      from: [{BOB}]
      fields:
        replicas: {{type: integer, description: target count}}
        env: {{type: enum, choices: [staging, prod], default: staging}}
        token: {{type: string, secret: true, required: false}}
  - {{id: after, action: log, with: {{message: done}}}}
"""


def test_the_run_page_shows_the_input_it_waits_for(console: Console) -> None:
    (console.root / "runbooks" / "web-ask.yaml").write_text(ASK, encoding="utf-8")
    run_id = console.start(ALICE, "web-ask")
    assert console.wait_status(run_id, "waiting_input") == "waiting_input"
    page = console.as_user(ALICE).get(f"/runs/{run_id}")
    assert page.status_code == 200, page.text
    text = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
    assert "waiting input" in text
    assert f"Waiting for input at step ask How many replicas for {ALICE}?" in text
    assert "replicas integer, required — target count" in text
    assert "env enum: staging | prod, default staging" in text
    assert "token string, secret" in text
    assert f"From: {BOB}" in text
    assert f"runbook input {run_id} --set NAME=VALUE" in text
    assert f"POST /api/v1/runs/{run_id}/input" in text
    listed = console.as_user(ALICE).get("/", params={"status": "waiting_input"})
    assert f'href="/runs/{run_id}"' in listed.text
    # given through the API, the page no longer asks
    answer = console.api(BOB).post(f"/runs/{run_id}/input", json={"values": {"replicas": 2}})
    assert answer.status_code == 200, answer.text
    assert console.wait_status(run_id, "succeeded") == "succeeded"
    after = console.as_user(ALICE).get(f"/runs/{run_id}").text
    assert "Waiting for input" not in after
