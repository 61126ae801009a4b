"""The page tells the truth, live, in Debian's Chromium against `manage.py up`: a page that
only watches sees a seam-guard hold and its release, finals that finish (the export form
then joins them), and the head after a delete, without a reload."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.test_browser import (  # noqa: F401
    browser,
    card,
    send_billed,
    sign_in_and_create_project,
)
from tests.test_browser_arrange import add_shots

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def app(shared_app):
    """The process's shared app (tests.conftest), as an account of this module's own."""
    return shared_app.account(__name__)


def sign_in(page, app):
    page.goto(f"{app.url}/")
    page.fill("input[name=username]", app.username)
    page.fill("input[name=password]", app.password)
    page.click("button:has-text('Sign in')")


def watching(browser, app, url):  # noqa: F811
    """A second person's page on `url`, live, that is never reloaded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in(page, app)
    page.goto(url)
    page.wait_for_function("() => window.storyboardLive === true")
    page.evaluate("window.stayedOnPage = true")
    return context, page


def billed_on(page, more_than=0):
    """The tokens the page's head says were billed, once it says more than `more_than`.
    The head is rendered again by live events, each when its own news arrives: read it
    when it says so, not at whatever moment the test gets there (on a loaded machine the
    estimate's event can come after the cards' and the export's)."""
    page.wait_for_function(
        """more_than => {
            const said = /Billed so far: ([\\d,]+) tokens/.exec(
                document.getElementById("estimate")?.innerText || "");
            return said !== null && Number(said[1].replaceAll(",", "")) > more_than;
        }""",
        arg=more_than,
        timeout=30_000,
    )
    said = re.search(r"Billed so far: ([\d,]+) tokens", page.locator("#estimate").inner_text())
    return int(said[1].replace(",", ""))


def test_a_watching_page_sees_a_hold_and_its_release_live(app, browser, tmp_path):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in_and_create_project(page, app, "Harbour at dusk")
    # An empty project: nothing to start, and the page says why.
    expect(page.locator("#generate-button")).to_be_disabled()
    expect(page.locator("#final-button")).to_be_disabled()
    expect(page.locator("#start-reason")).to_have_text("Nothing to generate yet: add a shot first.")
    expect(page.locator("#estimate")).not_to_contain_text("Every shot has a current take")
    page.screenshot(path=str(tmp_path / "empty-head.png"))
    other_context, other = watching(browser, app, page.url)

    add_shots(
        page,
        [
            ("Rain over a harbour at dusk [sim:end=black]", "cut"),
            ("The camera drifts toward the lighthouse", "continue"),
        ],
    )
    expect(page.locator(".shot-card")).to_have_count(2)
    # The other page's head follows the shots added: Generate is on there too.
    expect(other.locator("#project-head")).to_contain_text("2 shots in 1 chain · 8 s")
    expect(other.locator("#generate-button")).to_be_enabled()
    expect(other.locator("#start-reason")).to_have_count(0)

    page.click("#generate-button")
    send_billed(page)
    held = other.locator('.shot-card[data-shot="2"]')
    expect(held.locator("[data-role=held]")).to_contain_text(
        "Held: shot 2 would start on a near-black frame from shot 1.", timeout=60_000
    )
    expect(held.locator("[data-role=status]")).to_have_text("Held")
    expect(held.locator(".placeholder")).to_contain_text("held at the seam with shot 1")
    expect(held.locator("input[name=out]")).to_be_visible()
    expect(other.locator("#estimate [data-role=making]")).to_have_text("1 shot held at a seam.")
    other.screenshot(path=str(tmp_path / "held-live.png"), full_page=True)

    # Released on the first page: the other one sees the hold go and the shot made.
    card(page, 2).locator("input[name=out]").fill("60")
    card(page, 2).locator("button:has-text('Continue from this frame')").click()
    send_billed(page)
    expect(held.locator("[data-role=held]")).to_have_count(0, timeout=30_000)
    expect(held).to_have_attribute("data-status", "done", timeout=60_000)
    expect(other.locator("#estimate")).to_contain_text("Every shot has a current take.")
    assert other.evaluate("window.stayedOnPage") is True
    other_context.close()
    context.close()


