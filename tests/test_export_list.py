"""Every export is listed, newest first, grouped by kind, ten to a page; the latest cut
stays in reach on every page, the review page's too. And a card says what will be made."""

import re

from django.urls import reverse

from projects.models import Export, Link, Opening
from tests.factories import make_project

FORMATS = ["mp4", "zip", "otio", "fcpxml", "edl", "png", "vtt", "srt"]  # oldest first


def exported(project, formats):
    return [
        Export.objects.create(
            project=project, format=f, status=Export.Status.DONE, takes=[], duration=4.0
        )
        for f in formats
    ]


def listed(html):
    """The ids of the export cards on a page, in order, and the groups' headings."""
    return (
        [int(pk) for pk in re.findall(r'class="export-card[^"]*" id="export-(\d+)"', html)],
        re.findall(r'<div class="export-group[^"]*"><h3>([^<]+)</h3>', html),
    )


def test_every_export_is_listed_newest_first_grouped_by_kind(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    made = exported(project, FORMATS)
    html = client_of.get(project.get_absolute_url()).content.decode()
    ids, groups = listed(html)
    assert groups == ["Video", "For editors", "Captions", "Contact sheets"]
    by_pk = {e.pk: e.format for e in made}
    assert [by_pk[pk] for pk in ids] == ["mp4", "edl", "fcpxml", "otio", "zip", "srt", "vtt", "png"]
    assert "Older exports" not in html and "Latest cut" not in html  # one page; the cut is on it


def test_past_ten_exports_they_are_paged_and_the_latest_cut_stays_in_reach(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    cut, *_ = exported(project, ["mp4"] + ["srt"] * 11)  # the cut is the oldest of twelve
    url = project.get_absolute_url()

    first = client_of.get(url).content.decode()
    ids, _ = listed(first)
    assert len(ids) == 11  # ten, and the cut pinned above them
    assert ids[0] == cut.pk and "Latest cut" in first
    assert f'hx-get="{reverse("export-list", args=[project.pk])}?page=2"' in first
    assert "Older exports" in first and "Newer exports" not in first

    second = client_of.get(reverse("export-list", args=[project.pk]), {"page": 2})
    ids, groups = listed(second.content.decode())
    assert groups == ["Video", "Captions"] and ids[0] == cut.pk
    assert "Latest cut" not in second.content.decode()  # listed here, not pinned
    assert len(ids) == 2 and "Newer exports" in second.content.decode()
    # A page without scripts gets there too, by the page's own address.
    assert listed(client_of.get(url, {"exports": 2}).content.decode())[0] == ids


def test_the_review_page_keeps_the_latest_cut_in_reach(client, user):
    project = make_project(user, shots=[("A", Opening.CUT)])
    cut = exported(project, ["mp4"])[0]
    exported(project, ["png", "vtt", "srt"] * 4)
    link = Link.make(project, Link.Kind.REVIEW)
    html = client.get(reverse("shared-project", args=[link.token])).content.decode()
    assert "Latest cut" in html and f'id="export-{cut.pk}"' in html
    assert reverse("shared-export-download", args=[link.token, cut.pk]) in html


def test_a_card_says_what_generate_and_make_final_will_make(client_of, user):
    project = make_project(user, shots=[("A", Opening.CUT)], resolution="720p")
    html = client_of.get(project.get_absolute_url()).content.decode()
    assert "4 s · draft 480p, final 720p" in html
    assert "4 s · 720p" not in html
    small = make_project(user, shots=[("B", Opening.CUT)], resolution="480p")
    assert "4 s · 480p" in client_of.get(small.get_absolute_url()).content.decode()


def test_a_live_event_swaps_the_list_never_the_form_being_filled(user):
    from projects.live.render import render
    from projects.live.watch import Changes

    project = make_project(user, shots=[("A", Opening.CUT)])
    exported(project, ["mp4"])
    for changes in (Changes(exports=True), Changes(timeline=True)):
        events = [e for e in render(project.pk, changes) if e.name == "exports"]
        assert events, changes
        for event in events:
            assert event.html.lstrip().startswith('<div id="export-list" sse-swap="exports"')
            assert "<form" not in event.html and "Download MP4" in event.html
