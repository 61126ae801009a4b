"""The whole flow in Debian's Chromium, against `manage.py up` as a user would run it."""

import os

import pypdf
import pytest
from playwright.sync_api import expect

from projects import media

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# Debian's headless build of Chromium where it is installed (`.ci/run` installs it): the
# same engine without the desktop browser's parts, about a tenth less CPU for the same tests.
# Else the desktop one, headless too.
CHROMIUM = next(
    (
        path
        for path in ("/usr/bin/chromium-headless-shell", "/usr/bin/chromium")
        if os.path.exists(path)
    ),
    "/usr/bin/chromium",
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
def app(every_page_app):
    """`manage.py up` with real-size clips (the first test plays them and measures the
    export) and a simulator that takes 2.5 s a task: the one tests/test_browser_axe.py
    checks too, started once for both (tests.every_page EVERY_PAGE_APP); the projects made
    here are new ones of its demo account's."""
    return every_page_app.get()


@pytest.fixture
def browser(shared_chromium):
    """Chromium, launched once for the browser tests that run in a row (tests.conftest);
    each test opens a context of its own and closes it."""
    return shared_chromium


def sign_in_and_create_project(page, app, title):
    page.goto(f"{app.url}/")
    page.fill("input[name=username]", app.username)
    page.fill("input[name=password]", app.password)
    page.click("button:has-text('Sign in')")
    page.fill("#new-project input[name=title]", title)
    page.select_option("#new-project select[name=resolution]", "480p")
    page.click("button:has-text('Create project')")
    expect(page.locator("h1")).to_have_text(title)


def card(page, number):
    return page.locator(f'.shot-card[data-shot="{number}"]')


def add_shots(page, shots):
    """Add shots of 4 s through the page's form: each a prompt (the form's own opening) or
    a (prompt, opening) pair."""
    for shot in shots:
        prompt, opening = (shot, None) if isinstance(shot, str) else shot
        page.fill("#shot-form textarea[name=prompt]", prompt)
        page.fill("#shot-form input[name=duration]", "4")
        if opening is not None:
            page.select_option("#shot-form select[name=opening]", opening)
        page.click("#shot-form button:has-text('Add shot')")


def send_billed(page):
    """Answer the question asked before anything is billed (templates/projects/
    bill_confirm.html): Enter sends it."""
    ask = page.locator("#bill-confirm")
    expect(ask).to_be_visible()
    expect(ask).to_contain_text("tokens")
    page.keyboard.press("Enter")
    expect(ask).to_be_hidden()


def test_a_team_member_builds_generates_plays_exports_and_shares(app, browser, tmp_path):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)

    sign_in_and_create_project(page, app, "Autumn valley")

    # Shot 1 takes the simulator's 2.5 s, long enough to be seen running while shot 2
    # waits for it; shots 2 and 3 only need to finish ([sim:delay=1]: about the time
    # their real-size clips take to render anyway).
    prompts = [
        ("Drone shot over an autumn valley", "cut"),
        ("The drone dives toward the river [sim:delay=1]", "continue"),
        ("It skims the water past a red canoe [sim:delay=1]", "continue"),
    ]
    for prompt, opening in prompts:
        page.fill("#shot-form textarea[name=prompt]", prompt)
        page.fill("#shot-form input[name=duration]", "4")
        page.select_option("#shot-form select[name=opening]", opening)
        page.click("#shot-form button:has-text('Add shot')")
    expect(page.locator(".shot-card")).to_have_count(3)
    expect(page.locator(".seam.continue")).to_have_count(2)

    # The page must not reload from here on: live status arrives as events.
    page.evaluate("window.stayedOnPage = true")
    page.click("#generate-button")
    send_billed(page)
    expect(card(page, 1)).to_have_attribute("data-status", "running", timeout=20_000)
    expect(card(page, 1).locator(".progress")).to_be_visible()
    expect(card(page, 2)).to_have_attribute("data-status", "waiting")
    for number in (1, 2, 3):
        expect(card(page, number)).to_have_attribute("data-status", "done", timeout=60_000)
    assert page.evaluate("window.stayedOnPage") is True
    assert page.evaluate("window.storyboardLive") is True

    for number in (1, 2, 3):
        video = card(page, number).locator("video")
        video.evaluate("v => { v.muted = true; return v.play(); }")
        page.wait_for_function(
            "v => v.currentTime > 0.3 && v.videoWidth === 864", arg=video.element_handle()
        )
        assert video.evaluate("v => v.duration") == pytest.approx(4.0, abs=0.1)
        # Seen playing: paused, not played on to its end (decoding and drawing real-size
        # frames in software, a second or more of Chromium's CPU a clip).
        video.evaluate("v => v.pause()")
    page.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)

    page.click("#export-button")
    download_link = page.locator(".export-card a:has-text('Download MP4')")
    expect(download_link).to_be_visible(timeout=60_000)
    with page.expect_download() as download:
        download_link.click()
    exported = tmp_path / "export.mp4"
    download.value.save_as(exported)
    info = media.probe(exported)
    # Seamless: each of the two continues drops the frame it repeats.
    assert info.frames == 3 * 96 - 2
    assert (info.width, info.height) == (864, 496)
    # The cut plays on the page, across its seams: from just before the first (4 s in),
    # not waiting through the 3.5 s of the first shot before it.
    player = page.locator(".export-card video.cut-player")
    player.evaluate("v => { v.muted = true; v.currentTime = 3.5; return v.play(); }")
    playing = player.element_handle()
    # Another export started meanwhile re-renders the list: the cut being watched plays on.
    page.select_option("#export-format", "srt")
    page.click("#export-button")
    expect(page.locator(".export-card")).to_have_count(2)
    assert playing.evaluate("v => v.isConnected && !v.paused")
    page.wait_for_function("v => v.currentTime > 4.2", arg=playing, timeout=20_000)
    assert player.evaluate("v => v.duration") == pytest.approx(286 / 24, abs=0.05)
    player.evaluate("v => v.pause()")  # played across the seam: not on through the rest

    # The printed storyboard, from the same menu: a panel per shot, each with its poster.
    page.select_option("#export-format", "pdf")
    page.click("#export-button")
    printed = page.locator(".export-card a:has-text('Download PDF')")
    expect(printed).to_be_visible(timeout=60_000)
    with page.expect_download() as download:
        printed.click()
    download.value.save_as(tmp_path / "board.pdf")
    board = pypdf.PdfReader(tmp_path / "board.pdf")
    assert len(board.pages) == 1 and board.pages[0].extract_text().count("take 1") == 3

    project_url = page.url
    page.click("#settings-link")
    page.select_option("#link-form select[name=kind]", "view")
    page.click("#share-button")
    share_url = page.locator(".share-link").first.input_value()
    context.close()

    # Someone who is not signed in, with only the link.
    stranger = browser.new_context(accept_downloads=True)
    page = stranger.new_page()
    page.goto(share_url)
    expect(page.locator("h1")).to_have_text("Autumn valley")
    expect(page.locator(".shot-card video")).to_have_count(3)
    expect(page.locator("#generate-button, #shot-form, #export-button, .actions")).to_have_count(0)
    with page.expect_download() as download:
        page.click(".export-card a:has-text('Download MP4')")
    download.value.save_as(tmp_path / "shared.mp4")
    assert media.probe(tmp_path / "shared.mp4").frames == 3 * 96 - 2
    page.goto(project_url)
    assert "/accounts/login/" in page.url
    stranger.close()


def test_cards_poll_for_their_status_when_server_sent_events_are_unavailable(app, browser):
    context = browser.new_context()
    context.add_init_script("delete window.EventSource")
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in_and_create_project(page, app, "No events here")
    # Only its end is looked for: the simulator's 2.5 s would only be waited out.
    page.fill("#shot-form textarea[name=prompt]", "A paper boat on a puddle [sim:delay=0.5]")
    page.fill("#shot-form input[name=duration]", "4")
    page.click("#shot-form button:has-text('Add shot')")

    page.evaluate("window.stayedOnPage = true")
    page.click("#generate-button")
    send_billed(page)
    # Polled, not streamed: a busy machine may see it go from queued straight to done.
    expect(card(page, 1)).to_have_attribute("data-status", "done", timeout=30_000)
    assert page.evaluate("window.stayedOnPage") is True
    assert page.evaluate("window.storyboardLive") is None
    context.close()
