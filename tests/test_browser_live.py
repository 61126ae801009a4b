"""The live timeline in Debian's Chromium, against `manage.py up`: what the page does with
events the stream sends it."""

import pytest
from playwright.sync_api import expect

from tests.test_browser import (  # noqa: F401
    add_shots,
    browser,
    card,
    sign_in_and_create_project,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def app(shared_app):
    """The process's shared app (tests.conftest), as an account of this module's own."""
    return shared_app.account(__name__)


def test_a_resync_event_makes_the_page_fetch_its_timeline_again(app, browser):  # noqa: F811
    """A stream that fell behind sends "resync" alone; the page refetches what it shows."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in_and_create_project(page, app, "Fell behind")
    add_shots(page, ["A kite over a dune"])
    expect(card(page, 1)).to_contain_text("4 s")

    # From here the page's stream is this test's: silent, until it says "resync".
    said = {"resync": False, "streams": 0}

    def events(route):
        said["streams"] += 1
        body = "retry: 300\n\n"
        if said["resync"]:
            body = "retry: 60000\n\nevent: resync\nid: 1\ndata: \n\n"
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)

    page.route("**/events?*", events)
    page.reload()
    expect(card(page, 1)).to_contain_text("4 s")
    app.update_shots("A kite over a dune", duration=7)
    streams = said["streams"]
    for _ in range(200):  # several silent streams came and went (each retries in 0.3 s)
        if said["streams"] >= streams + 3:
            break
        page.wait_for_timeout(100)
    expect(card(page, 1)).to_contain_text("4 s")  # no live event brought the change

    said["resync"] = True
    expect(card(page, 1)).to_contain_text("7 s")
    expect(page.locator("#resync")).to_have_count(1)  # ready for the next one
    context.close()


def test_a_live_cards_form_posted_plainly_carries_the_pages_token(app, browser):  # noqa: F811
    """Cards the stream renders hold forms without a CSRF field; a submit that lands before
    htmx takes the new card over posts it plainly, and must not be refused (403)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in_and_create_project(page, app, "Plain post")
    add_shots(page, ["A kite over a dune", "The kite falls"])
    expect(page.locator(".shot-card")).to_have_count(2)
    # A plain copy of the card's move form, as the stream renders it (no CSRF field),
    # that htmx has not taken over.
    card(page, 1).locator("form.moves").evaluate(
        """form => {
            const plain = document.createElement("form");
            plain.method = "post";
            plain.action = form.action;
            plain.id = "plain-move";
            plain.innerHTML = '<button name="direction" value="down">Down</button>';
            document.body.append(plain);
        }"""
    )
    with page.expect_response(lambda r: r.url.endswith("/move")) as answer:
        page.click("#plain-move button")
    assert answer.value.status == 302  # moved, and back to the project; not 403
    expect(page.locator("h1")).to_have_text("Plain post")
    expect(card(page, 1)).to_contain_text("The kite falls")
    context.close()


def test_a_card_a_live_event_renders_again_keeps_what_its_viewer_opened(app, browser):  # noqa: F811
    """A viewer's open comments stay open when a live event renders their card anew (the
    new card comes closed: app.js opens again what was open)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in_and_create_project(page, app, "Kept open")
    add_shots(page, ["A lantern on a jetty"])
    expect(card(page, 1)).to_contain_text("4 s")
    page.wait_for_function("() => window.storyboardLive === true")
    comments = card(page, 1).locator("details.comments")
    comments.locator("summary").click()
    expect(comments).to_have_attribute("open", "")

    app.update_shots("A lantern on a jetty", duration=7)
    expect(card(page, 1)).to_contain_text("7 s")  # the card the stream rendered
    expect(card(page, 1).locator("details.comments")).to_have_attribute("open", "")
    context.close()
