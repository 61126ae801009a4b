"""What a page says and offers is true: the model a project may pick, ids that name one
element each, the app's icon."""

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from projects import providers
from projects.models import Project
from tests.factories import make_project

pytestmark = pytest.mark.django_db

ENDPOINT = "ep-20260214093000-fast1"


class _Page(HTMLParser):
    """A page's ids, in order, and its model picker's options as (value, words, selected)."""

    def __init__(self):
        super().__init__()
        self.ids, self.options, self._option = [], [], None
        self.inputs = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "option":
            self._option = [attrs.get("value"), "", "selected" in attrs]
        if tag == "input" and attrs.get("name"):
            self.inputs[attrs["name"]] = attrs.get("value", "")

    def handle_data(self, data):
        if self._option is not None:
            self._option[1] += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None:
            self.options.append(tuple(self._option))
            self._option = None


def read(response):
    page = _Page()
    page.feed(response.content.decode())
    return page


def model_options(response):
    """The options of the select named `model` (the page's first options: it comes first)."""
    html = response.content.decode()
    start = html.index('<select name="model"')
    page = _Page()
    page.feed(html[start : html.index("</select>", start)])
    return page.options


# The model: a choice among the gateway's, or any id where the gateway takes one.


def test_the_choices_are_the_gateways_models_with_the_fast_ones_marked(settings):
    # The local simulator speaks Ark: its models, doubao's and dreamina's.
    assert providers.model_choices() == [
        ("doubao-seedance-2-0-260128", "doubao-seedance-2-0-260128"),
        ("doubao-seedance-2-0-fast-260128", "doubao-seedance-2-0-fast-260128 (fast, for drafts)"),
        ("dreamina-seedance-2-0-260128", "dreamina-seedance-2-0-260128"),
        (
            "dreamina-seedance-2-0-fast-260128",
            "dreamina-seedance-2-0-fast-260128 (fast, for drafts)",
        ),
    ]
    settings.SEEDANCE_API_KEY = "test-key"
    settings.SEEDANCE_PRESET = "byteplus"  # its own preset: only its models
    assert [model for model, _ in providers.model_choices()] == [
        "dreamina-seedance-2-0-260128",
        "dreamina-seedance-2-0-fast-260128",
    ]
    settings.SEEDANCE_PRESET = "dieyuyun"  # one model, and no fast one
    assert providers.model_choices() == [("doubao-seedance-2-0", "doubao-seedance-2-0")]
    # A model the server is told to use is offered even when its preset does not list it.
    settings.SEEDANCE_PRESET, settings.SEEDANCE_MODEL = "byteplus", ENDPOINT
    assert providers.model_choices()[-1] == (ENDPOINT, ENDPOINT)
    settings.SEEDANCE_PRESET = "nonesuch"  # misconfigured: nothing to offer
    assert providers.model_choices() == []


def test_the_settings_offer_the_models_the_server_default_and_other(client_of, user):
    project = make_project(user)
    options = model_options(client_of.get(reverse("project-settings", args=[project.pk])))
    assert options[0] == ("", "Server default (doubao-seedance-2-0-fast-260128)", True)
    fast = "doubao-seedance-2-0-fast-260128"
    assert (fast, f"{fast} (fast, for drafts)", False) in options
    assert options[-1] == ("_other", "Other model or endpoint id…", False)
    assert [v for v, _, _ in options[1:-1]] == [m for m, _ in providers.model_choices()]
    # The new project's form offers the same.
    assert model_options(client_of.get(reverse("project-list"))) == options


def save(client, project, **fields):
    data = {"title": project.title, "resolution": "720p", "ratio": "16:9", **fields}
    data["version"] = Project.objects.get(pk=project.pk).version
    response = client.post(reverse("project-settings", args=[project.pk]), data)
    assert response.status_code == 302, response.content.decode()
    return Project.objects.get(pk=project.pk).model


