"""`runbook serve` fires runbooks' schedules: each tick once, runs recorded as by "schedule"."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runbook_engine.server.serve import Server
from runbook_engine.slack.settings import SlackSettings
from runbook_engine.testing.fake_slack import FakeSlack
from tests.slack.slack_helpers import FAST

TICKING = """\
apiVersion: runbook/v1
name: ticking
version: 1
parameters:
  who: {type: string, default: nobody}
schedule:
  - {cron: "* * * * * *", params: {who: scheduler}}
steps:
  - id: say
    action: log
    with: {message: "tick for {{ params.who }}"}
"""


def test_serve_fires_each_tick_once(slack_env: Path, fake: FakeSlack) -> None:
    (slack_env / "runbooks" / "ticking.yaml").write_text(TICKING)
    servers = [Server(SlackSettings.from_env(), FAST) for _ in range(2)]
    began = time.monotonic()
    for srv in servers:
        srv.start()
    try:
        time.sleep(4.5)
    finally:
        for srv in servers:
            srv.stop()
    elapsed = time.monotonic() - began
    from runbook_engine.store import Store

    with Store.open() as store:
        runs = store.list_runs(runbook="ticking")
        ticks = [t for t in store.ticks("ticking") if t.outcome == "started"]
        # one tick per second while they ran, plus the two seconds a new schedule looks back
        assert 3 <= len(runs) <= int(elapsed) + 3
        assert sorted(r.id for r in runs) == sorted(t.run_id for t in ticks if t.run_id)
        assert len({t.fire_at for t in ticks}) == len(ticks)  # two servers, one run per tick
        for record in runs:
            assert record.requester == "schedule"
            assert record.params == {"who": "scheduler"}
        finished = [r for r in runs if r.status == "succeeded"]
        assert finished, [r.status for r in runs]


def test_serve_exposes_metrics(server: Server) -> None:
    import urllib.request

    from runbook_engine.service import Engine
    from runbook_engine.spec import load_text

    runbook = load_text(
        TICKING.replace("schedule:", "x-unused:").split("x-unused")[0]
        + "steps:\n  - {id: say, action: log, with: {message: hi}}\n",
        "m.yaml",
    )
    Engine(store=server.store, subscribers=[server.metrics]).start(runbook, {}, requester="alice")
    with urllib.request.urlopen(f"{server.url}/metrics") as response:
        text = response.read().decode()
    assert 'runbook_runs_finished_total{runbook="ticking",status="succeeded"} 1.0' in text
    assert "runbook_step_duration_seconds_bucket" in text
    assert "runbook_approvals_waiting" in text
    with urllib.request.urlopen(f"{server.url}/healthz") as response:
        assert response.status == 200


def test_serve_without_slack_runs_schedules(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import urllib.error
    import urllib.request

    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    (workdir / "runbooks").mkdir(exist_ok=True)
    (workdir / "runbooks" / "ticking.yaml").write_text(TICKING)
    server = Server(None, FAST)
    server.start()
    try:
        with urllib.request.urlopen(f"{server.url}/healthz") as response:
            assert json.loads(response.read())["ok"] is True
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(
                urllib.request.Request(f"{server.url}/slack/events", data=b"x", method="POST")
            )
        assert refused.value.code == 404
        refused.value.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            runs = server.store.list_runs(runbook="ticking", status="succeeded")
            if runs:
                break
            time.sleep(0.2)
        assert runs, "no scheduled run finished"
        with urllib.request.urlopen(f"{server.url}/metrics") as response:
            assert 'runbook_runs_finished_total{runbook="ticking"' in response.read().decode()
    finally:
        server.stop()
