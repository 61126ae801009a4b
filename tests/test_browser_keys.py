"""The timeline by keyboard and on a phone's screen, in Debian's Chromium against a live
app (`manage.py up`) seeded with shots in every state (tests.every_page)."""

import re

import pytest
from playwright.sync_api import expect

from tests.every_page import seeded
from tests.test_browser import browser  # noqa: F401  (fixture)
from tests.test_browser_axe import assert_accessible, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

PHONE = {"width": 390, "height": 844}
TAP = 44  # px: the least width and height of a tap target (WCAG 2.5.5)
# Every target a finger may tap that is on the screen now, with its box: links, buttons,
# toggles, fields; a checkbox or radio button is tapped by the label that names it.
TARGETS = """() => {
  const seen = new Set(), found = [];
  const targets = document.querySelectorAll(
    "a[href], button, summary, input:not([type=hidden]), select, textarea, [role=button]");
  for (let el of targets) {
    if (["checkbox", "radio"].includes(el.type) && (el.closest("label") || el.labels.length)) {
      el = el.closest("label") || el.labels[0];
    }
    if (seen.has(el)) continue;
    seen.add(el);
    // Shown: not in a closed details or dialog, not hidden; nor visually hidden for
    // screen readers, nor off the page until focused (the skip link).
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    if (el.closest(".visually-hidden")) continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || box.bottom + window.scrollY <= 0) continue;
    const words = (el.innerText || el.value || el.getAttribute("aria-label") || "").trim();
    found.push({
      what: `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""} "${words.slice(0, 40)}"`,
      width: box.width, height: box.height,
    });
  }
  return found;
}"""


# Where an element is on the page, as Playwright's bounding_box() says it, read in the
# page in one go: of one element, and of each of a list of selectors at the same instant.
BOX = """e => {
  const r = e.getBoundingClientRect();
  return {x: r.x, y: r.y, width: r.width, height: r.height};
}"""
BOXES = f"selectors => selectors.map(s => ({BOX})(document.querySelector(s)))"


def assert_tap_targets(page, what, least=10):
    """Every tap target on the page at least TAP × TAP px, and at least `least` of them
    measured (so that a page that failed to show them cannot pass)."""
    targets = page.evaluate(TARGETS)
    assert len(targets) >= least, f"{what}: only {len(targets)} targets: {targets}"
    small = [
        f"{t['what']}: {t['width']:.1f} × {t['height']:.1f}"
        for t in targets
        if t["width"] < TAP - 0.5 or t["height"] < TAP - 0.5
    ]
    assert not small, f"{what} ({page.url}) has tap targets under {TAP} px:\n" + "\n".join(small)


@pytest.fixture(scope="module")
def app(shared_app):
    """The process's shared app (tests.conftest), as an account of this module's own,
    seeded with something in every state (tests.every_page) and a viewer of its own."""
    app = shared_app.account(__name__)
    app.pages = seeded(app, viewer=f"{app.username}-viewer")
    return app


def open_project(browser, app, **context):  # noqa: F811
    context = browser.new_context(**context)
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in(page, app)
    page.goto(app.url + app.pages["project"])
    expect(page.locator(".shot-card")).to_have_count(6)
    return page


def card(page, number):
    return page.locator(f'.shot-card[data-shot="{number}"]')


def selected(page):
    return page.locator(".shot-card.is-selected")


