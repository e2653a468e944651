"""The console in a real browser: Debian's Chromium, headless, driven by Playwright (never
``playwright install``: the browser is the system's). Sign-in, a run watched live, a second
person approving in another browser context while the first page updates without a reload,
the requester's missing Approve button, a failing run's rollback, the theme toggle, and a
visitor who sees only the sign-in page.

``RUNBOOK_SCREENSHOTS=1`` also saves the screenshots docs/web.md shows (docs/screenshots/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.web.conftest import ALICE, BOB, Console

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: milliseconds a page has to show what the server knows (its refreshes come every 3 s)
SHOWN_WITHIN = 8_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[Browser]:
    # depends on the console so that it closes first: open log streams end with it, and the
    # server's stop does not wait for them
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


class NewContext(Protocol):
    def __call__(self, **options: Any) -> BrowserContext: ...


@pytest.fixture
def new_context(browser: Browser) -> Iterator[NewContext]:
    """Browser contexts (each a browser of its own: cookies, storage), closed after the test."""
    made: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


def sign_in(console: Console, context: BrowserContext, user: str) -> Page:
    page = context.new_page()
    page.goto(console.url + "/")
    expect(page).to_have_url(console.url + "/signin")
    page.get_by_label("API token").fill(console.token(user))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(console.url + "/")
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    return page


def test_a_visitor_sees_only_the_sign_in_page(console: Console, new_context: NewContext) -> None:
    run_id = console.start(ALICE, "hello")
    page = new_context().new_page()
    for path in ("/", f"/runs/{run_id}", "/approvals", "/runbooks"):
        page.goto(console.url + path)
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert page.url.startswith(console.url + "/signin")
        assert page.get_by_role("navigation", name="Main").count() == 0
        shown = page.locator("body").inner_text()
        assert run_id not in shown
        assert "Timeline" not in shown


def test_signing_in_and_out(console: Console, new_context: NewContext) -> None:
    page = sign_in(console, new_context(), ALICE)
    expect(page.get_by_role("status").first).to_have_text("Signed in as alice@example.com.")
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Runs", "Approvals", "Runbooks"):
        expect(nav.get_by_role("link", name=name)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(console.url + "/")
    expect(page).to_have_url(console.url + "/signin")


def test_a_wrong_token_is_refused_in_the_form(console: Console, new_context: NewContext) -> None:
    page = new_context().new_page()
    page.goto(console.url + "/signin")
    page.get_by_label("API token").fill("rbk_" + "z" * 43)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("unknown token")


def test_an_approval_elsewhere_updates_the_page_without_a_reload(
    console: Console,
    new_context: NewContext,
) -> None:
    run_id = console.start(ALICE, "gate1")
    console.wait_status(run_id, "waiting_approval")
    alice = sign_in(console, new_context(), ALICE)
    alice.goto(f"{console.url}/runs/{run_id}")
    status = alice.locator("#run-status")
    expect(status).to_have_text("waiting approval")
    expect(alice.locator("#stream-state")).to_have_text("Following the run live.")
    # the requester sees no Approve button at all
    assert alice.get_by_role("button", name="Approve").count() == 0
    assert alice.get_by_role("button", name="Reject").count() == 0
    expect(alice.get_by_role("button", name="Cancel the run")).to_be_visible()
    # a mark a reload would wipe
    alice.evaluate("window.notReloaded = true")

    bob = sign_in(console, new_context(), BOB)
    bob.goto(f"{console.url}/runs/{run_id}")
    bob.get_by_label("Comment (optional)").fill("ship it")
    bob.get_by_role("button", name="Approve “approve”").click()
    expect(bob.get_by_role("status").first).to_have_text("Approved step approve.")

    expect(status).to_have_text("succeeded", timeout=SHOWN_WITHIN)
    expect(alice.locator("#step-approve")).to_contain_text("Approved by bob@example.com")
    expect(alice.locator("#step-approve")).to_contain_text("ship it")
    # the last step's output arrived through the stream, line by line
    expect(alice.locator("#log-lines")).to_contain_text("applied")
    expect(alice.locator("#stream-state")).to_have_text("The run has finished.")
    assert alice.get_by_role("button", name="Cancel the run").count() == 0
    assert alice.evaluate("window.notReloaded") is True


def test_the_runs_list_shows_a_new_run_without_a_reload(
    console: Console, new_context: NewContext
) -> None:
    page = sign_in(console, new_context(), BOB)
    page.evaluate("window.notReloaded = true")
    # a keyboard user's place in the table is kept: no refresh replaces it meanwhile
    page.locator("#runs").get_by_role("link", name="Refresh").focus()
    run_id = console.start(ALICE, "hello", who="live")
    row = page.get_by_role("link", name=run_id)
    page.wait_for_timeout(4_000)  # a refresh came and went
    assert page.evaluate("document.activeElement.textContent") == "Refresh"
    assert row.count() == 0
    page.evaluate("document.activeElement.blur()")
    expect(row).to_be_visible(timeout=SHOWN_WITHIN)
    assert page.evaluate("window.notReloaded") is True
    row.click()
    expect(page.get_by_role("heading", name=f"Run {run_id}")).to_be_visible()
    expect(page.locator("#run-status")).to_have_text("succeeded")
    expect(page.locator("#log-lines")).to_contain_text("hello live")


def test_a_failing_run_shows_its_rollback(console: Console, new_context: NewContext) -> None:
    run_id = console.start(ALICE, "crashy", fail=True)
    page = sign_in(console, new_context(), BOB)
    page.goto(f"{console.url}/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("rolled back", timeout=SHOWN_WITHIN)
    expect(page.get_by_role("heading", name="Rollback (failed)")).to_be_visible()
    rollback = page.locator("ol.rollback li")
    expect(rollback).to_have_count(2)
    expect(rollback.nth(1)).to_contain_text("prep")
    expect(rollback.nth(1)).to_contain_text("succeeded")
    expect(page.locator("#step-check")).to_contain_text("told to fail")


def test_the_theme_toggle_is_remembered(console: Console, new_context: NewContext) -> None:
    page = sign_in(console, new_context(color_scheme="light"), BOB)
    toggle = page.locator("#theme-toggle")
    expect(toggle).to_have_text("Auto")
    background = "getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    toggle.click()  # light
    toggle.click()  # dark
    expect(toggle).to_have_text("Dark")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    expect(page.locator("#theme-toggle")).to_have_text("Dark")
    assert page.evaluate(background) != light


def test_keyboard_reaches_the_buttons(console: Console, new_context: NewContext) -> None:
    run_id = console.start(ALICE, "gate1")
    console.wait_status(run_id, "waiting_approval")
    page = sign_in(console, new_context(), BOB)
    page.goto(f"{console.url}/runs/{run_id}")
    page.get_by_label("Reason for rejecting").focus()
    page.keyboard.type("not now")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Reject “approve”"
    page.keyboard.press("Enter")
    expect(page.locator("#run-status")).to_have_text("rejected", timeout=SHOWN_WITHIN)


@pytest.mark.skipif(
    os.environ.get("RUNBOOK_SCREENSHOTS") != "1", reason="RUNBOOK_SCREENSHOTS=1 saves them"
)
def test_save_screenshots(console: Console, new_context: NewContext) -> None:
    done = console.start(ALICE, "hosts")
    failed = console.start(ALICE, "crashy", fail=True)
    waiting = console.start(ALICE, "gate1")
    console.wait_status(done, "succeeded")
    console.wait_status(failed, "rolled_back")
    console.wait_status(waiting, "waiting_approval")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        context = new_context(color_scheme=scheme, viewport={"width": 1280, "height": 860})
        page = sign_in(console, context, BOB)
        page.goto(console.url + "/")
        page.screenshot(path=str(SCREENSHOTS / f"runs-{scheme}.png"), full_page=True)
        page.goto(f"{console.url}/runs/{waiting}")
        expect(page.locator("#stream-state")).to_have_text("Following the run live.")
        page.screenshot(path=str(SCREENSHOTS / f"run-{scheme}.png"), full_page=True)
        page.goto(f"{console.url}/runs/{failed}")
        page.screenshot(path=str(SCREENSHOTS / f"run-rollback-{scheme}.png"), full_page=True)
    phone = new_context(color_scheme="light", viewport={"width": 390, "height": 844})
    page = sign_in(console, phone, BOB)
    page.screenshot(path=str(SCREENSHOTS / "runs-phone.png"), full_page=True)
