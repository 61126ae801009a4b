"""Webhooks in Debian's Chromium, against `manage.py up`: an owner adds an endpoint on
the team page, copies its secret (shown once), sends a test event, which the app's own
worker delivers to a real receiver that checks its signature with standardwebhooks, and
sees the delivery's answers on the page, a 500 and then the retry's 200."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.test_browser import browser  # noqa: F401  (a fixture)
from tests.test_webhooks import Receiver
from tests.worker import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
# Set to a folder (static/img) to keep the screenshot the README shows.
SCREENSHOTS = os.environ.get("STORYBOARD_SCREENSHOTS")


@pytest.fixture(scope="module")
def app(shared_app):
    """The process's shared app (tests.conftest), as an account of this module's own."""
    return shared_app.account(__name__)


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def test_an_owner_adds_an_endpoint_and_a_test_event_reaches_it_signed(
    app,
    browser,  # noqa: F811
    receiver,
    tmp_path,
):
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{app.url}/")
    page.fill("input[name=username]", app.username)
    page.fill("input[name=password]", app.password)
    page.click("button:has-text('Sign in')")
    page.goto(f"{app.url}/teams/")
    page.click(".team-list a")

    form = page.locator("#endpoint-form")
    form.locator("input[name=url]").fill(receiver.url)
    form.get_by_label("take.done", exact=False).check()
    form.get_by_label("project.rendered", exact=False).check()
    form.locator("button").click()
    secret = page.locator("#endpoint-secret").input_value()
    assert secret.startswith("whsec_")

    page.locator("#webhooks button:has-text('Send test event')").click()
    wait_until(lambda: receiver.requests, timeout=30, what="the test event")
    (body,) = receiver.verified(secret)
    assert body["type"] == "ping"

    # The page tells the delivery and its answer; the secret is not shown again.
    page.goto(page.url.split("#")[0])
    row = page.locator(".deliveries tr.delivery").first
    expect(row).to_contain_text("ping")
    expect(row).to_contain_text("200")
    expect(page.locator("#endpoint-secret")).to_have_count(0)
    expect(page.locator(".endpoint-url").first).to_have_text(receiver.url)

    # Answered 500 first: the worker's clock tries it again (after 0.5 s here).
    receiver.script = [500]
    page.locator("#webhooks button:has-text('Send test event')").click()
    wait_until(lambda: len(receiver.requests) == 3, timeout=30, what="the retry")
    first, second = receiver.verified(secret)[1:]
    assert first["id"] == second["id"] != body["id"]
    page.goto(page.url.split("#")[0])
    row = page.locator(".deliveries tr.delivery").first
    expect(row.locator(".attempt")).to_have_count(2)
    expect(row.locator(".attempt").first).to_contain_text("500")
    expect(row.locator(".attempt").last).to_contain_text("200")
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    page.locator("#webhooks").screenshot(path=str(folder / "webhooks.png"))
    context.close()