def test_the_shortcuts_select_play_generate_and_edit(app, browser):  # noqa: F811
    page = open_project(browser, app, viewport={"width": 1280, "height": 900})

    # ? lists the shortcuts; Esc closes the list.
    page.keyboard.press("?")
    help = page.locator("#shortcuts")
    expect(help).to_be_visible()
    for said in ("Select the next shot", "Select the previous shot", "Play or pause"):
        expect(help).to_contain_text(said)
    expect(help).to_contain_text("Generate the selected shot")
    expect(help).to_contain_text("Open the selected shot's editor")
    page.keyboard.press("j")  # the list is open: no key but Esc does anything
    expect(selected(page)).to_have_count(0)
    page.keyboard.press("Escape")
    expect(help).to_be_hidden()
    # The button opens it too.
    page.click("[data-shortcuts-open]")
    expect(help).to_be_visible()
    page.click("#shortcuts button:has-text('Close')")
    expect(help).to_be_hidden()

    # With no shot selected, p plays the cut and pauses it.
    cut = page.locator(".export-card video.cut-player")
    page.keyboard.press("p")
    page.wait_for_function("v => !v.paused", arg=cut.element_handle())
    page.keyboard.press("p")
    page.wait_for_function("v => v.paused", arg=cut.element_handle())

    # j and k move the selection, and the focus with it.
    page.keyboard.press("j")
    expect(selected(page)).to_have_attribute("data-shot", "1")
    expect(card(page, 1)).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(selected(page)).to_have_attribute("data-shot", "3")
    page.keyboard.press("p")  # shot 3 failed: it has no clip
    expect(page.locator("#shortcut-status")).to_have_text("Shot 3 has no clip to play yet.")
    page.keyboard.press("k")
    expect(selected(page)).to_have_attribute("data-shot", "2")
    expect(card(page, 2)).to_have_attribute("aria-current", "true")
    expect(page.locator("#shortcut-status")).to_contain_text("Shot 2 of 6")
    page.keyboard.press("ArrowLeft")
    expect(selected(page)).to_have_attribute("data-shot", "1")

    # p plays the selected shot's clip and pauses it; so does space on a focused card.
    video = card(page, 1).locator("video")
    page.keyboard.press("p")
    page.wait_for_function("v => !v.paused && v.currentTime > 0", arg=video.element_handle())
    page.keyboard.press("p")
    page.wait_for_function("v => v.paused", arg=video.element_handle())
    page.keyboard.press(" ")
    page.wait_for_function("v => !v.paused", arg=video.element_handle())
    page.keyboard.press(" ")
    page.wait_for_function("v => v.paused", arg=video.element_handle())

    # Not while typing, nor with a modifier held.
    page.fill("#shot-form textarea[name=prompt]", "")
    page.focus("#shot-form textarea[name=prompt]")
    page.keyboard.type("jkgep")
    expect(page.locator("#shot-form textarea[name=prompt]")).to_have_value("jkgep")
    expect(selected(page)).to_have_attribute("data-shot", "1")
    page.locator("#shot-form textarea[name=prompt]").blur()
    page.keyboard.press("Alt+j")
    page.keyboard.press("Control+j")
    expect(selected(page)).to_have_attribute("data-shot", "1")

    # g generates the selected shot: shot 6 was never generated.
    for _ in range(5):
        page.keyboard.press("j")
    sixth = card(page, 6)
    expect(sixth).to_have_class(re.compile(r"\bis-selected\b"))
    expect(sixth).to_have_attribute("data-status", "new")
    page.keyboard.press("g")
    # It bills: asked first, with what it costs; Enter sends it.
    ask = page.locator("#bill-confirm")
    expect(ask).to_contain_text("Generate shot 6?")
    expect(ask).to_contain_text("tokens")
    page.keyboard.press("Enter")
    expect(ask).to_be_hidden()
    expect(sixth).not_to_have_attribute("data-status", "new")
    # The card is replaced as its status arrives live; it stays selected, and focused.
    expect(sixth).to_have_attribute("data-status", "done", timeout=60_000)
    expect(sixth).to_have_class(re.compile(r"\bis-selected\b"))
    expect(selected(page)).to_have_count(1)
    expect(sixth).to_be_focused()
    # What became of it is said.
    expect(page.locator("#shortcut-status")).to_have_text(re.compile("Shot 6 of 6, done", re.I))

    # e opens the selected shot's editor; back on the timeline, the selection is there.
    page.keyboard.press("k")
    page.keyboard.press("e")
    expect(page).to_have_url(re.compile(r"/shots/\d+/edit$"))
    expect(page.locator("h1")).to_have_text("Shot 5")
    page.go_back()
    expect(selected(page)).to_have_attribute("data-shot", "5")
    page.context.close()


def test_a_viewer_has_no_generate_or_edit_keys(app, browser):  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in(page, app, *app.pages["viewer"])
    page.goto(app.url + app.pages["project"])
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_contain_text("Select the next shot")
    expect(page.locator("#shortcuts")).not_to_contain_text("Generate")
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("g")
    expect(page.locator("#shortcut-status")).to_contain_text("cannot be generated")
    expect(card(page, 1)).to_have_attribute("data-status", "done")
    context.close()


