"""Views that change a project: shots edited and deleted, settings, cancel, delete, export
download; each form works without JavaScript, its CSRF token in the page."""

import pytest
from django.urls import reverse

from projects.models import Export, Opening, Project, Take
from tests.factories import make_project, make_take, make_takes, make_user
from tests.pages import form, submit

pytestmark = pytest.mark.django_db


def test_every_form_of_the_timeline_carries_its_csrf_token(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    make_takes(project)
    shot = project.shots.get(position=0)
    make_take(shot, select=False)  # a second take, so its card offers a pick
    html = client_of.get(project.get_absolute_url()).content.decode()
    html += client_of.get(reverse("project-settings", args=[project.pk])).content.decode()
    actions = [
        reverse("shot-delete", args=[project.pk, shot.pk]),
        reverse("shot-regenerate", args=[project.pk, shot.pk]),
        reverse("take-select", args=[project.pk, shot.takes.get(number=2).pk]),
        reverse("project-generate", args=[project.pk]),
        reverse("project-cancel", args=[project.pk]),
        reverse("export-create", args=[project.pk]),
        reverse("project-settings", args=[project.pk]),
        reverse("project-delete", args=[project.pk]),
        reverse("shot-create", args=[project.pk]),
        reverse("link-create", args=[project.pk]),
        reverse("comment-create", args=[project.pk, shot.pk]),
    ]
    for action in actions:
        assert form(html, action)["fields"].get("csrfmiddlewaretoken"), action


def test_a_shot_is_deleted_from_its_card_without_javascript(client_of, user):
    project = make_project(
        user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE), ("C", "continue")]
    )
    first = project.shots.get(position=0)
    page = client_of.get(project.get_absolute_url())

    response = submit(client_of, page, reverse("shot-delete", args=[project.pk, first.pk]))

    assert response.status_code == 302
    shown = [(s.prompt, s.position, s.opening_now) for s in project.shots.in_order()]
    assert shown == [
        ("B", 0, "cut"),  # the new first shot has nothing to continue: it opens as a cut
        ("C", 1, "continue"),
    ]
    page = client_of.get(project.get_absolute_url()).content.decode()
    assert "Shot 1 was deleted." in page and "Undo" in page


def test_deleting_a_shot_through_htmx_answers_the_new_timeline_and_says_so(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    second = project.shots.get(position=1)

    response = client_of.post(
        reverse("shot-delete", args=[project.pk, second.pk]), HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="timeline"' in html and "B</p>" not in html
    # The message comes along, out of band, to the page's message area.
    assert 'id="flash" class="flash" hx-swap-oob="true"' in html
    assert "Deleted shot 2." in html


def test_a_message_set_during_an_htmx_request_is_shown_out_of_band(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    make_takes(project)

    response = client_of.post(
        reverse("project-generate", args=[project.pk]), HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert 'hx-swap-oob="true"' in html
    assert "Every shot already has a current take." in html
    # Shown once: the next page does not repeat it.
    assert (
        "Every shot already has a current take."
        not in client_of.get(project.get_absolute_url()).content.decode()
    )


def test_editing_a_shot_makes_it_and_its_chain_stale(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    make_takes(project)
    first = project.shots.get(position=0)
    url = reverse("shot-edit", args=[project.pk, first.pk])
    page = client_of.get(url)
    assert page.status_code == 200 and "A</textarea>" in page.content.decode()

    response = submit(client_of, page, url, prompt="A, at dawn", duration="6", opening="cut")

    assert response.status_code == 302
    first.refresh_from_db()
    assert (first.prompt, first.duration) == ("A, at dawn", 6)
    assert [shot.stale for shot in project.timeline()] == [True, True]


def test_a_shot_edit_that_the_provider_would_refuse_is_not_saved(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    first = project.shots.get()
    url = reverse("shot-edit", args=[project.pk, first.pk])
    response = client_of.post(url, {"prompt": "A", "duration": 20, "opening": "cut"})
    assert response.status_code == 400 and "less than or equal to 15" in response.content.decode()
    first.refresh_from_db()
    assert first.duration == 4


def test_project_settings_are_saved_and_make_its_shots_stale(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    make_takes(project)
    url = reverse("project-settings", args=[project.pk])
    page = client_of.get(url)

    response = submit(
        client_of, page, url, title="Night", resolution="720p", ratio="9:16", budget_tokens=""
    )

    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.title, project.resolution, project.ratio) == ("Night", "720p", "9:16")
    assert project.timeline()[0].stale
    assert "Settings saved" in client_of.get(project.get_absolute_url()).content.decode()


def test_settings_the_form_refuses_change_nothing(client_of, user):
    project = make_project(user, resolution="480p")
    url = reverse("project-settings", args=[project.pk])
    client_of.post(url, {"title": "", "resolution": "480p", "ratio": "16:9"})
    project.refresh_from_db()
    assert project.title == "Autumn valley"


def test_a_project_is_deleted_with_everything_in_it(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    make_takes(project)
    page = client_of.get(reverse("project-settings", args=[project.pk]))

    response = submit(client_of, page, reverse("project-delete", args=[project.pk]))

    assert response["Location"] == reverse("project-list")
    assert not Project.objects.exists() and not Take.objects.exists()


def test_cancel_stops_waiting_takes_and_leaves_done_ones(client_of, user, broker):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    done = make_take(project.shots.get(position=0))
    waiting = Take.objects.create(shot=project.shots.get(position=1), number=1)

    response = client_of.post(reverse("project-cancel", args=[project.pk]), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    waiting.refresh_from_db()
    done.refresh_from_db()
    assert waiting.status == Take.Status.CANCELLED and "Cancelled" in waiting.error
    assert done.status == Take.Status.DONE
    assert broker.queue_size() == 0  # nothing was queued at the provider: no task to send


def test_an_export_downloads_under_its_project_name(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT)], title="Autumn valley")
    take = make_take(project.shots.get())
    export = Export.objects.create(project=project, takes=[take.pk], status=Export.Status.DONE)
    with take.video.open("rb") as clip:
        export.file.save("exports/cut.mp4", clip)

    response = client_of.get(reverse("export-download", args=[project.pk, export.pk]))

    assert response.status_code == 200
    assert f'filename="autumn-valley-{export.pk}.mp4"' in response["Content-Disposition"]
    with take.video.open("rb") as clip:
        assert b"".join(response.streaming_content) == clip.read()


def test_an_unfinished_or_foreign_export_is_not_downloaded(client, client_of, user):
    project = make_project(user)
    running = Export.objects.create(project=project, status=Export.Status.RUNNING)
    url = reverse("export-download", args=[project.pk, running.pk])
    assert client_of.get(url).status_code == 404
    client_of.force_login(make_user("eve"))
    assert client_of.get(url).status_code == 404


def test_posts_without_the_csrf_token_are_refused(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    shot = project.shots.get()
    url = reverse("shot-delete", args=[project.pk, shot.pk])
    assert client_of.post(url, {"csrfmiddlewaretoken": "forged"}).status_code == 403
    assert project.shots.exists()