def test_a_model_is_picked_or_typed_under_other(client_of, user):
    project = make_project(user)
    url = reverse("project-settings", args=[project.pk])
    assert save(client_of, project, model="dreamina-seedance-2-0-260128") == (
        "dreamina-seedance-2-0-260128"
    )
    # Other…: the id typed beside it, an endpoint id among them.
    assert save(client_of, project, model="_other", model_other=f"  {ENDPOINT} ") == ENDPOINT
    page = client_of.get(url)
    assert [o for o in model_options(page) if o[2]] == [
        ("_other", "Other model or endpoint id…", True)
    ]
    assert read(page).inputs["model_other"] == ENDPOINT
    # Posted by name alone, as a script would: taken as it is.
    assert save(client_of, project, model="ep-20260101000000-abcde") == "ep-20260101000000-abcde"
    # Back to the server's default.
    assert save(client_of, project, model="") == ""
    assert [o for o in model_options(client_of.get(url)) if o[2]][0][0] == ""
    # Other… with nothing typed: the server's default, not the word "_other".
    assert save(client_of, project, model="_other", model_other="") == ""


def test_other_refuses_what_is_no_model_id(client_of, user):
    project = make_project(user)
    response = client_of.post(
        reverse("project-settings", args=[project.pk]),
        {
            "title": project.title,
            "model": "_other",
            "model_other": "not a model!",
            "resolution": "720p",
            "ratio": "16:9",
            "version": project.version,
        },
    )
    assert response.status_code == 400
    assert "is not a model or endpoint id" in response.content.decode()
    assert Project.objects.get(pk=project.pk).model == ""
    # Shown again as typed, to correct.
    assert [o[0] for o in model_options(response) if o[2]] == ["_other"]
    assert read(response).inputs["model_other"] == "not a model!"


# The app's icon.


def test_every_page_links_the_icon_and_favicon_ico_answers(client, client_of):
    for page in (client.get(reverse("login")), client_of.get(reverse("project-list"))):
        assert '<link rel="icon" href="/static/img/icon.svg" type="image/svg+xml">' in (
            page.content.decode()
        )
    svg = client.get("/static/img/icon.svg")
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(svg.streaming_content)
    # Browsers ask for /favicon.ico whatever a page links: an icon, not a 404.
    ico = client.get("/favicon.ico")
    assert ico.status_code == 200
    assert ico["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    body = b"".join(ico.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file's header


# Ids: each names one element, on every page (the browser checks visit them all too).


def duplicated(ids):
    return sorted({i for i in ids if ids.count(i) > 1})


def test_the_invitation_page_names_each_field_once(client, user):
    from projects.models import Invitation, Role, Team
    from projects.views.teams import invitation_path as invitation_url

    invitation, secret = Invitation.make(Team.default_for(user), Role.EDITOR, user)
    page = read(client.get(invitation_url(invitation, secret)))
    assert {"id_signup_username", "id_signin_username"} <= set(page.ids)
    assert duplicated(page.ids) == []
    # A refused sign-in shows its form again, the ids still apart.
    refused = Client().post(
        invitation_url(invitation, secret), {"signin": "1", "username": "no", "password": "x"}
    )
    assert refused.status_code == 400
    assert duplicated(read(refused).ids) == []


def test_static_files_are_served_on_the_asynchronous_path_with_no_middleware_in_a_thread(
    async_client,
):
    """Under uvicorn every request takes the asynchronous path: no middleware of the chain
    may be synchronous only, or each request (fifty reconnecting streams among them)
    crosses into a thread and back to pass it."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    synchronous = [
        name
        for name in settings.MIDDLEWARE
        if not getattr(import_string(name), "async_capable", False)
    ]
    assert not synchronous

    from asgiref.sync import async_to_sync

    def fetch(path):
        response = async_to_sync(async_client.get)(path)
        return response, b"".join(response.streaming_content)

    svg, body = fetch("/static/img/icon.svg")
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert b"<svg" in body
    ico, body = fetch("/favicon.ico")
    assert ico.status_code == 200 and body[:4] == b"\x00\x00\x01\x00"
