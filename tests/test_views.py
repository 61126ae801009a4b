"""Views: who may see what, forms that refuse bad input, and work handed to the worker."""

import time
from types import SimpleNamespace
from unittest import mock

import pytest
from django.urls import reverse

from projects import pipeline
from projects.models import Export, Mention, Opening, Project, Shot, Take
from projects.pipeline.requests import callback_url
from tests.factories import make_project, make_take, make_user
from tests.pages import submit

pytestmark = pytest.mark.django_db


def test_it_redirects_anonymous_visitors_to_sign_in(client):
    response = client.get(reverse("project-list"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_it_creates_a_project_in_the_users_team(client_of, user):
    response = client_of.post(
        reverse("project-list"), {"title": "Night market", "resolution": "480p", "ratio": "9:16"}
    )
    project = Project.objects.get(title="Night market")
    assert response["Location"] == project.get_absolute_url()
    assert user in project.team.members.all()


def test_it_refuses_1080p_on_the_fast_model(client_of):
    response = client_of.post(
        reverse("project-list"),
        {
            "title": "T",
            "model": "doubao-seedance-2-0-fast-260128",
            "resolution": "1080p",
            "ratio": "16:9",
        },
    )
    assert response.status_code == 200
    assert "The fast model goes up to 720p" in response.content.decode()
    assert not Project.objects.exists()


def test_it_hides_another_teams_project(client, user):
    project = make_project(user)
    client.force_login(make_user("eve"))
    assert client.get(project.get_absolute_url()).status_code == 404
    assert client.post(reverse("project-generate", args=[project.pk])).status_code == 404


def test_it_adds_shots_and_refuses_a_first_shot_that_continues(client_of, user):
    project = make_project(user)
    url = reverse("shot-create", args=[project.pk])

    refused = client_of.post(url, {"prompt": "A", "duration": 5, "opening": "continue"})
    assert refused.status_code == 400
    assert "make it a cut" in refused.content.decode()

    client_of.post(url, {"prompt": "A", "duration": 5, "opening": "cut"})
    client_of.post(url, {"prompt": "B", "duration": 4, "opening": "continue"})
    assert list(project.shots.in_order().values_list("prompt", "position", "opening")) == [
        ("A", 0, "cut"),
        ("B", 1, "continue"),
    ]


def test_it_refuses_a_duration_outside_4_to_15_seconds(client_of, user):
    project = make_project(user)
    response = client_of.post(
        reverse("shot-create", args=[project.pk]), {"prompt": "A", "duration": 16, "opening": "cut"}
    )
    assert response.status_code == 400
    assert not project.shots.exists()


def test_generate_queues_takes_and_hands_them_to_the_worker(
    client_of, user, broker, django_capture_on_commit_callbacks
):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    with django_capture_on_commit_callbacks(execute=True):
        response = client_of.post(
            reverse("project-generate", args=[project.pk]), HTTP_HX_REQUEST="true"
        )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-status="waiting"') == 2
    # One task for the worker, whichever broker carries it; nothing waited on the provider.
    assert broker.queue_size() == 1


def test_export_refuses_until_every_shot_has_a_current_take(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    response = client_of.post(reverse("export-create", args=[project.pk]), follow=True)
    assert "shot 1 has no finished take" in response.content.decode()
    assert not Export.objects.exists()


def test_a_share_link_shows_the_timeline_to_anyone_and_nothing_else(client, user):
    project = make_project(user, shots=[("A lighthouse", Opening.CUT)])
    url = reverse("shared-project", args=[project.view_link().token])

    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "A lighthouse" in html
    assert "Add a shot" not in html and "Generate" not in html and "Edit" not in html
    # The project's own pages stay closed to the same visitor.
    assert client.get(project.get_absolute_url()).status_code == 302
    assert client.post(reverse("project-generate", args=[project.pk])).status_code == 302


def test_a_stopped_share_link_no_longer_works(client, user):
    project = make_project(user)
    link = project.view_link()
    link.revoke()
    assert client.get(reverse("shared-project", args=[link.token])).status_code == 404


def test_share_tokens_are_long_and_random(user):
    tokens = set()
    for _ in range(3):
        project = make_project(user)
        tokens.add(project.view_link().secret)
    assert len(tokens) == 3 and all(len(t) >= 32 for t in tokens)


def test_selecting_an_older_take_puts_it_in_the_cut(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    shot = Shot.objects.get(project=project)
    first = make_take(shot)
    make_take(shot)  # the newer take, now the shot's pick
    shot.refresh_from_db()
    assert shot.selected_take != first

    client_of.post(reverse("take-select", args=[project.pk, first.pk]))
    shot.refresh_from_db()
    assert shot.selected_take == first


def test_take_files_answer_range_requests(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    take = make_take(project.shots.get())
    url = reverse("take-file", args=[project.pk, take.pk, "video"])

    whole = b"".join(client_of.get(url).streaming_content)
    part = client_of.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert b"".join(part.streaming_content) == whole[100:200]
    assert client_of.get(url, HTTP_RANGE=f"bytes={len(whole)}-").status_code == 416


def test_a_signed_input_link_serves_the_frame_until_it_expires(client, user, monkeypatch):
    from projects import access

    project = make_project(user, shots=[("A", Opening.CUT)])
    take = make_take(project.shots.get())
    token = access.input_token(take, "last_frame")

    served = client.get(reverse("provider-input", args=[token]))
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    with take.last_frame.open("rb") as f:
        assert b"".join(served.streaming_content) == f.read()
    assert client.get(reverse("provider-input", args=[token[:-2] + "xx"])).status_code == 404
    monkeypatch.setattr(access, "INPUT_LIFETIME", -1)
    assert client.get(reverse("provider-input", args=[token])).status_code == 404


def test_the_shot_form_shows_what_the_provider_would_refuse(client_of, user, settings):
    settings.SEEDANCE_API_STYLE = "dieyuyun"
    project = make_project(user, resolution="720p")
    response = client_of.post(
        reverse("shot-create", args=[project.pk]), {"prompt": "A", "duration": 4, "opening": "cut"}
    )
    assert response.status_code == 400
    assert "The dieyuyun API makes clips of 5 or 10 seconds." in response.content.decode()


def test_project_settings_the_provider_cannot_make_are_refused(client_of, settings):
    settings.SEEDANCE_API_STYLE = "wisgate"
    response = client_of.post(
        reverse("project-list"), {"title": "T", "resolution": "480p", "ratio": "16:9"}
    )
    assert "The wisgate API makes only 720p 16:9" in response.content.decode()
    assert not Project.objects.exists()


def test_a_provider_callback_only_hands_the_take_to_a_worker(client, user, broker):
    from projects import access
    from projects.models import Take

    project = make_project(user, shots=[("A", Opening.CUT)])
    (take,) = pipeline.queue_takes(project)
    Take.objects.filter(pk=take.pk).update(status=Take.Status.RUNNING, remote_id="cgt-1")
    url = reverse("take-callback", args=[access.callback_token(take, 3600)])

    answer = client.post(
        url, {"id": "cgt-1", "status": "succeeded"}, content_type="application/json"
    )
    assert answer.status_code == 204
    assert broker.queue_size() == 1  # a worker reads the task: the body is not trusted
    take.refresh_from_db()
    assert take.status == Take.Status.RUNNING
    assert client.post(reverse("take-callback", args=["forged"])).status_code == 404
    assert client.get(url).status_code == 405


def test_reading_a_mention_is_a_post_from_a_form_and_a_get_changes_nothing(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    shot = project.shots.get()
    bob = make_user("bob")
    comment = shot.comments.create(author=bob, body="@ada look")
    mention = Mention.objects.create(comment=comment, user=user)
    url = reverse("mention", args=[mention.pk])

    assert client_of.get(url).status_code == 405
    mention.refresh_from_db()
    assert mention.read_at is None

    # The inbox offers it as a form, which works without JavaScript.
    inbox = client_of.get(reverse("project-list"))
    opened = submit(client_of, inbox, url)
    assert opened.status_code == 302 and opened["Location"].endswith(f"#shot-{shot.pk}")
    mention.refresh_from_db()
    assert mention.read_at is not None


def test_a_callback_link_works_until_its_takes_deadline(client, user, broker, settings):
    settings.PUBLIC_BASE_URL = "http://testserver"
    project = make_project(user, shots=[("A", Opening.CUT)])
    (take,) = pipeline.queue_takes(project)
    Take.objects.filter(pk=take.pk).update(status=Take.Status.RUNNING, remote_id="cgt-1")
    # A style whose tasks live an hour at most at the provider.
    style = SimpleNamespace(takes_callback=True, task_lifetime=3600)
    url = callback_url(take, style).removeprefix(settings.PUBLIC_BASE_URL)

    assert client.post(url).status_code == 204
    # Days later, long after the task could last change there, the link opens nothing.
    later = time.time() + 3 * 24 * 3600
    with mock.patch("time.time", return_value=later):
        assert client.post(url).status_code == 404
    assert broker.queue_size() == 1


def test_an_empty_project_offers_no_generate_or_make_final_and_says_why(client_of, user):
    import re

    project = make_project(user)
    html = client_of.get(project.get_absolute_url()).content.decode()
    for button in ("generate-button", "final-button"):
        tag = re.search(rf'<button[^>]*id="{button}"[^>]*>', html).group(0)
        assert " disabled" in tag and 'aria-describedby="start-reason"' in tag
    assert 'id="start-reason">Nothing to generate yet: add a shot first.' in html
    assert "Every shot has a current take" not in html
    assert "0 shots in 0 chains" in html

    Shot.objects.create(project=project, position=0, prompt="A harbour at dawn", duration=4)
    html = client_of.get(project.get_absolute_url()).content.decode()
    assert " disabled" not in re.search(r'<button[^>]*id="generate-button"[^>]*>', html).group(0)
    assert "start-reason" not in html
