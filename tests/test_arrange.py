"""Arranging a project: reordering, inserting, duplicating, deleting with an undo, making a
variant; and the seam inspector, on real clips from the simulator."""

import io
import tempfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from projects import arrange, costs, media, pipeline, tasks
from projects.models import Opening, Project, Reference, Shot, Take
from tests.factories import make_project, make_take, make_takes
from tests.pages import submit

pytestmark = pytest.mark.django_db

# Two seeds whose takes of a shot end 15 % apart on small simulator clips.
SEEDS = (1, 4)


def prompts(project):
    return [shot.prompt for shot in project.timeline()]


def chained(user, count=4):
    """A chain of `count` shots, each with a finished take continuing the one before."""
    shots = [("P1", "cut")] + [(f"P{n}", "continue") for n in range(2, count + 1)]
    project = make_project(user, shots=shots)
    make_takes(project)
    return project


def stale(project):
    return {shot.prompt: shot.stale_reason for shot in project.timeline() if shot.stale}


def test_reordering_is_one_transaction_and_says_which_continue_now_follows_another(user):
    project = chained(user)
    assert stale(project) == {}
    order = [s.pk for s in project.shots.in_order()]
    order = [order[0], order[2], order[1], order[3]]

    with CaptureQueriesContext(connection) as queries:
        arrange.reorder(project, order)

    assert prompts(project) == ["P1", "P3", "P2", "P4"]
    sql = [q["sql"].upper() for q in queries.captured_queries]
    if connection.vendor == "postgresql":  # SQLite has no row locks; its writes serialise
        locked = next(i for i, q in enumerate(sql) if "FOR UPDATE" in q)
        assert locked < next(i for i, q in enumerate(sql) if q.startswith("UPDATE"))
    assert sum(s.startswith("SAVEPOINT") or s.startswith("BEGIN") for s in sql) <= 1
    assert stale(project) == {
        "P3": "now follows shot 1",
        "P2": "now follows shot 2",
        "P4": "now follows shot 3",
    }


def test_a_reorder_that_misses_a_shot_is_refused_and_changes_nothing(user):
    project = chained(user, 3)
    ids = [s.pk for s in project.shots.in_order()]
    with pytest.raises(arrange.Refused):
        arrange.reorder(project, ids[:2][::-1])
    assert prompts(project) == ["P1", "P2", "P3"]


def test_a_continue_moved_to_the_top_opens_as_a_cut_and_continues_again_moved_back(user):
    project = chained(user, 3)
    second = project.shots.get(prompt="P2")
    arrange.move(project, second, -1)
    top = project.timeline()[0]
    assert (top.prompt, top.opening_now, top.opening) == ("P2", "cut", "continue")
    assert top.stale_reason == "now opens its chain; it was made continuing another shot"

    arrange.move(project, project.shots.get(prompt="P2"), 1)
    assert stale(project) == {}  # back where its take was made: current again


def test_inserting_in_the_middle_of_a_chain_makes_the_next_continue_stale(user):
    project = chained(user, 3)
    arrange.insert(project, Shot(prompt="New", duration=4, opening=Opening.CUT), 1)
    assert prompts(project) == ["P1", "New", "P2", "P3"]
    assert stale(project) == {"P2": "now follows shot 2", "P3": "shot 3 is stale"}


def test_duplicating_copies_the_shot_after_it_with_the_same_files_and_no_takes(user, tmp_path):
    project = chained(user, 2)
    shot = project.shots.get(prompt="P1")
    Reference.objects.create(shot=shot, kind="image", file="references/a.png")
    shot.seed = 7
    shot.save()

    copy = arrange.duplicate(shot)

    assert prompts(project) == ["P1", "P1", "P2"]
    assert (copy.position, copy.seed, copy.takes.count()) == (1, 7, 0)
    assert [r.file.name for r in copy.references.all()] == ["references/a.png"]


def test_a_deleted_shot_comes_back_with_its_takes_until_the_next_change(user):
    project = chained(user, 3)
    middle = project.shots.get(prompt="P2")
    takes = set(middle.takes.values_list("pk", flat=True))

    arrange.remove(middle)
    assert prompts(project) == ["P1", "P3"]
    assert stale(project) == {"P3": "now follows shot 1"}

    assert arrange.undo(project).pk == middle.pk
    assert prompts(project) == ["P1", "P2", "P3"]
    assert stale(project) == {}
    assert set(Take.objects.filter(shot=middle).values_list("pk", flat=True)) == takes

    arrange.remove(project.shots.get(prompt="P1"))
    arrange.move(project, project.shots.get(prompt="P3"), -1)  # the next change
    assert arrange.undo(project) is None
    assert not Shot.everywhere.filter(prompt="P1").exists()


def test_the_undo_is_offered_on_the_page_and_works_without_javascript(client_of, user):
    project = chained(user, 2)
    first = project.shots.get(prompt="P1")
    page = client_of.get(project.get_absolute_url())
    submit(client_of, page, reverse("shot-delete", args=[project.pk, first.pk]))
    page = client_of.get(project.get_absolute_url())
    assert "Shot 1 was deleted." in page.content.decode()

    response = submit(client_of, page, reverse("shot-undo", args=[project.pk]))

    assert response.status_code == 302
    assert prompts(project) == ["P1", "P2"]
    assert "was deleted" not in client_of.get(project.get_absolute_url()).content.decode()