def test_a_watching_page_exports_finished_finals_and_keeps_its_head_true(
    app,
    browser,  # noqa: F811
    tmp_path,
):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in_and_create_project(page, app, "Two gulls")
    add_shots(page, [("A gull over the pier", "cut"), ("A second gull lands", "cut")])
    expect(page.locator(".shot-card")).to_have_count(2)
    page.click("#generate-button")
    send_billed(page)
    for number in (1, 2):
        expect(card(page, number)).to_have_attribute("data-status", "done", timeout=60_000)

    other_context, other = watching(browser, app, page.url)
    expect(other.locator("#export-kind")).to_have_value("draft")
    billed = billed_on(other)

    page.click("#final-button")
    send_billed(page)
    finals = other.locator(".kind[data-kind=final]")
    expect(finals).to_have_count(2, timeout=30_000)
    for number in (0, 1):
        expect(finals.nth(number)).to_have_attribute("data-status", "done", timeout=60_000)
    # The form joins the finals now, as a reload would have it.
    expect(other.locator("#export-kind")).to_have_value("final")
    other.click("#export-button")
    expect(other.locator(".export-card").first).to_contain_text("2 finals")
    expect(other.locator(".export-card").first).to_have_attribute(
        "data-status", "done", timeout=60_000
    )
    # The finals' spend reaches the head live too (its own event, maybe after the export's).
    billed_finals = billed_on(other, more_than=billed)
    assert billed_finals > billed

    # A delete on the first page: the other page's head follows, the spend stays.
    expect(other.locator("#project-head")).to_contain_text("2 shots in 2 chains · 8 s")
    card(page, 2).locator("button:has-text('Delete')").click()
    expect(other.locator(".shot-card")).to_have_count(1, timeout=20_000)
    expect(other.locator("#project-head")).to_contain_text("1 shot in 1 chain · 4 s")
    expect(other.locator("#estimate")).to_contain_text(f"Billed so far: {billed_finals:,} tokens")
    other.screenshot(path=str(tmp_path / "head-after-delete.png"))
    assert other.evaluate("window.stayedOnPage") is True
    other_context.close()
    context.close()


def test_an_exports_answer_coming_after_its_live_event_leaves_it_done(app, browser):  # noqa: F811
    """Export hands the export to the worker at once and then renders its answer: on a
    loaded machine the live event of the finished export can reach the page first. The
    answer, older, must not put the export back to queued (the page would wait forever:
    no later event comes)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in_and_create_project(page, app, "Late answer")
    add_shots(page, [("A lantern on a jetty", "cut")])
    page.click("#generate-button")
    send_billed(page)
    expect(card(page, 1)).to_have_attribute("data-status", "done", timeout=60_000)
    page.wait_for_function("() => window.storyboardLive === true")

    # Export's answer is held back until the live event has shown the export done. The
    # app's worker is paused until the answer is rendered: else, on a loaded machine, the
    # export could be done before its answer was rendered (it was, in a run of CI's).
    held = []
    page.route("**/exports/new", lambda route: held.append((route, route.fetch())))
    page.check("input[name=normalize]")  # an MP4 levelled: ffmpeg takes a moment or two
    with app.live.worker_paused():
        page.click("#export-button")
        deadline = time.monotonic() + 20
        while not held and time.monotonic() < deadline:
            page.wait_for_timeout(50)
    done = page.locator(".export-card[data-status=done] a:has-text('Download MP4')")
    expect(done).to_be_visible(timeout=30_000)
    assert len(held) == 1
    page.evaluate(
        """() => { window.answered = false;
            document.addEventListener("htmx:afterSwap", () => { window.answered = true; },
                                      {once: true}); }"""
    )
    route, answer = held[0]
    assert "Download MP4" not in answer.text()  # rendered before the export was done
    route.fulfill(response=answer)
    page.wait_for_function("() => window.answered")
    expect(done).to_be_visible()
    expect(page.locator(".export-card")).to_have_count(1)
    expect(page.locator(".export-card[data-status=queued]")).to_have_count(0)
    context.close()
