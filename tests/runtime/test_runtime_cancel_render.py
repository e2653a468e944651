"""A cancel written by another engine ends a long template render within about a second,
instead of when the render's time budget (up to 10 s) runs out; the run rolls back as
cancelled and the step's failure says the render was cancelled."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from runbook_engine.service import Engine
from runbook_engine.store import Store
from tests.runtime.runtime_actions import BOARD
from tests.runtime.runtime_helpers import of_type, runbook, wait_for

#: ten billion loop turns: it would render until the budget (10 s) ends it
SLOW = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


def test_a_cancel_from_another_engine_stops_a_long_render(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    loaded = runbook(
        f"""
        steps:
          - {{id: one, action: test.undoable, with: {{name: one}}}}
          - id: slow
            action: log
            timeout: 60s
            with: {{message: "{SLOW}"}}
          - {{id: never, action: test.undoable, with: {{name: never}}}}
        """
    )
    other_store = Store.open("sqlite:///" + str(tmp_path / "r.db"))
    other = Engine(store=other_store, registry=engine.registry)
    asked: list[float] = []

    def cancel_while_rendering() -> None:
        # step one's success is committed with the next step's start, after the render
        wait_for(lambda: of_type(store, "r-render", "step.started", "one"), what="step one")
        time.sleep(0.8)  # step one is done and the next step's render under way
        other.cancel("r-render", by="bob", reason="wrong host")
        asked.append(time.monotonic())

    canceller = threading.Thread(target=cancel_while_rendering)
    canceller.start()
    try:
        out = engine.start(loaded, {}, requester="alice", run_id="r-render")
    finally:
        canceller.join()
        other_store.close()
    ended = time.monotonic()
    assert asked, "the cancel was never written"
    assert ended - asked[0] < 3.0  # far less than the render's 10 s budget
    assert out.status == "cancelled"
    assert out.state.cancelled_by == "bob"
    (failed,) = of_type(store, out.run_id, "step.failed", "slow")
    assert failed.data["error"]["kind"] == "template"
    assert "cancelled while the template rendered" in failed.data["error"]["message"]
    (rolled,) = of_type(store, out.run_id, "rollback.started")
    assert rolled.data["reason"] == "cancelled"
    assert BOARD.journal == [("do", "one", None), ("undo", "one", "one")]
    assert not of_type(store, out.run_id, "step.started", "never")
