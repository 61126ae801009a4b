"""Every page passes axe-core in Debian's Chromium with no serious or critical violation.

The pages are those of a live app (`manage.py up`) with something in every state
(tests.every_page): a project whose cards are done, stale, failed, uncertain, cancelled,
running and never generated, its settings and links, a shot's editor, teams, an invitation,
the view-only and review links, a refusal (403), a missing page and the lock-out.
"""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.test_browser import browser  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SERIOUS = {"serious", "critical"}
axe = Axe()


@pytest.fixture
def app(every_page_app):
    """The seeded app (tests.every_page EVERY_PAGE_APP), shared with tests/test_browser.py.
    Its shot never generated takes the simulator 10 s: the test that generates it checks
    the page while it is still running. Behind a proxy, so that the lock-out test can sign
    in from an address of its own and lock no other test out with it."""
    return every_page_app.get()


def serious_violations(page):
    """axe-core's serious and critical violations on the page as it is now, one line each
    naming the rule, what it asks, and the elements that break it."""
    results = axe.run(page).response
    lines = []
    for violation in results["violations"]:
        if violation["impact"] not in SERIOUS:
            continue
        lines.append(f"{violation['impact']}: {violation['id']}: {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"    {node['target']}: {node['failureSummary']}".replace("\n", " "))
    return lines


# Each id names one element: a label's `for`, a fragment, aria-labelledby all rely on it.
DUPLICATE_IDS = """() => {
  const ids = [...document.querySelectorAll("[id]")].map((element) => element.id);
  return [...new Set(ids.filter((id, index) => ids.indexOf(id) !== index))];
}"""


def assert_accessible(page, what):
    found = serious_violations(page)
    found += [f"duplicate id: {id}" for id in page.evaluate(DUPLICATE_IDS)]
    assert not found, f"{what} ({page.url}) fails axe-core:\n" + "\n".join(found)


# The cookies of a sign-in through the form, by app and username: the tests after the first
# that signs in as someone start from that session (the form, and axe's check of it, are
# test_signed_out_pages's), a page load and a sign-in fewer each.
_signed_in = {}


def sign_in(page, app, username=None, password=None):
    """`page` signed in, on the project list."""
    username = username or app.username
    cookies = _signed_in.get((app.url, username))
    if cookies:
        page.context.add_cookies(cookies)
        page.goto(f"{app.url}/")
        expect(page.locator("h1")).to_have_text("Projects")
        return
    page.goto(f"{app.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password or app.password)
    page.click("button:has-text('Sign in')")
    expect(page.locator("h1")).to_have_text("Projects")
    _signed_in[app.url, username] = page.context.cookies(app.url)


@pytest.fixture
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def test_signed_out_pages(app, page):
    page.goto(f"{app.url}/")
    expect(page.locator("h1")).to_have_text("Sign in")
    assert_accessible(page, "the sign-in page")

    page.fill("input[name=username]", "nobody-at-all")
    page.fill("input[name=password]", "wrong")
    page.click("button:has-text('Sign in')")
    expect(page.locator("form .error")).to_be_visible()
    assert_accessible(page, "the sign-in page with an error")

    page.goto(app.url + app.pages["invitation"])
    expect(page.locator("#signup-form")).to_be_visible()
    assert_accessible(page, "an invitation, signed out")

    page.goto(f"{app.url}/no-such-page")
    assert_accessible(page, "a missing page (404)")


def test_a_members_pages(app, page):
    sign_in(page, app)
    assert_accessible(page, "the project list")

    page.goto(app.url + app.pages["project"])
    shot = page.locator(f"#shot-{app.pages['never_generated']}")
    shot.locator("button:has-text('Generate')").click()
    expect(page.locator("#bill-confirm")).to_be_visible()
    assert_accessible(page, "the question asked before billing")
    page.keyboard.press("Enter")
    expect(page.locator("#bill-confirm")).to_be_hidden()
    # While the take is queued (a quarter of the simulator's delay), the shortcuts' dialog.
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    assert_accessible(page, "the keyboard shortcuts")
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    expect(shot).to_have_attribute("data-status", "running", timeout=30_000)
    expect(page.locator(".shot-card[data-status=done]")).to_have_count(3)
    expect(page.locator(".shot-card[data-status=failed]")).to_have_count(1)
    expect(page.locator(".shot-card[data-status=cancelled]")).to_have_count(1)
    expect(page.locator(".shot-card .stale")).to_have_count(1)
    expect(page.locator(".shot-card .kinds [data-kind=final]")).to_have_count(2)
    expect(page.locator("[data-role=uncertain] [data-role=send-again]")).to_have_count(1)
    expect(page.locator(".export-card[data-status=done] video")).to_have_count(1)
    assert_accessible(page, "a project with shots in every state")

    for name in ("shot_edit", "settings", "team", "cast", "cast_edit"):
        page.goto(app.url + app.pages[name])
        assert_accessible(page, name.replace("_", " "))
    page.goto(f"{app.url}/teams/")
    assert_accessible(page, "the team list")
    page.goto(app.url + app.pages["invitation"])
    assert_accessible(page, "an invitation, signed in")


def test_a_viewers_pages_and_a_refusal(app, page):
    sign_in(page, app, *app.pages["viewer"])
    page.goto(app.url + app.pages["project"])
    expect(page.locator(".shot-card")).to_have_count(6)
    assert_accessible(page, "a project, as a viewer")
    # A viewer may read a shot's editor, not save it.
    page.goto(app.url + app.pages["shot_edit"])
    page.click("button:has-text('Save shot')")
    expect(page.locator("h1")).to_have_text("Not allowed")
    assert_accessible(page, "a refusal (403)")


def test_links(app, page):
    page.goto(app.url + app.pages["view_link"])
    expect(page.locator(".shot-card")).to_have_count(6)
    assert_accessible(page, "a view-only link")

    page.goto(app.url + app.pages["review_link"])
    assert_accessible(page, "a review link, before the reviewer's name")
    page.fill("#guest-name input[name=name]", "Rita")
    page.click("#guest-name button")
    expect(page.locator(".verdicts").first).to_be_visible()
    assert_accessible(page, "a review link")


def test_the_lock_out(app, browser):  # noqa: F811
    # From an address of its own, so that no other sign-in is locked out with it.
    context = browser.new_context(extra_http_headers={"X-Forwarded-For": "203.0.113.7"})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{app.url}/accounts/login/")
    for _ in range(8):
        page.fill("input[name=username]", "mallory")
        page.fill("input[name=password]", "guess")
        page.click("button:has-text('Sign in')")
        if page.locator("h1").text_content() == "Too many tries":
            break
        expect(page.locator("form .error")).to_be_visible()
    expect(page.locator("h1")).to_have_text("Too many tries")
    assert_accessible(page, "the lock-out")
    context.close()


def test_a_skip_link_leads_to_the_content(app, page):
    sign_in(page, app)
    page.goto(app.url + app.pages["settings"])
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("main a").first).to_be_focused()


def test_the_model_is_picked_among_the_gateways_or_typed(app, page, tmp_path):
    sign_in(page, app)
    page.goto(app.url + app.pages["settings"])
    model = page.locator("#id_model")
    other = page.locator("#id_model_other")
    expect(model.locator("option", has_text="(fast, for drafts)")).to_have_count(2)
    expect(other).to_be_hidden()  # only once "Other…" is picked
    model.select_option("_other")
    expect(other).to_be_visible()
    other.fill("ep-20260214093000-fast1")
    page.click("#settings-form button.primary")
    expect(page.locator("h1")).to_have_text("Harbour lights")
    expect(page.locator(".project-head")).to_contain_text("ep-20260214093000-fast1")

    page.goto(app.url + app.pages["settings"])
    expect(model).to_have_value("_other")
    expect(other).to_have_value("ep-20260214093000-fast1")
    page.screenshot(path=tmp_path / "settings-model.png")
    assert_accessible(page, "the settings with another model typed")
    model.select_option("doubao-seedance-2-0-fast-260128")
    expect(other).to_be_hidden()
    page.click("#settings-form button.primary")
    expect(page.locator(".project-head")).not_to_contain_text("ep-20260214093000-fast1")
    page.goto(app.url + app.pages["settings"])
    expect(model).to_have_value("doubao-seedance-2-0-fast-260128")


def test_an_invitation_link_is_copied_again_then_says_who_used_it(app, browser, tmp_path):  # noqa: F811
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in(page, app)
    page.goto(app.url + app.pages["team"])
    page.select_option("#invite-form select[name=role]", "viewer")
    page.click("#invite-form button")
    link = page.locator("#invitation-link").input_value()
    assert "/invitations/" in link

    # Later, on the team page again: the same link, to copy.
    page.reload()
    row = page.locator(".invitations li", has=page.locator(f'input[value="{link}"]'))
    expect(row).to_have_count(1)
    row.locator("button:has-text('Copy link')").click()
    expect(row.locator("button[data-copy]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == link
    assert_accessible(page, "a team with invitations to copy again")

    newcomer = browser.new_context()
    joining = newcomer.new_page()
    joining.set_default_timeout(20_000)
    joining.goto(link)
    joining.fill("#signup-form input[name=username]", "tomas")
    joining.fill("#signup-form input[name=password1]", "a long pass phrase")
    joining.fill("#signup-form input[name=password2]", "a long pass phrase")
    joining.click("#signup-form button")
    expect(joining.locator("h1")).to_have_text("Projects")
    newcomer.close()

    page.reload()
    expect(page.locator(f'input[value="{link}"]')).to_have_count(0)
    expect(page.locator(".invitations-used")).to_contain_text("used by tomas on")
    page.locator("#invite").screenshot(path=tmp_path / "invitations.png")
    context.close()