def test_the_timeline_fits_a_phone(app, browser, tmp_path):  # noqa: F811
    page = open_project(browser, app, viewport=PHONE, has_touch=True, is_mobile=True)

    def fits():
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"], f"{page.url} is {width} px wide on a 390 px screen"

    fits()
    # The cards stack: one column, each below the one before, as wide as the timeline.
    # Measured all at once, in one script: a card the live stream swaps (news from when
    # the page opened) is out of the page for an instant, between two reads of boxes.
    boxes = page.evaluate(BOXES, [f'.shot-card[data-shot="{n}"]' for n in range(1, 7)])
    timeline = page.locator("#timeline").bounding_box()
    for above, below in zip(boxes, boxes[1:], strict=False):
        assert below["y"] >= above["y"] + above["height"]
        assert below["x"] == pytest.approx(above["x"], abs=1)
    for box in boxes:
        assert (
            box["x"] >= timeline["x"]
            and box["x"] + box["width"] <= timeline["x"] + timeline["width"]
        )
        assert box["width"] > timeline["width"] * 0.8

    # The main buttons are on the screen, whole, when scrolled to.
    main = [
        page.locator("#generate-button"),
        page.locator("#settings-link"),
        page.locator("[data-shortcuts-open]"),
        card(page, 1).locator(".actions a:has-text('Edit')"),
        card(page, 3).locator(".actions button:has-text('Regenerate')"),
        card(page, 6).locator(".actions button:has-text('Delete')"),
        page.locator("#shot-form button:has-text('Add shot')"),
        page.locator("#export-button"),
    ]
    for button in main:
        # Scrolled to the middle of the screen: scrolled only as far as needed, a button
        # can end a fraction of a pixel below it (scroll offsets are whole pixels, where
        # it lies is not), and whether it does depends on what is above it.
        button.evaluate("b => b.scrollIntoView({block: 'center', inline: 'nearest'})")
        expect(button).to_be_in_viewport(ratio=1)
        box = button.evaluate(BOX)
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], button
    page.screenshot(path=tmp_path / "timeline-390.png", full_page=True)
    assert_accessible(page, "a project on a phone")

    # The shortcuts' list fits too.
    page.click("[data-shortcuts-open]")
    help = page.locator("#shortcuts").bounding_box()
    assert help["x"] >= 0 and help["x"] + help["width"] <= PHONE["width"]
    page.screenshot(path=tmp_path / "shortcuts-390.png")
    page.keyboard.press("Escape")

    for name in ("settings", "shot_edit", "team", "view_link"):
        page.goto(app.url + app.pages[name])
        fits()
    page.goto(app.url + "/")
    fits()
    page.context.close()


def test_every_tap_target_on_a_phone_is_44_px_at_least(app, browser, tmp_path):  # noqa: F811
    page = open_project(browser, app, viewport=PHONE, has_touch=True, is_mobile=True)
    # Cards in every state, each one's trim and comments open, and a seam's inspector open
    # on its pairs of takes ("Use this pair").
    for kind in ("trim", "comments"):
        closed = page.locator(f"details.{kind}:not([open]) summary")
        for _ in range(20):
            if not closed.count():
                break
            closed.first.click()
        expect(closed).to_have_count(0)
    page.locator(".seam-inspector summary").first.click()
    expect(page.locator("[data-role=seam-pairs] button:has-text('Use this pair')")).to_have_count(1)
    expect(page.locator(".shot-card .trim input[type=range]").first).to_be_visible()
    expect(page.locator(".comment-form textarea").first).to_be_visible()
    expect(page.locator("[data-role=move-up]").first).to_be_visible()
    page.screenshot(path=tmp_path / "targets-390.png", full_page=True)
    assert_tap_targets(page, "a project on a phone", least=60)

    for name in ("settings", "shot_edit", "team"):
        page.goto(app.url + app.pages[name])
        expect(page.locator("main h1")).to_be_visible()
        page.screenshot(path=tmp_path / f"{name}-390.png", full_page=True)
        assert_tap_targets(page, name.replace("_", " "))
    for address in ("/", "/teams/"):
        page.goto(app.url + address)
        expect(page.locator("main h1")).to_be_visible()
        assert_tap_targets(page, address, least=5)
    page.context.close()

    # As someone with only a link, and someone invited.
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(app.url + app.pages["view_link"])
    expect(page.locator(".shot-card")).to_have_count(6)
    assert_tap_targets(page, "a view-only link")
    page.goto(app.url + app.pages["invitation"])
    expect(page.locator("#signup-form")).to_be_visible()
    assert_tap_targets(page, "an invitation", least=5)
    context.close()
