"""API tokens in Debian's Chromium, against `manage.py up`: one made on the account page,
its secret shown once, used over real HTTP, its last use shown, revoked."""

import os

import httpx
import pytest
from playwright.sync_api import expect

from tests.test_browser import browser  # noqa: F401  (fixture)
from tests.test_browser_axe import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# Set to a folder to keep the page's screenshots (to look at them).
SHOTS = os.environ.get("STORYBOARD_SCREENSHOTS")


@pytest.fixture(scope="module")
def app(shared_app):
    """The process's shared app (tests.conftest), as an account of this module's own."""
    return shared_app.account(__name__)


def shoot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_a_token_is_made_shown_once_used_and_revoked(app, browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{app.url}/")
    page.fill("input[name=username]", app.username)
    page.fill("input[name=password]", app.password)
    page.click("button:has-text('Sign in')")
    page.click("nav a:has-text('API tokens')")
    expect(page.locator("h1")).to_have_text("API tokens")
    expect(page.locator(".tokens")).to_have_count(0)

    page.fill("#new-token-form input[name=name]", "Nightly render")
    page.check("#new-token-form input[name=read_only]")
    page.click("#new-token-form button:has-text('Make the token')")
    secret = page.locator("#token-secret").input_value()
    assert secret.startswith("sb_") and len(secret) > 40
    expect(page.locator(".tokens")).to_contain_text("Nightly render")
    expect(page.locator(".tokens")).to_contain_text("never")
    shoot(page, "tokens-made")
    assert_accessible(page, "a new token's secret")

    api = httpx.Client(base_url=f"{app.url}/api/v1", headers={"Authorization": f"Bearer {secret}"})
    teams = api.get("/teams/")
    assert teams.status_code == 200, teams.text
    assert teams.json()["count"] == 1
    refused = api.post("/projects/", json={"title": "Not from a read-only token"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert "read-only" in refused.json()["message"]

    page.goto(f"{app.url}/accounts/tokens/")  # again: the secret is not shown again
    assert secret not in page.content()
    expect(page.locator("#token-secret")).to_have_count(0)
    expect(page.locator(".tokens")).not_to_contain_text("never")  # its last use: now
    expect(page.locator(".tokens")).to_contain_text("read-only")
    shoot(page, "tokens-list")
    assert_accessible(page, "the tokens page")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone's: nothing sideways
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 390, f"the tokens page is {width} px wide on a 390 px screen"
    shoot(page, "tokens-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.click(".tokens button:has-text('Revoke')")
    expect(page.locator(".flash, .messages").first).to_contain_text("no longer works")
    expect(page.locator(".tokens")).to_contain_text("revoked")
    after = api.get("/teams/")
    assert after.status_code == 401
    assert after.json()["code"] == "unauthenticated"
    context.close()


def test_the_interactive_documentation_opens(app, browser):  # noqa: F811
    """Swagger UI from the app's own static files, under its content security policy."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else 0)
    page.goto(f"{app.url}/api/v1/docs")
    # Swagger UI renders the page from its script: seconds on a loaded machine (expect's
    # own default is 5 s, whatever the page's is).
    expect(page.locator(".swagger-ui .title").first).to_contain_text("Storyboard", timeout=20_000)
    expect(page.locator(".opblock-tag-section").first).to_be_visible(timeout=20_000)
    shoot(page, "api-docs")
    assert not refused, refused
    context.close()
