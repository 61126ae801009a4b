"""The activity list names who did each thing, in Debian's Chromium against `manage.py up`
(served by uvicorn, as deployed): making a team, generating, moving a shot, exporting,
and a review guest's approval; none of it is "the command line"."""

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.test_browser import (  # noqa: F401
    browser,
    card,
    send_billed,
    sign_in_and_create_project,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


# A page's stream opens with its live status and the catch-up, one message after another
# in one chunk (projects.live.stream): caughtUp once they are all handled. (Before the
# swap: the live status swaps itself out, and an event on it after that reaches no one.)
CAUGHT_UP = """document.addEventListener("htmx:sseBeforeMessage", (event) => {
  if (event.target.id === "live-status") setTimeout(() => { window.caughtUp = true; }, 200);
});"""


@pytest.fixture(scope="module")
def app(shared_app):
    """The process's shared app (tests.conftest), as an account of this module's own."""
    return shared_app.account(__name__)


def test_every_entry_names_who_did_it(app, browser, tmp_path):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in_and_create_project(page, app, "Harbour at dusk")
    project_url = page.url
    me = app.username

    # A team, made on its page.
    page.goto(f"{app.url}/teams/")
    page.fill("#new-team input[name=name]", "Night crew")
    page.click("#new-team button:has-text('Make the team')")
    expect(page.locator(".activity")).to_contain_text(f"{me} made the team")
    expect(page.locator(".activity")).not_to_contain_text("the command line")

    # Two shots, generated; the second moved up; the cut exported.
    page.goto(project_url)
    for prompt in ("A lighthouse at dusk", "Gulls over the pier"):
        page.fill("#shot-form textarea[name=prompt]", prompt)
        page.fill("#shot-form input[name=duration]", "4")
        page.select_option("#shot-form select[name=opening]", "cut")
        page.click("#shot-form button:has-text('Add shot')")
    expect(page.locator(".shot-card")).to_have_count(2)
    page.click("#generate-button")
    send_billed(page)
    for number in (1, 2):
        expect(card(page, number)).to_have_attribute("data-status", "done", timeout=60_000)
    card(page, 2).locator("[data-role=move-up]").click()
    expect(card(page, 1)).to_contain_text("Gulls over the pier")
    # Live swaps of the exports list leave the form, and the format chosen in it, alone.
    page.select_option("#export-format", "srt")
    page.click("#export-button")
    expect(page.locator(".export-card a:has-text('Download SRT')")).to_be_visible(timeout=60_000)

    # A review link; its guest, by name, approves the first shot's take.
    page.click("#settings-link")
    page.select_option("#link-form select[name=kind]", "review")
    page.click("#share-button")
    review_url = page.locator(".share-link").first.input_value()
    guest_context = browser.new_context()
    guest_context.add_init_script(CAUGHT_UP)
    guest = guest_context.new_page()
    guest.set_default_timeout(20_000)
    guest.goto(review_url)
    guest.fill("#guest-name input[name=name]", "Rita")
    guest.click("#guest-name button")
    # The stream's catch-up (what changed just before the page was rendered) re-renders
    # the timeline as the page opens: a click on a verdict then would be lost.
    guest.wait_for_function("() => window.caughtUp")
    verdict = guest.locator("[data-role=verdict]").first
    for _ in range(5):  # a live swap landing just as it is clicked can swallow the click
        guest.locator(".verdicts").first.locator("button[value=approved]").click()
        try:
            verdict.wait_for(timeout=4_000)
            break
        except PlaywrightTimeout:
            continue
    expect(verdict).to_contain_text("approved by Rita")
    guest_context.close()

    page.goto(project_url + "settings")
    activity = page.locator(".activity")
    for line in (
        f"{me} made the project",
        f"{me} added shot 2",
        f"{me} generated shot 1",
        f"{me} generated shot 2",
        f"{me} moved shot 1",
        f"{me} exported the cut",
        f"{me} made a review link",
        "Rita (guest) marked take 1 of shot 1 approved",
    ):
        expect(activity).to_contain_text(line)
    expect(activity).not_to_contain_text("the command line")
    page.screenshot(path=str(tmp_path / "activity.png"), full_page=True)
    context.close()
