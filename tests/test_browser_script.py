"""Script to shots in Debian's Chromium, against `manage.py up`: a Fountain screenplay
uploaded on the import page, its preview read (the shots, the cast, a long paragraph
flagged with its suggested split), nothing made until confirmed, then the shots on the
timeline with their cast chips and dialogue."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.test_browser import (  # noqa: F401
    browser,
    card,
    sign_in_and_create_project,
)
from tests.test_browser_axe import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

DATA = Path(__file__).parent / "data"
# Set to a folder (static/img) to keep the screenshot the README shows.
SCREENSHOTS = os.environ.get("STORYBOARD_SCREENSHOTS")
LONG = " ".join(["The camera drifts past the moored boats in the grey morning light."] * 8)


@pytest.fixture(scope="module")
def app(shared_app):
    """The process's shared app (tests.conftest), as an account of this module's own: its
    SCRIPT_MODEL offers Break down with AI."""
    return shared_app.account(__name__)


def test_a_fountain_screenplay_imported_through_the_preview(app, browser, tmp_path):  # noqa: F811
    script = tmp_path / "harbour.fountain"
    script.write_text((DATA / "harbour.fountain").read_text() + f"\nEXT. PORT - DAY\n\n{LONG}\n")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in_and_create_project(page, app, "Harbour")

    page.click("#import-link")
    expect(page.locator("h1")).to_have_text("Import a script")
    assert_accessible(page, "the import page")
    page.set_input_files("#script-form input[name=file]", str(script))
    page.click("#preview-button")
    expect(page.locator("h1")).to_have_text(
        "Preview: 5 shots (3 cuts, 2 continues), 6 new cast members: Mara (character), "
        "Tom (character), Old-Man (character), Harbour (location), Cliff-Top (location), "
        "Port (location)"
    )
    rows = page.locator("#import-shots tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.nth(1)).to_contain_text("TOM (O.S.): (from the dark) Here. Behind the nets.")
    expect(page.locator("#import-warnings")).to_contain_text(
        "Shot 5: 96 words is long for one prompt: split into 2 shots as suggested"
    )
    expect(page.locator("#import-cast .cast-chip")).to_have_count(6)
    assert_accessible(page, "the import preview")
    page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "import-preview.png"), full_page=True)

    # Nothing is made until confirmed; taking the split makes six shots.
    other = context.new_page()
    other.goto(page.url.removesuffix("import"))
    expect(other.locator("h1")).to_have_text("Harbour")
    expect(other.locator(".shot-card")).to_have_count(0)
    other.close()
    page.check("#confirm-form input[name=split]")
    page.click("#repreview-button")
    expect(rows).to_have_count(6)
    page.click("#confirm-button")

    expect(page.locator(".shot-card")).to_have_count(6)
    expect(card(page, 2).locator("[data-role=notes]")).to_contain_text("MARA: Where is he?")
    for name in ("Harbour", "Mara", "Tom"):
        expect(card(page, 2).locator(f'.cast-chip[data-cast="{name}"]')).to_be_visible()
    expect(card(page, 4).locator('.cast-chip[data-cast="Old-Man"]')).to_be_visible()
    page.screenshot(path=str(tmp_path / "imported.png"), full_page=True)
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "import-timeline.png"), full_page=True)
    context.close()


def test_a_screenplay_broken_down_by_the_chat_model_through_a_worker(app, browser):  # noqa: F811
    """The page waits on a worker, never on the gateway, and then previews the answer;
    the confirmation makes what was shown."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in_and_create_project(page, app, "Quay")
    page.goto(page.url.rstrip("/") + "/import")
    script = "INT. HARBOUR - NIGHT\n\nRain drums on the roofs. MARA walks the quay.\n\n"
    page.fill("#script-form textarea[name=text]", script + "MARA\nWhere is he?\n")
    page.click("#breakdown-button")
    expect(page).to_have_url(re.compile(r"/import/breakdowns/\d+$"))
    expect(page.locator("h1")).to_contain_text("Preview: 1 shot", timeout=60_000)
    expect(page.locator("#import-what")).to_contain_text("From a breakdown by the chat model")
    page.click("#confirm-button")
    expect(page.locator(".shot-card")).to_have_count(1)
    expect(card(page, 1).locator(".prompt")).to_contain_text("Wide shot, slow push-in")
    expect(card(page, 1).locator("[data-role=notes]")).to_contain_text("MARA: Where is he?")
    context.close()
