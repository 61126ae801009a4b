"""Races between processes: two Generates or Exports at once, two workers spending one
budget, rate limits counting requests that arrive together, edits saved while others
pick, trim, reorder and move.

Meaningful on PostgreSQL (CI's second leg), where transactions really run side by side;
SQLite serialises writers and hides such races.
"""

import contextlib
import os
import threading

import pytest
from django.core.cache.backends.db import DatabaseCache
from django.db import connections
from django.db.models import QuerySet
from django.test import Client
from django.urls import reverse

from projects import costs, edits, limits
from projects.models import Comment, Export, Membership, Opening, Project, Role, Take, Team
from tests.factories import make_project, make_take, make_takes

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgres" not in os.environ.get("DATABASE_URL", ""),
        reason="a race between transactions needs PostgreSQL (CI's second leg)",
    ),
]


def side_by_side(*calls):
    """Run the calls in threads (each with its own database connection) at once."""
    start = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            start.wait()
            results[index] = call()
        except Exception as error:  # reported to the test, which fails on it
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_two_generates_at_once_queue_each_shot_once(user, monkeypatch):
    project = make_project(user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)])
    # Both requests must read the shots before either writes: widen the window.
    create = Take.objects.create
    gate = threading.Barrier(2, timeout=1)

    def slow_create(**fields):
        # The other request may be held by the project's lock: as it should.
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait()
        return create(**fields)

    monkeypatch.setattr(Take.objects, "create", slow_create)
    clients = []
    for _ in range(2):
        client = Client()
        client.force_login(user)
        clients.append(client)
    url = reverse("project-generate", args=[project.pk])

    answers = side_by_side(
        *(lambda c=client: c.post(url, HTTP_HX_REQUEST="true") for client in clients)
    )

    assert [getattr(a, "status_code", a) for a in answers] == [200, 200]
    assert sorted(Take.objects.values_list("shot__position", "number")) == [(0, 1), (1, 1)]


def test_two_workers_cannot_both_spend_the_last_of_a_budget(user, settings, monkeypatch):
    settings.SEEDANCE_BASE_URL = ""  # the simulator's name and limits; nothing is sent
    per_clip = costs.tokens_for("480p", "16:9", 4)
    project = make_project(
        user, shots=[("A", Opening.CUT), ("B", Opening.CUT)], budget_tokens=per_clip + 10
    )
    first, second = (
        Take.objects.create(shot=shot, number=1, inputs=shot.inputs())
        for shot in project.shots.in_order()
    )
    # Each worker checks the budget, then waits for the other to have checked too.
    check = costs.over_budget
    gate = threading.Barrier(2, timeout=1)

    def slow_check(take):
        reason = check(take)
        # The other worker may be held by the provider's lock: as it should.
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait()
        return reason

    monkeypatch.setattr(costs, "over_budget", slow_check)

    claims = side_by_side(
        lambda: limits.claim(Take.objects.get(pk=first.pk), refuse=costs.over_budget),
        lambda: limits.claim(Take.objects.get(pk=second.pk), refuse=costs.over_budget),
    )

    assert sorted(claim.claimed for claim in claims) == [False, True]
    refused = next(claim for claim in claims if not claim.claimed)
    assert "budget" in refused.refused
    assert Take.objects.filter(status=Take.Status.SUBMITTING).count() == 1