def test_the_order_view_takes_every_shot_in_one_request(client_of, user):
    project = chained(user, 3)
    ids = [s.pk for s in project.shots.in_order()]
    url = reverse("shot-order", args=[project.pk])

    response = client_of.post(url, {"shot": ids[::-1]}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert prompts(project) == ["P3", "P2", "P1"]
    assert 'data-role="stale"' in response.content.decode()

    refused = client_of.post(url, {"shot": ids[:1]}, headers={"HX-Request": "true"})
    assert "The shots changed meanwhile" in refused.content.decode()
    assert prompts(project) == ["P3", "P2", "P1"]


def test_moving_from_the_keyboard_buttons_and_at_the_ends(client_of, user):
    project = chained(user, 3)
    last = project.shots.get(prompt="P3")
    page = client_of.get(project.get_absolute_url())
    html = page.content.decode()
    assert 'aria-label="Move shot 3 up"' in html
    assert 'aria-label="Move shot 3 down"' not in html  # already at the end

    move = reverse("shot-move", args=[project.pk, last.pk])
    submit(client_of, page, move, direction="up")
    assert prompts(project) == ["P1", "P3", "P2"]


def test_a_new_shot_goes_where_it_is_asked_to(client_of, user):
    project = chained(user, 2)
    page = client_of.get(project.get_absolute_url() + "?at=1")
    assert '<option value="1" selected>Before shot 2</option>' in page.content.decode()
    url = reverse("shot-create", args=[project.pk])

    data = {"prompt": "Between", "duration": 4, "opening": "cut", "at": 1}
    assert submit(client_of, page, url, **data).status_code == 302
    assert prompts(project) == ["P1", "Between", "P2"]

    first = {"prompt": "Opening", "duration": 4, "opening": "continue", "at": 0}
    refused = submit(client_of, page, url, **first)
    assert refused.status_code == 400 and "make it a cut" in refused.content.decode()


def test_a_variant_shares_the_clips_and_bills_nothing_again(client_of, user):
    project = chained(user, 3)
    spent = costs.team_spend(project.team)["total"]

    page = client_of.get(reverse("project-settings", args=[project.pk]))
    response = submit(client_of, page, reverse("project-variant", args=[project.pk]))

    variant = Project.objects.exclude(pk=project.pk).get()
    assert response["Location"] == variant.get_absolute_url()
    assert variant.title == "Autumn valley (variant)" and variant.team == project.team
    old = [s.selected_take for s in project.timeline()]
    new = [s.selected_take for s in variant.timeline()]
    assert [t.video.name for t in new] == [t.video.name for t in old]  # not copied
    assert {t.pk for t in new}.isdisjoint(t.pk for t in old)
    assert [t.upstream_take_id for t in new] == [None, new[0].pk, new[1].pk]
    assert stale(variant) == {}
    assert costs.team_spend(project.team)["total"] == spent

    arrange.remove(variant.shots.get(prompt="P1"))  # what changes there stays there
    assert prompts(project) == ["P1", "P2", "P3"]


def test_the_seam_inspector_scores_every_pair_and_picking_one_marks_staleness(
    simulator, client_of, user
):
    project = make_project(user, shots=[("A", "cut"), ("B", "continue"), ("C", "continue")])
    first = project.shots.get(prompt="A")
    second = project.shots.get(prompt="B")
    # Shot 1's two takes get seeds that end them far apart (drawn ones can end close
    # enough to blur the scores' margin).
    pipeline.queue_takes(project)
    first.takes.update(seed=SEEDS[0])
    pipeline.run_here(project)
    pipeline.queue_takes(project, shots=[first])  # another take of shot 1
    first.takes.filter(status=Take.Status.WAITING).update(seed=SEEDS[1])
    pipeline.run_here(project)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.selected_take.number == 2
    assert stale(project) == {"B": "shot 1 has another take in the cut", "C": "shot 2 is stale"}

    url = reverse("shot-seam", args=[project.pk, second.pk])
    html = client_of.get(url).content.decode()
    figures = html.split('<figure class="seam-pair')[1:]
    assert len(figures) == 2  # two takes of shot 1 meet one take of shot 2
    scores = [float(f.split('data-difference="')[1].split('"')[0]) for f in figures]
    assert scores[0] < 1.0 < 5 * scores[0] + 1 < scores[1]  # chained pair: the same frame
    assert "chained" in figures[0] and "Use this pair" in figures[0]
    assert "in the cut" in figures[1]  # take 2 of shot 1 with take 1 of shot 2

    chained_take = second.selected_take
    frame = client_of.get(reverse("take-file", args=[project.pk, chained_take.pk, "first-frame"]))
    assert frame.status_code == 200

    response = client_of.post(
        reverse("seam-pick", args=[project.pk, second.pk]),
        {"before": chained_take.upstream_take_id, "after": chained_take.pk},
    )
    assert response.status_code == 302
    assert stale(project) == {}


def test_a_take_collected_before_first_frames_were_kept_gets_one_from_the_worker(
    client_of, user, media_root
):
    project = chained(user, 2)
    shot = project.shots.get(prompt="P2")
    take = shot.selected_take
    assert not take.first_frame
    url = reverse("take-file", args=[project.pk, take.pk, "first-frame"])
    seam = reverse("shot-seam", args=[project.pk, shot.pk])
    stored = sorted(media_root.rglob("*"))

    # A page serves only what is stored, and stores nothing: the inspector says it is coming.
    assert client_of.get(url).status_code == 404
    inspector = client_of.get(seam).content.decode()
    assert "First frame of take 1 on its way" in inspector
    take.refresh_from_db()
    assert not take.first_frame and sorted(media_root.rglob("*")) == stored

    tasks.recover()  # the worker's sweep, when it starts and every half minute

    take.refresh_from_db()
    assert take.first_frame.name.endswith(".jpg")
    response = client_of.get(url)
    assert response.status_code == 200
    with take.video.open("rb") as clip, tempfile.NamedTemporaryFile(suffix=".mp4") as copy:
        copy.write(clip.read())
        copy.flush()
        expected = media.first_frame(copy.name)
    frame = Image.open(io.BytesIO(b"".join(response.streaming_content))).convert("RGB")
    assert frame.size == expected.size and media.difference(frame, expected) < 2
    assert f'src="{url}"' in client_of.get(seam).content.decode()


def test_a_removed_shot_waiting_to_be_made_does_not_hold_up_render(simulator, user):
    project = make_project(user, shots=[("A", "cut"), ("B", "cut")])
    pipeline.queue_takes(project)
    arrange.remove(project.shots.get(prompt="B"))
    assert pipeline.run_here(project) is True
    kept = Take.objects.get(shot__prompt="B")
    assert kept.status == Take.Status.WAITING and simulator.create_count == 1


def test_a_take_finishing_while_its_shot_is_set_aside_is_picked_when_it_comes_back(user):
    project = chained(user, 2)
    shot = project.shots.get(prompt="P2")
    newer = make_take(shot, upstream=project.shots.get(prompt="P1").selected_take, select=False)
    arrange.remove(shot)
    newer.select()  # as collecting does when the clip arrives
    arrange.undo(project)
    assert project.shots.get(prompt="P2").selected_take_id == newer.pk


def test_editing_a_shot_is_a_change_after_which_a_delete_cannot_be_undone(client_of, user):
    project = chained(user, 3)
    arrange.remove(project.shots.get(prompt="P3"))
    shot = project.shots.get(prompt="P1")
    page = client_of.get(reverse("shot-edit", args=[project.pk, shot.pk]))
    url = reverse("shot-edit", args=[project.pk, shot.pk])
    changed = {"prompt": "P1 again", "duration": 4, "opening": "cut"}
    assert submit(client_of, page, url, **changed).status_code == 302
    assert arrange.undo(project) is None


def test_the_inspector_shows_a_trimmed_shot_ending_on_its_out_point(client_of, user):
    project = chained(user, 2)
    first, second = project.shots.in_order()
    first.trim_out = 50
    first.save()
    used, other = first.selected_take, make_take(first, select=False)
    made = make_take(second, upstream=used, upstream_out=50, start_frame="takes/out.png")

    html = client_of.get(reverse("shot-seam", args=[project.pk, second.pk])).content.decode()

    start_frame = reverse("take-file", args=[project.pk, made.pk, "start-frame"])
    assert html.count(start_frame) == 2  # both of shot 2's takes against the take cut at 50
    assert reverse("take-file", args=[project.pk, used.pk, "last-frame"]) not in html
    # No frame was cut from the other take at 50 yet: its last frame stands for it.
    assert reverse("take-file", args=[project.pk, other.pk, "last-frame"]) in html


def test_the_inspector_shows_the_shots_cast_in_every_shot_they_are_in(client_of, user):
    """The cast view: for each member of the shot, the poster of every shot they are in,
    side by side, so a face that drifted across the cuts shows at a glance."""
    from tests.test_cast import add_member

    project = make_project(
        user,
        shots=[("@Mara on the pier", "cut"), ("@Mara turns", "continue"), ("A gull", "cut")],
    )
    mara = add_member(project, "Mara")
    add_member(project, "Lamp")  # in no shot: not shown
    make_takes(project)
    first, second, _ = project.shots.in_order()

    html = client_of.get(reverse("shot-seam", args=[project.pk, second.pk])).content.decode()

    assert 'data-role="seam-cast"' in html and 'data-cast="Mara"' in html
    assert 'data-cast="Lamp"' not in html
    for shot in (first, second):
        poster = reverse("take-file", args=[project.pk, shot.selected_take_id, "poster"])
        assert poster in html
    assert html.count("<figcaption>Shot ") == 2 == mara.shots.count()
