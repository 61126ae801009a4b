"""Arranging in Debian's Chromium, against `manage.py up`: dragging a card by its handle,
moving from the keyboard, deleting and undoing, and the seam inspector."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.test_browser import (  # noqa: F401
    add_shots,
    browser,
    card,
    send_billed,
    sign_in_and_create_project,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# Set to a folder (static/img) to keep the screenshots the README shows.
SCREENSHOTS = os.environ.get("STORYBOARD_SCREENSHOTS")


@pytest.fixture(scope="module")
def app(shared_app):
    """The process's shared app (tests.conftest), as an account of this module's own."""
    return shared_app.account(__name__)


def prompts(page):
    return page.locator(".shot-card .prompt").all_inner_texts()


def drag_before_first(page, handle):
    """A real drag with the mouse, by `handle` to the top of the first card; the button is
    let go only once SortableJS has moved the card there, so a loaded machine that runs
    the mouse's moves late cannot drop it one place short."""
    box = handle.bounding_box()
    target = card(page, 1).locator("header").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + 5, target["y"] + 5, steps=20)
    moved = (
        "() => document.querySelector('#timeline .shot-card.sortable-chosen')"
        " === document.querySelector('#timeline .shot-card')"
    )
    for nudge in range(40):  # SortableJS moves the card on a drag-over: a hand's small moves
        if page.evaluate(moved):
            break
        page.mouse.move(target["x"] + 5 + nudge % 3, target["y"] + 5 + nudge % 2, steps=2)
        page.wait_for_timeout(100)
    assert page.evaluate(moved), "the card never moved to the top under the pointer"
    page.mouse.up()


def press_enter_on(page, selector, path):
    """Focus `selector` and press Enter, as a keyboard user does; the response of the
    request it sends (to a URL ending in `path`). The stream's catch-up may render the
    timeline again as the page opens (its window overlaps the page's moment), and the
    focus goes with the button it replaces: an Enter that sent nothing is pressed again
    on the button found anew, as a person would. Only a request that went out counts, so
    a move is never made twice."""
    for _ in range(3):
        try:
            with page.expect_request(lambda r: r.url.endswith(path), timeout=10_000) as sent:
                page.locator(selector).focus()
                page.keyboard.press("Enter")
        except PlaywrightTimeout:
            continue
        return sent.value.response()
    raise AssertionError(f"Enter on {selector} never sent its request")


def test_a_director_drags_moves_deletes_and_undoes(app, browser, tmp_path):  # noqa: F811
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in_and_create_project(page, app, "Harbour")
    shots = [("Gulls over the pier", "cut"), ("A boat leaves", "cut"), ("Night falls", "cut")]
    add_shots(page, shots)
    expect(page.locator(".shot-card")).to_have_count(3)

    # Drag shot 3 by its handle onto the place of shot 1: a real drag with the mouse,
    # once the stream has sent what was news when the page opened.
    page.wait_for_function("() => window.storyboardLive === true")
    page.wait_for_timeout(1_000)
    page.wait_for_function("() => !!document.getElementById('timeline').sortable")
    with page.expect_response(lambda r: r.url.endswith("/shots/order")) as answer:
        drag_before_first(page, card(page, 3).locator(".drag-handle"))
    assert answer.value.status == 200
    expect(page.locator(".shot-card .prompt").first).to_have_text("Night falls")
    assert prompts(page) == ["Night falls", "Gulls over the pier", "A boat leaves"]
    page.reload()  # the server has the new order, not just the page
    assert prompts(page) == ["Night falls", "Gulls over the pier", "A boat leaves"]

    # From the keyboard: focus shot 2's "down" button and press Enter.
    page.wait_for_function("() => !!document.getElementById('timeline').sortable")  # scripts ready
    moved = press_enter_on(page, "[aria-label='Move shot 2 down']", "/move")
    assert moved.status < 400  # htmx's answer, or a plain post's redirect
    expect(page.locator(".shot-card .prompt").nth(2)).to_have_text(
        "Gulls over the pier", timeout=20_000
    )

    # Delete, then undo: the shot comes back where it was.
    card(page, 1).locator("button:has-text('Delete')").click()
    expect(page.locator(".shot-card")).to_have_count(2, timeout=20_000)
    page.click("#undo-button")
    expect(page.locator(".shot-card")).to_have_count(3, timeout=20_000)
    assert prompts(page) == ["Night falls", "A boat leaves", "Gulls over the pier"]
    context.close()


def test_the_seam_inspector_shows_the_frames_that_meet(app, browser, tmp_path):  # noqa: F811
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(30_000)
    sign_in_and_create_project(page, app, "Lighthouse")
    add_shots(page, [("A lighthouse at dusk", "cut"), ("The beam sweeps the sea", "continue")])
    page.click("#generate-button")
    send_billed(page)
    for number in (1, 2):
        expect(card(page, number)).to_have_attribute("data-status", "done", timeout=60_000)
    # Another take of shot 1: shot 2 is stale, and the inspector shows both pairs.
    card(page, 1).locator("button:has-text('Regenerate')").first.click()
    send_billed(page)
    expect(card(page, 2).locator("[data-role=stale]")).to_contain_text(
        "shot 1 has another take in the cut", timeout=60_000
    )

    card(page, 2).locator(".seam-inspector summary").click()
    pairs = card(page, 2).locator("figure.seam-pair")
    # The pairs load when it opens: on a loaded machine that can take more than 5 s.
    expect(pairs).to_have_count(2, timeout=30_000)
    expect(pairs.first).to_contain_text("chained")
    for image in card(page, 2).locator(".seam-pair img").all():
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("i => i.naturalWidth") > 0
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    card(page, 2).screenshot(path=str(folder / "seam-inspector.png"))

    # A live event re-renders the card while its inspector is open: the new card's
    # inspector is open too, and loads its pairs again (its placeholder alone is not
    # enough). A note on shot 2, written as any writer would, is what the stream sends.
    asked = []  # the inspector's loads, one for each card that a live event renders
    page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/seam") else None)
    page.evaluate(
        """() => {
            window.renders = 0;
            document.addEventListener("htmx:afterSwap", (event) => {
                if (event.target.matches('#timeline, .shot-card[data-shot="2"]')) window.renders++;
            });
        }"""
    )
    app.update_shots("The beam sweeps the sea", notes="The keeper watches.")
    expect(card(page, 2).locator("[data-role=notes]")).to_contain_text("The keeper watches.")
    expect(card(page, 2).locator(".seam-inspector")).to_have_attribute("open", "")
    expect(pairs).to_have_count(2, timeout=30_000)
    expect(pairs.first).to_contain_text("chained")
    for image in card(page, 2).locator(".seam-pair img").all():
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("i => i.naturalWidth") > 0
    # Once a card at most, however many toggles its inspector was told (a render may have
    # come after the last load here, before its own).
    assert 1 <= len(asked) <= page.evaluate("window.renders"), asked

    pairs.first.locator("button:has-text('Use this pair')").click()
    expect(card(page, 2).locator("[data-role=stale]")).to_have_count(0, timeout=30_000)
    context.close()
