"""A loop of many items in the views: ``runbook run``'s progress, ``runbook show RUN``,
``runbook logs --step``, the web console's timeline and the Slack run message and thread. Each
shows the loop step with its items counted and its failed items named, never a line per item."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from runbook_engine.cli import main
from runbook_engine.core.apply import Layout
from runbook_engine.core.item_lines import ITEM_LINES
from runbook_engine.runtime.bus import Event, RunInfo
from runbook_engine.runtime.loading import load_state
from runbook_engine.slack.messages import RunView, run_message
from runbook_engine.slack.outbox import Outbox, Reply
from runbook_engine.spec.loader import load_text
from runbook_engine.store import Store
from runbook_engine.web.timeline import ROLLBACK_ITEMS, timeline

ITEMS = 200

MANY = f"""\
apiVersion: runbook/v1
name: many
version: 1
steps:
  - id: each
    action: shell.command
    for_each: "{{{{ range({ITEMS}) | list }}}}"
    max_concurrency: 4
    on_item_failure: continue
    with: {{command: "echo hi {{{{ item }}}}; test {{{{ item }}}} != 7 -a {{{{ item }}}} != 150"}}
    rollback: {{action: log, with: {{message: "undo {{{{ item }}}}"}}}}
  - id: after
    action: log
    with: {{message: never}}
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def ran(workdir: Path) -> tuple[str, Result]:
    path = workdir / "many.yaml"
    path.write_text(MANY)
    result = invoke("run", str(path), "--yes")
    run_id = json.loads(invoke("runs", "-o", "json").output)[0]["id"]
    return run_id, result


def test_run_progress_and_show_print_the_first_items_and_count_the_rest(workdir: Path) -> None:
    run_id, result = ran(workdir)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    # the first items' events, both failures, and a count of the rest: not 600 lines
    assert len(lines) < 8 * ITEM_LINES, result.output
    assert "each[150]: command exited with 1" in result.output
    assert f"each[{ITEM_LINES + 5}]" not in result.output
    assert "events of its other items not shown" in result.output
    assert "200 items: 198 succeeded, 2 failed" in " ".join(result.output.split())

    shown = invoke("show", run_id)
    assert shown.exit_code == 0
    assert len(shown.output.splitlines()) < 8 * ITEM_LINES, shown.output
    assert "loop.started" in shown.output and "for each of 200 items" in shown.output
    assert "each[150]: command exited with 1" in shown.output
    assert "events of its other items not shown" in shown.output
    assert f"runbook logs {run_id} --step each" in shown.output

    # the log of the loop step is its items' log
    logs = invoke("logs", run_id, "--step", "each")
    assert "hi 199" in logs.output and "hi 0" in logs.output


def test_the_web_timeline_and_slack_summarise_a_loop(workdir: Path) -> None:
    run_id, _ = ran(workdir)
    loaded = load_text(MANY)
    with Store.open(str(workdir / "runbook.db")) as store:
        record = store.get_run(run_id)
        assert record is not None
        state = load_state(store, Layout.of(loaded.runbook), record)
        events = store.events(run_id)

    shown = timeline(loaded.runbook, state)
    assert [row.id for row in shown.steps] == ["each", "after"]
    row = shown.steps[0]
    assert row.loop is not None
    assert row.loop["items"] == ITEMS and row.loop["failed"] == 2
    assert row.loop["failed_items"] == ["each[7]", "each[150]"]
    assert row.loop_text == "200 items: 198 succeeded, 2 failed (each[7], each[150])"
    # the rollback lists a loop's first items and one row for the others
    assert len(shown.rollback) == ROLLBACK_ITEMS + 1
    assert shown.rollback[-1].step == f"each: {ITEMS - 2 - ROLLBACK_ITEMS:,} more items"
    assert shown.rollback[-1].status == "succeeded"

    view = RunView.of(run_id, loaded, "alice", {}, state)
    _, blocks = run_message(view, now=state.finished_at or 0.0)
    text = json.dumps(blocks)
    assert "200 items: 198 succeeded, 2 failed (each[7], each[150])" in text
    assert "each[3]" not in text

    # the thread: replies for the failures and the first items' rollbacks, not 600 of them
    box = Outbox(run_id)
    info = RunInfo(id=run_id, runbook="many", version=1, digest="", requester="alice")
    for e in events:
        box.add(info, Event(run_id, e.seq, e.ts.timestamp(), e.type, e.step_id, e.data), state)
    replies = [p for p in box.posts if isinstance(p, Reply)]
    assert len(replies) < 4 * ITEM_LINES
    assert any("each[150]" in r.text for r in replies)
