"""Teams in Debian's Chromium, against `manage.py up`: an invitation, a comment and a
mention back; a viewer's page; two editors on one shot."""

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.test_browser import browser, sign_in_and_create_project  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def app(shared_app):
    """The process's shared app (tests.conftest), as an account of this module's own."""
    return shared_app.account(__name__)


def sign_up_by_invitation(browser, link, username):  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(link)
    page.fill("#signup-form input[name=username]", username)
    page.fill("#signup-form input[name=password1]", "a long pass phrase")
    page.fill("#signup-form input[name=password2]", "a long pass phrase")
    page.click("#signup-form button")
    expect(page.locator("h1")).to_have_text("Projects")
    return context, page


def invite(page, app, role):  # noqa: F811
    page.goto(f"{app.url}/teams/")
    page.click(".team-list a")
    page.select_option("#invite-form select[name=role]", role)
    page.click("#invite-form button")
    return page.locator("#invitation-link").input_value()


def comment(page, text):
    """Write a comment on the first shot, opening its thread when it is closed."""
    textarea = page.locator(".comment-form textarea").first
    for _ in range(10):  # a live swap landing just as it is clicked renders it closed again
        if textarea.is_visible():
            break
        page.locator(".shot-card .comments summary").first.click()
        page.wait_for_timeout(1_000)
    page.fill(".comment-form textarea", text)
    button = page.locator(".comment-form button")
    expect(button).to_be_visible()
    button.click()


def add_shot(page, prompt):
    page.fill("#shot-form textarea[name=prompt]", prompt)
    page.fill("#shot-form input[name=duration]", "4")
    page.click("#shot-form button:has-text('Add shot')")


def project_with_invitation(browser, app, title, prompt, role):  # noqa: F811
    """An owner signed in with a one-shot project: their context and page, the project's
    address, and an invitation link for `role`."""
    context = browser.new_context()
    owner = context.new_page()
    owner.set_default_timeout(20_000)
    sign_in_and_create_project(owner, app, title)
    add_shot(owner, prompt)
    project_url = owner.url
    return context, owner, project_url, invite(owner, app, role)


def test_an_invitee_joins_comments_and_is_mentioned_back(app, browser):  # noqa: F811
    owner_context, owner, project_url, link = project_with_invitation(
        browser, app, "Harbour at night", "A lighthouse beam sweeps the harbour", "editor"
    )

    guest_context, guest = sign_up_by_invitation(browser, link, "zoe")
    expect(guest.locator(".team-group")).to_contain_text("Harbour at night")
    guest.click("text=Harbour at night")
    comment(guest, "Could the beam be slower?")
    expect(guest.locator(".comment")).to_contain_text("Could the beam be slower?")

    # The owner sees it arrive live, and answers with a mention.
    owner.goto(project_url)
    expect(owner.locator(".comment")).to_contain_text("zoe")
    comment(owner, "@zoe slower it is")
    expect(owner.locator(".comment").last).to_contain_text("@zoe slower it is")
    # It reaches the invitee's open page live.
    expect(guest.locator(".comment").last).to_contain_text("@zoe slower it is", timeout=20_000)

    guest.goto(f"{app.url}/")
    expect(guest.locator(".inbox")).to_contain_text(f"{app.username} mentioned you on shot 1")
    # Opening it (a form: it marks the mention read) shows the shot, and empties the inbox.
    guest.click(".inbox .mention button")
    guest.wait_for_url(f"**{project_url}#shot-*")
    guest.goto(f"{app.url}/")
    expect(guest.locator(".inbox")).not_to_contain_text("mentioned you")
    owner_context.close()
    guest_context.close()


def test_a_viewer_sees_no_generate_button_and_is_refused_if_they_try(app, browser):  # noqa: F811
    owner_context, owner, project_url, link = project_with_invitation(
        browser, app, "Viewer's view", "A paper boat on a puddle", "viewer"
    )

    context, viewer = sign_up_by_invitation(browser, link, "vic")
    viewer.goto(project_url)
    expect(viewer.locator(".shot-card")).to_have_count(1)
    expect(viewer.locator("#generate-button")).to_have_count(0)
    expect(viewer.locator("#shot-form")).to_have_count(0)
    expect(viewer.locator(".shot-card .actions")).to_have_count(0)
    expect(viewer.locator(".comment-form")).to_have_count(1)  # viewers comment
    # Posting anyway is refused, in plain words.
    answer = viewer.request.post(project_url + "generate", headers={"X-CSRFToken": csrf(viewer)})
    assert answer.status == 403 and "Only owners and editors can generate" in answer.text()
    owner_context.close()
    context.close()


def test_two_editors_on_one_shot_the_second_is_told(app, browser):  # noqa: F811
    owner_context, owner, project_url, link = project_with_invitation(
        browser, app, "Two editors", "A fox at the edge of the wood", "editor"
    )
    context, editor = sign_up_by_invitation(browser, link, "ed")

    for page in (owner, editor):
        page.goto(project_url)
        open_the_shot(page)
    owner.fill("textarea[name=prompt]", "A fox at dawn")
    owner.click("button:has-text('Save shot')")
    expect(owner.locator("h1")).to_have_text("Two editors")

    editor.fill("textarea[name=prompt]", "A fox in the snow")
    editor.click("button:has-text('Save shot')")
    refusal = editor.locator(".errorlist, .error").first
    expect(refusal).to_contain_text(f"Changed by {app.username} a moment ago")
    expect(refusal).to_contain_text("A fox at dawn")
    editor.goto(project_url)
    expect(editor.locator(".shot-card .prompt")).to_have_text("A fox at dawn")
    owner_context.close()
    context.close()


def open_the_shot(page):
    """Click the card's Edit, and see the shot's page. The stream's catch-up may render
    the card again as the page opens (its window overlaps the page's moment), and a click
    landing as it does is lost: as a person would, click again."""
    page.wait_for_function("() => window.storyboardLive === true")
    for _ in range(3):
        page.click(".shot-card .actions a:has-text('Edit')")
        try:
            page.wait_for_url(re.compile(r"/shots/\d+/edit$"), timeout=5_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError("Edit never opened the shot")


def csrf(page):
    return page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")
