"""What one member or one review link can pour in: comments, generations and exports at a
rate each, counted in the cache every process shares; one running export per choice; no
prompt or comment longer than the gateways' model reads."""

import json

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from projects import storyboard_file, throttle
from projects.models import MAX_PROMPT, Comment, Export, Link, Membership, Mention, Role, Take
from tests.factories import make_project, make_takes, make_user

pytestmark = pytest.mark.django_db


def review_link_holder(project, name="Rey"):
    link = Link.make(project, Link.Kind.REVIEW)
    guest = Client()
    guest.post(reverse("shared-guest-name", args=[link.token]), {"name": name})
    return link, guest


def test_a_review_link_pours_in_no_more_comments_than_its_rate(user, settings):
    settings.COMMENT_RATE = "3/d"
    project = make_project(user, shots=[("A lighthouse", "cut")])
    shot = project.shots.get()
    link, guest = review_link_holder(project)
    url = reverse("shared-comment-create", args=[link.token, shot.pk])

    answers = [guest.post(url, {"body": f"@ada look {n}"}).status_code for n in range(5)]

    assert answers == [302, 302, 302, 429, 429]
    assert Comment.objects.count() == 3 and Mention.objects.count() == 3
    # Everyone holding the link shares its rate: another guest's session changes nothing.
    _, other = review_link_holder(project, "Sam")
    other.post(reverse("shared-guest-name", args=[link.token]), {"name": "Sam"})
    refused = other.post(url, {"body": "Me too"})
    assert refused.status_code == 429
    said = refused.content.decode()
    assert "Too many comments: at most 3 a day through this link." in said
    assert 'data-role="refusal"' in said  # what the page shows when htmx asked
    assert f'href="{reverse("shared-project", args=[link.token])}"' in said
    # A member's comments are counted as theirs, not the link's.
    member = Client()
    member.force_login(user)
    answer = member.post(reverse("comment-create", args=[project.pk, shot.pk]), {"body": "Ok"})
    assert answer.status_code == 302 and Comment.objects.count() == 4


def test_a_member_is_refused_past_the_rate_and_htmx_shows_why(user, settings, broker):
    settings.GENERATE_RATE = "2/h"
    settings.COMMENT_RATE = "1/d"
    project = make_project(user, shots=[("A lighthouse", "cut")])
    shot = project.shots.get()
    client = Client()
    client.force_login(user)
    generate = reverse("project-generate", args=[project.pk])
    regenerate = reverse("shot-regenerate", args=[project.pk, shot.pk])

    first = client.post(generate)
    second = client.post(regenerate)
    third = client.post(generate, HTTP_HX_REQUEST="true")

    assert (first.status_code, second.status_code, third.status_code) == (302, 302, 429)
    said = third.content.decode()
    assert "Too many generations: at most 2 an hour. Try again in" in said
    assert 'data-role="refusal"' in said
    assert Take.objects.count() == 1  # the second found the shot on its way already
    # Each action has its own rate.
    comment = reverse("comment-create", args=[project.pk, shot.pk])
    assert client.post(comment, {"body": "Hm"}).status_code == 302
    assert client.post(comment, {"body": "Hm"}).status_code == 429
    # Another member has rates of their own.
    bob = make_user("bob")
    Membership.objects.create(team=project.team, user=bob, role=Role.EDITOR)
    client.force_login(bob)
    assert client.post(comment, {"body": "Hm"}).status_code == 302


def test_the_counts_are_kept_in_the_cache_every_process_shares(user, settings):
    """Redis where it is configured, else the database's cache table: never one process's
    memory, where each web process would count on its own."""
    settings.COMMENT_RATE = "2/d"
    project = make_project(user, shots=[("A lighthouse", "cut")])
    url = reverse("comment-create", args=[project.pk, project.shots.get().pk])
    # Two clients: two sessions, as two web processes would see them.
    first, second = Client(), Client()
    first.force_login(user)
    second.force_login(user)
    assert first.post(url, {"body": "One"}).status_code == 302
    assert second.post(url, {"body": "Two"}).status_code == 302
    assert first.post(url, {"body": "Three"}).status_code == 429

    # The count is where another process would read it, reached afresh.
    prefix = settings.RATELIMIT_CACHE_PREFIX
    if django_settings.REDIS_URL:
        import redis

        found = redis.Redis.from_url(django_settings.REDIS_URL).keys(f"*{prefix}*")
    else:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT cache_key FROM {django_settings.CACHE_TABLE} WHERE cache_key LIKE %s",
                [f"%{prefix}%"],
            )
            found = cursor.fetchall()
    assert len(found) == 1


