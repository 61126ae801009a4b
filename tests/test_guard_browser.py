"""A held card in Debian's Chromium: it says why, its scrubber shows the frames of the
shot before, and picking one lets the chain go on."""

import re
import shutil
import time

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import expect, sync_playwright

from projects import pipeline
from projects.models import Opening, Take
from tests.factories import make_project
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, send_billed

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300), pytest.mark.full_clips]


@pytest.fixture
def page(live_server, user, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # are plain synchronous ones all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not shutil.which(CHROMIUM):
        pytest.fail("Debian's Chromium is needed: apt-get install chromium-headless-shell")
    client = Client()
    client.force_login(user)
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        cookie = {"name": django_settings.SESSION_COOKIE_NAME, "value": session}
        context.add_cookies([{**cookie, "url": live_server.url}])
        # No event stream: its producer would outlive this test's database (the page
        # polls instead, as it does whenever the stream is down).
        context.route(re.compile(r"/events(\?|$)"), lambda route: route.abort())
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        browser.close()


def test_a_held_card_scrubs_the_shot_before_and_a_picked_frame_lets_it_go(
    simulator, user, live_server, page, tmp_path
):
    project = make_project(
        user,
        title="Harbour at dusk",
        shots=[
            ("Rain over a harbour at dusk [sim:end=black]", Opening.CUT),
            ("The camera drifts toward the lighthouse", Opening.CONTINUE),
            ("Its lamp sweeps the water", Opening.CONTINUE),
        ],
    )
    pipeline.queue_takes(project)
    assert pipeline.run_here(project, deadline=time.monotonic() + 60)
    held = project.shots.get(position=1).latest_take
    assert held.held

    page.goto(f"{live_server.url}{project.get_absolute_url()}")
    card = page.locator('.shot-card[data-shot="2"]')
    expect(card.locator("[data-role=held]")).to_contain_text(
        "Held: shot 2 would start on a near-black frame from shot 1."
    )
    scrub = card.locator("input[name=out]")
    expect(scrub).to_have_attribute("max", "95")
    expect(scrub).to_have_attribute("min", "48")
    video = card.locator("video.held-clip")
    expect(video).to_have_js_property("readyState", 4, timeout=20_000)

    scrub.fill("80")  # before the fade to black
    expect(card.locator("output")).to_have_text("80")
    page.wait_for_function(
        "v => Math.abs(v.currentTime - 80.5 / 24) < 0.01 && !v.seeking",
        arg=video.element_handle(),
    )
    card.screenshot(path=tmp_path / "held-card.png")
    page.locator("#timeline").screenshot(path=tmp_path / "held-seam.png")

    card.locator("button:has-text('Continue from this frame')").click()
    send_billed(page)
    expect(page.locator('.shot-card[data-shot="2"] [data-role=held]')).to_have_count(0)
    held.refresh_from_db()
    assert held.held == "" and held.status == Take.Status.WAITING
    assert project.shots.get(position=0).trim_out == 80
