"""The runs list and a run's page over HTTP: what they show, the filters and pages, the log
stream with a session, and the buttons: shown only to whom the policy allows, each a POST
with its CSRF token that goes through the API's own functions."""

from __future__ import annotations

import json
import re

import pytest

from runbook_engine.auth.tokens import revoke_token
from runbook_engine.store import NewEvent
from runbook_engine.web import run_page, run_stream, timeline
from runbook_engine.web import runs as runs_module
from tests.web.conftest import ADMIN, ALICE, BOB, CAROL, DAVE, OUTSIDER, Console, csrf_of


def _run_ids(html: str) -> list[str]:
    return re.findall(r'href="/runs/([0-9a-f]{12})"', html)


def _buttons(html: str) -> list[str]:
    return [b.strip() for b in re.findall(r"<button[^>]*>([^<]+)</button>", html)]


def test_the_runs_list_shows_runs_newest_first(console: Console) -> None:
    first = console.start(ALICE, "hello", who="first")
    second = console.start(BOB, "hello", who="second")
    console.wait_status(first, "succeeded")
    console.wait_status(second, "succeeded")
    page = console.as_user(ALICE).get("/")
    assert page.status_code == 200
    ids = _run_ids(page.text)
    assert ids.index(second) < ids.index(first)
    assert 'hello<span class="muted">@2</span>' in page.text
    assert 'aria-current="page"' in page.text  # Runs is the page shown
    assert 'hx-trigger="every 3s"' in page.text  # the table refreshes itself


def test_filters_narrow_the_list(console: Console) -> None:
    mine = console.start(BOB, "hello", who="bob")
    console.wait_status(mine, "succeeded")
    client = console.as_user(ALICE)
    by_bob = _run_ids(client.get("/", params={"requester": BOB}).text)
    assert mine in by_bob
    assert all(console.store.get_run(r).requester == BOB for r in by_bob)  # type: ignore[union-attr]
    failed = client.get("/", params={"status": "failed"})
    assert mine not in _run_ids(failed.text)
    assert '<option value="failed" selected>' in failed.text
    assert mine in _run_ids(client.get("/", params={"runbook": "hello", "since": "1h"}).text)
    assert mine not in _run_ids(client.get("/", params={"runbook": "gate"}).text)
    later = client.get("/", params={"since": "2999-01-01"})
    assert _run_ids(later.text) == []
    assert "No runs match these filters." in later.text
    wrong = client.get("/", params={"since": "last tuesday"})
    assert wrong.status_code == 400
    assert "neither a duration" in wrong.text


def test_pages_continue_with_a_cursor(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs_module, "PAGE_SIZE", 2)
    made = [console.start(CAROL, "hello") for _ in range(3)]
    for run_id in made:
        console.wait_status(run_id, "succeeded")
    client = console.as_user(CAROL)
    first = client.get("/", params={"requester": CAROL})
    assert _run_ids(first.text) == made[::-1][:2]
    older = re.search(r'href="(/\?[^"]*cursor=[^"]+)" rel="next"', first.text)
    assert older is not None
    second = client.get(older.group(1).replace("&amp;", "&"))
    assert _run_ids(second.text) == [made[0]]
    assert 'rel="next"' not in second.text
    assert "Newest runs" in second.text