def test_a_second_export_of_the_same_choice_joins_the_running_one(
    user, settings, broker, django_capture_on_commit_callbacks
):
    settings.EXPORT_RATE = "100/m"
    project = make_project(user, shots=[("A", "cut"), ("B", "continue")])
    make_takes(project)
    client = Client()
    client.force_login(user)
    url = reverse("export-create", args=[project.pk])
    mp4 = {"format": "mp4", "seamless": "on"}

    with django_capture_on_commit_callbacks(execute=True):
        answers = [client.post(url, mp4).status_code for _ in range(25)]

    assert answers == [302] * 25
    assert Export.objects.count() == 1
    assert broker.queue_size() == 1  # one job for the worker, not 25
    page = client.get(project.get_absolute_url()).content.decode()
    assert "An export like this one is already being made" in page
    # Another choice is another export; the same one once the first ended is a new one.
    client.post(url, {"format": "srt"})
    client.post(url, {"format": "mp4"})  # every frame: not seamless
    assert Export.objects.count() == 3
    Export.objects.update(status=Export.Status.DONE)
    client.post(url, mp4)
    assert Export.objects.count() == 4


def test_exports_have_a_rate_too(user, settings, broker):
    settings.EXPORT_RATE = "2/h"
    project = make_project(user, shots=[("A", "cut")])
    make_takes(project)
    client = Client()
    client.force_login(user)
    url = reverse("export-create", args=[project.pk])
    answers = [client.post(url, {"format": f}).status_code for f in ("mp4", "srt", "vtt")]
    assert answers == [302, 302, 429]
    assert Export.objects.count() == 2


def test_a_prompt_no_longer_than_the_model_reads(user, tmp_path):
    project = make_project(user, shots=[("A lighthouse", "cut")])
    client = Client()
    client.force_login(user)
    url = reverse("shot-create", args=[project.pk])
    fields = {"duration": "4", "opening": "continue"}

    refused = client.post(url, {**fields, "prompt": "a" * 20000})
    kept = client.post(url, {**fields, "prompt": "a" * MAX_PROMPT})

    assert refused.status_code == 400
    assert f"at most {MAX_PROMPT} characters" in refused.content.decode()
    assert kept.status_code == 302
    assert project.shots.count() == 2
    # The shot's form says so before sending, and the storyboard file is held to it too.
    page = client.get(project.get_absolute_url()).content.decode()
    assert f'maxlength="{MAX_PROMPT}"' in page
    board = {"title": "Long", "shots": [{"prompt": "a" * (MAX_PROMPT + 1)}]}
    (tmp_path / "board.json").write_text(json.dumps(board))
    with pytest.raises(storyboard_file.StoryboardError, match="longer than 6000 characters"):
        storyboard_file.load(tmp_path / "board.json", user)


def test_a_comment_no_longer_than_a_prompt(user):
    project = make_project(user, shots=[("A lighthouse", "cut")])
    shot = project.shots.get()
    client = Client()
    client.force_login(user)
    url = reverse("comment-create", args=[project.pk, shot.pk])

    refused = client.post(url, {"body": "a" * 20000}, follow=True)
    client.post(url, {"body": "a" * MAX_PROMPT})

    assert f"A comment of at most {MAX_PROMPT} characters" in refused.content.decode()
    assert [len(c.body) for c in Comment.objects.all()] == [MAX_PROMPT]


def test_a_refusal_says_the_rate_in_words():
    """The tests above count per day, so that no window ends between two of their
    requests on a slow machine; the words for the other periods are checked here."""
    assert throttle._said("20/m") == "20 a minute"
    assert throttle._said("60/h") == "60 an hour"
    assert throttle._said("5/10m") == "5 every 10 minutes"
    assert throttle._said("3/d") == "3 a day"