def test_a_pick_trim_reorder_and_move_survive_a_shot_edit_and_a_settings_save(user, monkeypatch):
    project = make_project(
        user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE), ("C", Opening.CUT)]
    )
    first, second, third = project.shots.in_order()
    make_take(third)
    newer = make_take(third, select=False)
    other = Team.objects.create(name="Night crew")
    Membership.objects.create(team=other, user=user, role=Role.OWNER)
    # Both saves are held once their forms are bound and valid, until the others are done.
    save = edits.save
    held, go = threading.Barrier(3, timeout=30), threading.Event()

    def held_save(form, *args, **kwargs):
        held.wait()
        assert go.wait(30)
        return save(form, *args, **kwargs)

    monkeypatch.setattr(edits, "save", held_save)
    edit = reverse("shot-edit", args=[project.pk, third.pk])
    settings_url = reverse("project-settings", args=[project.pk])

    editor, settler, other_client = signed_in_clients(user, 3)

    def edit_shot():
        data = {"prompt": "C at night", "duration": 4, "opening": "cut", "version": 1}
        return editor.post(edit, data).status_code

    def save_settings():
        data = {"title": "Harbour", "resolution": "480p", "ratio": "16:9", "version": 1}
        return settler.post(settings_url, data).status_code

    def others_meanwhile():
        held.wait()  # both saves have read the rows they were loaded from
        try:
            return [
                other_client.post(reverse(name, args=[project.pk, *args]), data).status_code
                for name, args, data in (
                    ("take-select", [newer.pk], {}),
                    ("shot-trim", [third.pk], {"trim_in": 3, "trim_out": 50}),
                    ("shot-order", [], {"shot": [third.pk, first.pk, second.pk]}),
                    ("project-move", [], {"team": other.pk}),
                )
            ]
        finally:
            go.set()

    answers = side_by_side(edit_shot, save_settings, others_meanwhile)

    assert answers == [302, 302, [302, 302, 302, 302]]
    third.refresh_from_db()
    assert (third.prompt, third.version) == ("C at night", 2)
    assert third.selected_take_id == newer.pk
    assert (third.trim_in, third.trim_out) == (3, 50)
    assert list(project.shots.in_order().values_list("pk", flat=True)) == [
        third.pk,
        first.pk,
        second.pk,
    ]
    assert list(project.shots.in_order().values_list("position", flat=True)) == [0, 1, 2]
    project = Project.objects.get(pk=project.pk)
    assert (project.title, project.team_id, project.version) == ("Harbour", other.pk, 2)


def signed_in_clients(user, count):
    clients = []
    for _ in range(count):
        client = Client()
        client.force_login(user)
        clients.append(client)
    return clients


def test_two_exports_of_one_choice_at_once_make_one(user, settings, monkeypatch):
    settings.EXPORT_RATE = "100/m"
    project = make_project(user, shots=[("A", Opening.CUT)])
    make_takes(project)
    # Both requests must look for a running export before either makes one.
    create = QuerySet.create
    gate = threading.Barrier(2, timeout=1)

    def slow_create(queryset, **fields):
        if queryset.model is Export:
            # The other request may be held by the project's lock: as it should.
            with contextlib.suppress(threading.BrokenBarrierError):
                gate.wait()
        return create(queryset, **fields)

    monkeypatch.setattr(QuerySet, "create", slow_create)
    url = reverse("export-create", args=[project.pk])

    answers = side_by_side(
        *(lambda c=client: c.post(url, {"format": "mp4"}) for client in signed_in_clients(user, 2))
    )

    assert [getattr(a, "status_code", a) for a in answers] == [302, 302]
    assert Export.objects.count() == 1


def test_comments_at_once_are_each_counted_in_the_database_cache(user, settings, monkeypatch):
    """Without Redis the rates count in the database: two requests incrementing at once
    must not both read the same count (Django's own incr reads, then writes)."""
    settings.CACHES = {
        "default": {"BACKEND": "projects.cache.DatabaseCache", "LOCATION": settings.CACHE_TABLE}
    }
    settings.COMMENT_RATE = "2/d"
    project = make_project(user, shots=[("A", Opening.CUT)])
    url = reverse("comment-create", args=[project.pk, project.shots.get().pk])
    first, *others = signed_in_clients(user, 3)
    assert first.post(url, {"body": "One"}).status_code == 302  # the count is 1
    # Both increments read the count before either writes it, unless one waits its turn.
    get = DatabaseCache.get
    gate = threading.Barrier(2, timeout=1)

    def slow_get(cache, key, *args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait()
        return get(cache, key, *args, **kwargs)

    monkeypatch.setattr(DatabaseCache, "get", slow_get)

    answers = side_by_side(*(lambda c=c: c.post(url, {"body": "More"}) for c in others))

    assert sorted(getattr(a, "status_code", a) for a in answers) == [302, 429]
    assert Comment.objects.count() == 2