def test_the_table_fragment_is_for_refreshes_only(console: Console) -> None:
    client = console.as_user(ALICE)
    fragment = client.get("/runs", params={"runbook": "hello"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="runs"')
    assert "<html" not in fragment.text
    plain = client.get("/runs", params={"runbook": "hello"})
    assert plain.status_code == 303
    assert plain.headers["location"] == "/?runbook=hello"


def test_runs_of_runbooks_one_may_not_view_are_not_listed(console: Console) -> None:
    run_id = console.start(ALICE, "hello")
    console.wait_status(run_id, "succeeded")
    outsider = console.as_user(OUTSIDER)
    assert run_id not in _run_ids(outsider.get("/").text)
    page = outsider.get(f"/runs/{run_id}")
    assert page.status_code == 404
    assert "<html" in page.text


def test_a_run_page_shows_its_steps_outputs_and_logs(console: Console) -> None:
    run_id = console.start(ALICE, "hosts")
    console.wait_status(run_id, "succeeded")
    client = console.as_user(ALICE)
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    html = page.text
    assert f'Run <span class="mono">{run_id}</span>' in html
    assert 'id="step-fleet"' in html
    assert 'id="step-after"' in html
    assert "shell.command" in html
    assert "web1: up" in html  # the logs, served with the page
    assert 'data-finished="true"' in html
    # a step's logs, one host's lines
    only = client.get(f"/runs/{run_id}", params={"step": "fleet", "host": "web1"}).text
    log = only[only.index('id="log-lines"') :]
    assert "web1: up" in log
    assert "web1: still up" in log
    assert "web2: down" not in log
    assert '<option value="fleet" selected>' in only
    assert "Cancel the run" not in _buttons(html)  # it has finished


def test_the_log_stream_needs_a_session_and_ends_with_the_run(console: Console) -> None:
    run_id = console.start(ALICE, "hosts")
    console.wait_status(run_id, "succeeded")
    visitor = console.client().get(f"/runs/{run_id}/logs")
    assert visitor.status_code == 303
    client = console.as_user(BOB)
    with client.stream("GET", f"/runs/{run_id}/logs") as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        body = answer.read().decode()
    events = re.findall(r"^event: (.+)$", body, re.MULTILINE)
    assert events[0] == "run.created"
    assert events[-1] == "end"
    assert "step.output" in events
    outputs = [
        json.loads(line[len("data: ") :])
        for block in body.split("\n\n")
        if "event: step.output\n" in block + "\n"
        for line in block.splitlines()
        if line.startswith("data: ")
    ]
    assert any("web2: down" in e["data"]["lines"] for e in outputs)
    after = int(re.findall(r"^id: (\d+)$", body, re.MULTILINE)[-2])
    with client.stream("GET", f"/runs/{run_id}/logs", params={"after": after}) as answer:
        rest = answer.read().decode()
    assert re.findall(r"^event: (.+)$", rest, re.MULTILINE) == ["run.finished", "end"]
    assert console.as_user(OUTSIDER).get(f"/runs/{run_id}/logs").status_code == 404


def test_the_requester_sees_no_approve_button_and_an_approver_does(console: Console) -> None:
    run_id = console.start(ALICE, "gate1")
    console.wait_status(run_id, "waiting_approval")
    alice = console.as_user(ALICE)
    hers = alice.get(f"/runs/{run_id}").text
    assert "Waiting for approval of" in hers
    assert not [b for b in _buttons(hers) if b.startswith(("Approve", "Reject"))]
    assert "Cancel the run" in _buttons(hers)  # she may run it, so she may cancel it
    # the form would be refused anyway: the engine asks the same policy
    refused = alice.post(
        f"/runs/{run_id}/approve", data={"csrf_token": csrf_of(hers), "step": "approve"}
    )
    assert refused.status_code == 403
    assert "requester" in refused.text
    bob = console.as_user(BOB)
    his = bob.get(f"/runs/{run_id}").text
    assert "Approve “approve”" in _buttons(his)
    assert "Reject “approve”" in _buttons(his)
    assert "Cancel the run" not in _buttons(his)  # not in the runbook's run list
    dave = console.as_user(DAVE).get(f"/runs/{run_id}").text
    assert not [b for b in _buttons(dave) if b.startswith(("Approve", "Reject", "Cancel"))]


def test_approving_by_form_continues_the_run(console: Console) -> None:
    run_id = console.start(ALICE, "gate1")
    console.wait_status(run_id, "waiting_approval")
    bob = console.as_user(BOB)
    page = f"/runs/{run_id}"
    no_token = bob.post(f"{page}/approve", data={"step": "approve"})
    assert no_token.status_code == 403
    assert console.status(run_id) == "waiting_approval"
    answer = console.form(bob, page, f"{page}/approve", step="approve", reason="looks fine")
    assert answer.status_code == 303
    assert answer.headers["location"] == page
    assert console.wait_status(run_id, "succeeded") == "succeeded"
    shown = bob.get(page).text
    assert "Approved step approve." in shown  # said once, after the redirect
    assert "Approved by bob@example.com" in shown
    assert "looks fine" in shown
    audit = console.api(ADMIN).get("/audit", params={"run": run_id}).json()["items"]
    assert any(a["action"] == "approve" and a["principal"] == BOB for a in audit), audit


def test_a_stale_button_does_not_approve_another_step(console: Console) -> None:
    run_id = console.start(ALICE, "gate1")
    console.wait_status(run_id, "waiting_approval")
    bob = console.as_user(BOB)
    page = f"/runs/{run_id}"
    answer = console.form(bob, page, f"{page}/approve", step="prepare")
    assert answer.status_code == 409
    assert "not on prepare" in answer.text
    assert console.status(run_id) == "waiting_approval"


def test_rejecting_needs_a_reason_and_rolls_back(console: Console) -> None:
    run_id = console.start(ALICE, "gate1")
    console.wait_status(run_id, "waiting_approval")
    carol = console.as_user(CAROL)
    page = f"/runs/{run_id}"
    bare = console.form(carol, page, f"{page}/reject", step="approve")
    assert bare.status_code == 422
    assert "a rejection needs a reason" in bare.text
    answer = console.form(carol, page, f"{page}/reject", step="approve", reason="not today")
    assert answer.status_code == 303
    assert console.wait_status(run_id, "rejected") == "rejected"
    shown = carol.get(page).text
    assert "Rejected by carol@example.com" in shown
    assert "not today" in shown


def test_a_failing_run_shows_its_rollback(console: Console) -> None:
    run_id = console.start(ALICE, "crashy", fail=True)
    console.wait_status(run_id, "rolled_back")
    html = console.as_user(BOB).get(f"/runs/{run_id}").text
    assert "Failed at step <strong>check</strong>: told to fail" in html
    assert "Rollback (failed)" in html
    rollback = html[html.index('id="rollback-heading"') :]
    assert rollback.index("work") < rollback.index("prep")  # undone last-done first
    assert '<strong>prep</strong> <code class="muted">shell.command</code>' in rollback


def test_cancelling_by_form(console: Console) -> None:
    run_id = console.start(ALICE, "gate1")
    console.wait_status(run_id, "waiting_approval")
    alice = console.as_user(ALICE)
    page = f"/runs/{run_id}"
    answer = console.form(alice, page, f"{page}/cancel", reason="wrong day")
    assert answer.status_code == 303
    assert console.wait_status(run_id, "cancelled", "rolled_back") in ("cancelled", "rolled_back")
    again = console.form(alice, page, f"{page}/cancel")
    assert again.status_code == 409
    assert "already finished" in again.text
    bob = console.as_user(BOB)
    other = console.start(ALICE, "gate1")
    console.wait_status(other, "waiting_approval")
    refused = console.form(bob, f"/runs/{other}", f"/runs/{other}/cancel")
    assert refused.status_code == 403
    assert console.status(other) == "waiting_approval"


def test_the_live_fragment_is_the_changing_part_alone(console: Console) -> None:
    run_id = console.start(ALICE, "gate1")
    console.wait_status(run_id, "waiting_approval")
    bob = console.as_user(BOB)
    live = bob.get(f"/runs/{run_id}/live", headers={"HX-Request": "true"})
    assert live.status_code == 200
    assert live.text.lstrip().startswith("{#") is False
    assert '<div id="live"' in live.text
    assert "<html" not in live.text
    assert "Approve “approve”" in _buttons(live.text)


def test_a_resume_choice_is_offered_to_a_run_that_needs_attention(console: Console) -> None:
    from tests.api.conftest import crashed

    source = console.start(ALICE, "crashy")
    console.wait_status(source, "succeeded")
    run_id = "webcrash0001"
    crashed(
        console.store,
        source,
        run_id,
        lambda e: e.type == "step.started" and e.step_id == "work",
    )
    client = console.as_user(ALICE)
    resume = console.form(client, f"/runs/{run_id}", f"/runs/{run_id}/resume")
    assert resume.status_code == 303
    console.wait_status(run_id, "needs_attention")
    html = client.get(f"/runs/{run_id}").text
    assert "Needs attention:" in html
    offered = _buttons(html)
    assert "Retry the step" in offered
    assert "Roll back the run" in offered
    # a token limited to viewing sees the run, and no button
    viewer = console.as_user(ALICE, roles=["view"]).get(f"/runs/{run_id}").text
    assert "Needs attention:" in viewer
    assert _buttons(viewer) == ["Sign out", "Show these logs"]
    answer = console.form(client, f"/runs/{run_id}", f"/runs/{run_id}/resume", choice="skip")
    assert answer.status_code == 303
    assert console.wait_status(run_id, "succeeded") == "succeeded"


def test_a_revoked_session_stops_receiving_a_stream(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_stream, "RECHECK_EVERY", 0.0)
    run_id = console.start(ALICE, "gate1")
    console.wait_status(run_id, "waiting_approval")
    record = console.store.get_run(run_id)
    assert record is not None
    dave = console.client()
    assert console.sign_in(dave, console.token(DAVE)).status_code == 303
    with dave.stream("GET", f"/runs/{run_id}/logs", params={"after": record.last_seq}) as answer:
        assert answer.status_code == 200
        for token in console.store.list_tokens(DAVE):
            if token.revoked_at is None:
                revoke_token(console.store, token.id)
        approved = console.api(BOB).post(f"/runs/{run_id}/approve", json={})
        assert approved.status_code == 200, approved.text
        body = answer.read().decode()
    assert "event:" not in body  # the approval and what followed never reached it
    assert console.wait_status(run_id, "succeeded") == "succeeded"


def _fanout_run(console: Console, hosts: list[dict[str, object]]) -> str:
    """A finished run of ``hosts`` whose step ``fleet`` reported ``hosts`` as an ``ssh.*``
    step does, written straight into the store (no fleet to run on)."""
    model = console.store.get_run(console.start(ALICE, "hosts"))
    assert model is not None
    run_id = "f" + model.id[1:][::-1]
    console.store.create_run(
        run_id,
        runbook=model.runbook,
        version=model.version,
        digest=model.digest,
        params={},
        requester=ALICE,
    )
    result = {"hosts": hosts, "summary": f"{len(hosts)} hosts"}
    batch = [
        NewEvent("run.started", {}),
        NewEvent("step.started", {"step": "fleet", "attempt": 1, "action": "ssh.command"}, "fleet"),
        NewEvent("step.succeeded", {"step": "fleet", "attempt": 1, "result": result}, "fleet"),
        NewEvent("step.started", {"step": "after", "attempt": 1, "action": "log"}, "after"),
        NewEvent("step.succeeded", {"step": "after", "attempt": 1}, "after"),
        NewEvent("run.finished", {"status": "succeeded"}),
    ]
    console.store.append_events(run_id, batch, status="succeeded")
    return run_id


def test_a_step_on_many_hosts_shows_a_summary_and_its_failed_hosts_first(
    console: Console,
) -> None:
    hosts: list[dict[str, object]] = [
        {"host": f"web{n:03d}", "ok": n not in (7, 250), "exit_code": 1 if n in (7, 250) else 0}
        for n in range(300)
    ]
    run_id = _fanout_run(console, hosts)
    client = console.as_user(ALICE)
    live = client.get(f"/runs/{run_id}/live").text
    assert "300 hosts:" in live
    assert '<span class="badge ok">298 ok</span>' in live
    assert '<span class="badge bad">2 failed</span>' in live
    shown = re.findall(r'<td data-label="Host"><a [^>]*>([^<]+)</a>', live)
    assert len(shown) == timeline.HOSTS_PREVIEW < 300  # the fragment stays small
    assert shown[:3] == ["web007", "web250", "web000"]  # the failed ones first
    assert f'href="/runs/{run_id}/steps/fleet/hosts">All 300 hosts of fleet</a>' in live
    # every host, a page at a time, failed first
    first = client.get(f"/runs/{run_id}/steps/fleet/hosts")
    assert first.status_code == 200
    listed = re.findall(r'<td data-label="Host"><a [^>]*>([^<]+)</a>', first.text)
    assert listed[:2] == ["web007", "web250"]
    assert len(listed) == run_page.HOSTS_PAGE
    assert 'href="?page=2" rel="next"' in first.text
    rest = client.get(f"/runs/{run_id}/steps/fleet/hosts", params={"page": "2"}).text
    listed += re.findall(r'<td data-label="Host"><a [^>]*>([^<]+)</a>', rest)
    assert sorted(listed) == sorted(str(h["host"]) for h in hosts)
    assert client.get(f"/runs/{run_id}/steps/nope/hosts").status_code == 404
    assert console.as_user(OUTSIDER).get(f"/runs/{run_id}/steps/fleet/hosts").status_code == 404


def test_a_step_on_few_hosts_lists_them_all(console: Console) -> None:
    run_id = _fanout_run(
        console, [{"host": "web1", "ok": True, "exit_code": 0}, {"host": "web2", "ok": False}]
    )
    live = console.as_user(ALICE).get(f"/runs/{run_id}/live").text
    assert re.findall(r'<td data-label="Host"><a [^>]*>([^<]+)</a>', live) == ["web2", "web1"]
    assert "/steps/fleet/hosts" not in live
