"""The run form and the inbox in a real browser (Debian's Chromium, headless): choose from a
select, untick a box, type a secret, read the plan, start, land on the run; the inbox lists a
run waiting for the user and not the one the user started."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import ALICE, BOB
from tests.web.conftest import Console, serving
from tests.web.test_web_runbooks import EXTRA, SECRET, run_in

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with serving(tmp_path_factory.mktemp("web-browser"), EXTRA) as made:
        yield made


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as driver:
        try:
            launched = driver.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
        except sync_api.Error as exc:  # no Chromium on this machine: nothing to drive
            pytest.skip(f"cannot start {CHROMIUM}: {exc}")
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, console: Console) -> Iterator[Any]:
    """A fresh browser context (no cookies), signed in as alice through the sign-in form."""
    context = browser.new_context(base_url=console.url)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    opened.goto("/signin")
    opened.get_by_label("API token").fill(console.token(ALICE))
    opened.get_by_role("button", name="Sign in").click()
    opened.wait_for_url(re.compile(r"/$|/runs"))
    try:
        yield opened
    finally:
        context.close()


def test_start_a_run_from_its_form(page: Any, console: Console) -> None:
    asked: list[tuple[str, str]] = []  # every request's URL and body
    page.on("request", lambda request: asked.append((request.url, request.post_data or "")))
    page.goto("/runbooks")
    page.locator('a[href="/runbooks/deploy/run"]').click()
    page.wait_for_url("**/runbooks/deploy/run")

    page.get_by_label("env").select_option("production")
    dry_run = page.get_by_label("dry_run")
    assert dry_run.is_checked()
    dry_run.uncheck()
    page.get_by_label("replicas").fill("4")
    page.get_by_label("token").fill(SECRET)
    page.get_by_role("button", name="Show the plan").click()

    page.get_by_role("heading", name=re.compile("Plan: deploy")).wait_for()
    body = page.locator("main").inner_text()
    assert "shipping to production x4 with ***" in body
    assert "dry run False" in body
    assert SECRET not in page.content()

    page.get_by_role("button", name="Start the run").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    run_id = page.url.rsplit("/", 1)[1]
    record = run_in(console, run_id, "succeeded")
    assert record.requester == ALICE
    assert record.params["env"] == "production"
    assert record.params["dry_run"] is False
    assert record.params["replicas"] == 4
    assert record.params["token"] == "***"
    # the secret went in the form's POST body once, and in no URL and no other request
    assert not any(SECRET in url for url, _ in asked)
    carried = [url for url, body in asked if SECRET in body]
    assert carried == [console.url + "/runbooks/deploy/run"]


def test_a_wrong_value_comes_back_with_the_clis_message(page: Any) -> None:
    page.goto("/runbooks/deploy/run")
    # the browser checks a number field's bounds itself; what it lets through and the engine
    # refuses comes back with the engine's message: here, a required secret left empty
    page.get_by_label("env").select_option("staging")
    page.get_by_role("button", name="Show the plan").click()
    page.get_by_text(
        "parameter 'token': is required (the deploy token); pass -p token=..."
    ).wait_for()
    assert page.get_by_label("token").input_value() == ""


def test_the_inbox_lists_what_waits_for_the_user(page: Any, console: Console) -> None:
    mine = console.api(ALICE).post("/runs", json={"runbook": "release"})
    theirs = console.api(BOB).post("/runs", json={"runbook": "release"})
    assert mine.status_code == 201, mine.text
    assert theirs.status_code == 201, theirs.text
    mine_id, theirs_id = mine.json()["id"], theirs.json()["id"]
    for run_id in (mine_id, theirs_id):
        run_in(console, run_id, "waiting_approval")
    page.get_by_role("link", name="Approvals").click()
    page.wait_for_url("**/approvals")
    table = page.locator("table.approvals")
    assert table.get_by_role("link", name=theirs_id).count() == 1
    assert table.get_by_role("link", name=mine_id).count() == 0
    assert BOB in table.inner_text()
    table.get_by_role("link", name=theirs_id).click()
    page.wait_for_url(f"**/runs/{theirs_id}")
