"""The cast in Debian's Chromium, against `manage.py up`: a member made on the cast page
with a picture, named in one shot's prompt and picked beside another's, and seen on the
cards as a chip with its thumbnail; a name no one answers to is underlined, and Generate
asks about it first."""

import io
import os
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.test_browser import (  # noqa: F401
    browser,
    card,
    sign_in_and_create_project,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# Set to a folder (static/img) to keep the screenshots the README shows.
SCREENSHOTS = os.environ.get("STORYBOARD_SCREENSHOTS")


@pytest.fixture(scope="module")
def app(shared_app):
    """The process's shared app (tests.conftest), as an account of this module's own."""
    return shared_app.account(__name__)


def portrait(path, colour):
    """A picture with a face-like shape on it, so a thumbnail is more than a flat colour."""
    image = Image.new("RGB", (400, 480), colour)
    pixels = image.load()
    for x in range(130, 270):
        for y in range(110, 290):
            if ((x - 200) / 70) ** 2 + ((y - 200) / 90) ** 2 <= 1:
                pixels[x, y] = (235, 200, 170)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def loaded(page, selector):
    """Wait until the picture at `selector` has loaded (a live update may re-render it)."""
    page.wait_for_function(
        "s => { const img = document.querySelector(s);"
        " return !!img && img.complete && img.naturalWidth > 0; }",
        arg=selector,
    )


def test_a_cast_member_made_named_and_seen_on_the_cards(app, browser, tmp_path):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in_and_create_project(page, app, "Harbour")

    # The cast page: a member with two pictures, and a second with one.
    page.click("#cast-link")
    expect(page.locator("h1")).to_have_text("Cast")
    for name, kind, description, colours in [
        ("Mara", "character", "A tall woman in a red coat, short black hair", [(170, 40, 40)]),
        ("Harbour", "location", "A foggy harbour at night, wet cobbles", [(40, 60, 110)]),
    ]:
        page.fill("#cast-form input[name=name]", name)
        page.select_option("#cast-form select[name=kind]", kind)
        page.fill("#cast-form textarea[name=description]", description)
        files = [portrait(tmp_path / f"{name}-{n}.png", c) for n, c in enumerate(colours)]
        page.set_input_files("#cast-form input[name=images]", [str(f) for f in files])
        page.click("#cast-form button:has-text('Add to the cast')")
        expect(page.locator(f'.cast-member[data-cast="{name}"]')).to_be_visible()
    mara = page.locator('.cast-member[data-cast="Mara"]')
    expect(mara.locator("img.cast-thumb")).to_have_count(1)
    loaded(page, '.cast-member[data-cast="Mara"] img.cast-thumb')
    expect(mara.locator("[data-role=cast-shots]")).to_have_text("In no shot yet")
    shot = tmp_path / "cast-page.png"
    page.screenshot(path=str(shot), full_page=True)
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "cast-page.png"), full_page=True)

    # A shot naming her in its prompt, and one picking the harbour beside the prompt.
    page.click("text=← Harbour")
    page.fill("#shot-form textarea[name=prompt]", "@Mara walks along the quay")
    page.fill("#shot-form input[name=duration]", "4")
    page.select_option("#shot-form select[name=opening]", "cut")
    page.click("#shot-form button:has-text('Add shot')")
    expect(page.locator(".shot-card")).to_have_count(1)
    page.fill("#shot-form textarea[name=prompt]", "The fog rolls over the water")
    page.fill("#shot-form input[name=duration]", "4")
    page.select_option("#shot-form select[name=opening]", "cut")
    page.locator("#shot-form .cast-pick label", has_text="Harbour").click()
    page.click("#shot-form button:has-text('Add shot')")
    expect(page.locator(".shot-card")).to_have_count(2)

    chip = card(page, 1).locator('.cast-chip[data-cast="Mara"]')
    expect(chip).to_be_visible()
    loaded(page, '.shot-card[data-shot="1"] .cast-chip[data-cast="Mara"] img')
    expect(card(page, 2).locator('.cast-chip[data-cast="Harbour"]')).to_be_visible()
    expect(card(page, 2).locator(".cast-chip")).to_have_count(1)
    page.screenshot(path=str(tmp_path / "cards.png"), full_page=True)
    if SCREENSHOTS:
        card(page, 1).screenshot(path=str(Path(SCREENSHOTS) / "cast-card.png"))

    # A name no one answers to: underlined, and Generate asks about it first.
    page.fill("#shot-form textarea[name=prompt]", "@Nobody waves from the boat")
    page.fill("#shot-form input[name=duration]", "4")
    page.select_option("#shot-form select[name=opening]", "cut")
    page.click("#shot-form button:has-text('Add shot')")
    expect(card(page, 3).locator("u.unknown-cast")).to_have_text("@Nobody")
    page.click("#generate-button")
    ask = page.locator("#bill-confirm")
    expect(ask).to_be_visible()
    expect(ask.locator("[data-role=bill-warning]")).to_have_text(
        "Shot 3 names @Nobody, not in the cast."
    )
    page.click("#bill-confirm button:has-text('Not now')")
    expect(ask).to_be_hidden()

    # The cast page says where each is.
    page.click("#cast-link")
    expect(page.locator('.cast-member[data-cast="Mara"] [data-role=cast-shots]')).to_have_text(
        "In shot 1"
    )
    context.close()
