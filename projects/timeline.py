"""The timeline as pages, fragments and live events show it, with the viewer's links."""

import time
from collections import Counter

from django.conf import settings
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from . import arrange, costs, cut, pipeline
from . import cast as casting
from .forms import ExportForm
from .models import Export, Kind
from .pace import Expectations

TIMELINE = "projects/timeline.html"


def present(viewer, shots=None, expectations=None, exports_page=1):
    """The context of the whole timeline, with every link the viewer may follow; the
    exports at `exports_page` of their list."""
    shots = viewer.project.timeline() if shots is None else shots
    expectations = expectations or Expectations.recent()
    decorate(viewer, shots, expectations)
    return {**summary(viewer, shots, expectations, exports_page), "shots": shots}


def decorate(viewer, shots, expectations):
    """Give each of `shots` (from project.timeline()) what its card shows."""
    # A held take's upstream is a take of the shot before: among those read already.
    takes = {take.pk: take for shot in shots for take in shot.takes.all()}
    numbers = {shot.pk: shot.number for shot in shots}
    by_pk = {shot.pk: shot for shot in shots}
    made_at = resolutions(viewer.project)
    for shot in shots:
        present_cast(viewer, shot)
        shot.made_at = made_at
        shot.card = shot.card_take()
        if shot.card is not None and shot.card.is_unfinished:
            shot.card.expect(expectations.for_take(shot.card))
        shot.expected_time = costs.spoken_seconds(expectations.for_shot(shot))
        shot.final_card = shot.card_final()
        if shot.final_card is not None:
            if shot.final_card.is_unfinished:
                shot.final_card.expect(expectations.for_take(shot.final_card))
            expected = expectations.for_shot(shot, Kind.FINAL)
            shot.final_expected_time = costs.spoken_seconds(expected)
        if viewer.can_generate:  # what its Generate buttons would bill, asked first
            shot.bill = costs.bill(viewer.project, [shot], expectations)
            from_here = [shot, *getattr(shot, "chain_after", [])]
            shot.bill_from_here = costs.bill(viewer.project, from_here, expectations)
        shot.card_url = viewer.url("shot-card", shot.pk)
        shot.comment_url = viewer.url("comment-create", shot.pk)
        # Trims are on frames of the selected take's clip, as probed: what exports cut.
        take = shot.selected_take
        shot.clip_frames = take.frame_count if take is not None else 0
        shot.clip_rate = _rate(take)
        shot.trim_last = shot.clip_frames - 1 if shot.trim_out is None else shot.trim_out
        if shot.card is not None:
            held = shot.card.is_held
            shot.seam = held_seam(viewer, shot.card, takes, numbers) if held else None
            if shot.seam is not None and viewer.can_generate:  # both ways on bill, asked first
                kind, upstream = shot.card.kind, by_pk.get(shot.seam["shot_id"])
                shot.seam["bill"] = costs.bill(viewer.project, [shot], expectations, kind)
                if upstream is not None:
                    shot.seam["bill_upstream"] = costs.bill(
                        viewer.project, [upstream], expectations, kind
                    )
        shot.reference_summary = _reference_summary(shot.references.all())
        for take in shot.takes.all():
            take.video_url = viewer.url("take-file", take.pk, "video")
            take.poster_url = viewer.url("take-file", take.pk, "poster")
            take.last_frame_url = viewer.url("take-file", take.pk, "last-frame")
            take.verdict_url = viewer.url("take-verdict", take.pk)


def present_cast(viewer, shot):
    """What a card shows of the shot's cast: a chip with a thumbnail for each member, its
    prompt with names no one answers to underlined, how the cast reaches the gateway and
    why the gateway would refuse it."""
    members = shot.cast_in_order()
    shot.cast_chips = []
    for member in members:
        thumbnail = member.thumbnail
        url = viewer.url("cast-image", thumbnail.pk) if thumbnail else ""
        shot.cast_chips.append({"name": member.name, "thumbnail": url})
    # Every member a prompt names is in its shot (projects.cast keeps it so): a name
    # that is not names no one.
    shot.unknown_cast = casting.unknown(shot.prompt, members)
    shot.prompt_html = marked_prompt(shot.prompt, shot.unknown_cast)
    shot.cast_notes, shot.cast_problems = pipeline.cast_notes(shot, members)
    shot.cast_warning = _unknown_said(shot)


def marked_prompt(prompt, unknown):
    """The prompt as HTML, each `@Name` naming no one of the cast underlined."""
    if not unknown:
        return escape(prompt)
    strangers = {name.lower() for name in unknown}
    out, at = [], 0
    for match in casting.MENTION.finditer(prompt):
        if match.group(1).lower() not in strangers:
            continue
        out.append(escape(prompt[at : match.start()]))
        out.append(
            format_html(
                '<u class="unknown-cast" title="No one in the cast is called {}">{}</u>',
                match.group(1),
                match.group(0),
            )
        )
        at = match.end()
    out.append(escape(prompt[at:]))
    return mark_safe("".join(out))


def unknown_warning(shots):
    """What Generate asks about first: the shots naming someone not in the cast."""
    return " ".join(said for said in map(_unknown_said, shots) if said)


def _unknown_said(shot):
    """The shot's part of it: read from its card where present_cast made one already."""
    strangers = getattr(shot, "unknown_cast", None)
    if strangers is None:
        strangers = casting.unknown(shot.prompt, shot.cast_in_order())
    if not strangers:
        return ""
    names = ", ".join(f"@{name}" for name in strangers)
    return f"Shot {shot.number} names {names}, not in the cast."


def resolutions(project):
    """What a shot not made yet will be made at, as its card says it: Generate drafts at
    the draft settings' resolution, Make final at the project's ("draft 480p, final 720p")."""
    draft = project.settings_for(Kind.DRAFT)["resolution"]
    final = project.settings_for(Kind.FINAL)["resolution"]
    return final if draft == final else f"draft {draft}, final {final}"


# A held continue's card offers the shot before's last seconds to pick a start frame in.
SEAM_PICK_SECONDS = 2


def seam_range(upstream):
    """The frames of take `upstream` a held continue may be picked to start on: (first, last)."""
    last = upstream.frame_count - 1
    return max(0, last + 1 - round(SEAM_PICK_SECONDS * upstream.rate)), last


def _rate(take):
    """A take's frames per second as a page writes it: "24", "29.97"."""
    return f"{take.rate:g}" if take is not None else ""


def held_seam(viewer, take, takes, numbers):
    """What a held card's scrubber needs: the upstream clip, its frames on offer, the
    frame it was held on. The upstream take is found among the timeline's `takes` (by
    id), its shot's number in `numbers` (by shot id); read alone only when not there."""
    upstream = takes.get(take.upstream_take_id) or take.upstream_take
    if upstream is None or not upstream.duration:
        return None
    first, last = seam_range(upstream)
    held_on = last if take.upstream_out is None else take.upstream_out
    number = numbers.get(upstream.shot_id) or upstream.shot.number
    return {
        "shot_id": upstream.shot_id,
        "number": number,
        "video_url": viewer.url("take-file", upstream.pk, "video"),
        "frame_url": viewer.url("take-file", upstream.pk, "last-frame"),
        "first": first,
        "last": last,
        "value": min(last, max(first, held_on)),
        "seconds": SEAM_PICK_SECONDS,
        "fps": _rate(upstream),
    }


def summary(viewer, shots, expectations, exports_page=1):
    """What the timeline says of itself: length, estimate, exports (their list at
    `exports_page`; not read at all when it is None), where events come from."""
    project = viewer.project
    return {
        **(export_list(viewer, exports_page) if exports_page is not None else {}),
        "project": project,
        "viewer": viewer,
        "shots_count": len(shots),
        "total_seconds": sum(shot.duration for shot in shots),
        "chain_count": shots[-1].chain if shots else 0,
        "estimate": costs.estimate(project, shots, expectations),
        "currency": settings.SEEDANCE_CURRENCY,
        "formats": ExportForm.offered(),
        "timelines_in_bundle": ExportForm.ONLY_IN_BUNDLE,
        "kinds": Kind.choices,
        "draft_settings": project.settings_for(Kind.DRAFT),
        "cast_warning": unknown_warning(shots),
        "export_kind": cut.kind_ready(shots),
        # The shot an editor may still undo deleting.
        "removed": arrange.removed(project) if viewer.editable else None,
        # The stream starts with what changed after this page was rendered.
        "events_url": f"{viewer.url('project-events')}?since={time.time():.3f}",
    }


EXPORTS_PER_PAGE = 10


def export_list(viewer, page=1):
    """Every export of the project, newest first, EXPORTS_PER_PAGE to a page and grouped
    by kind on it (Export.GROUPS); and the newest watchable cut when it is on another
    page, so that it stays in reach wherever the list is. One query for the page (one
    more row says whether an older page follows), one for the cut only when it is not on
    the page."""
    try:
        number = max(1, int(page))
    except (TypeError, ValueError):
        number = 1
    exports = viewer.project.exports.order_by("-created_at", "-pk")
    start = (number - 1) * EXPORTS_PER_PAGE
    listed = list(exports[start : start + EXPORTS_PER_PAGE + 1])
    older = len(listed) > EXPORTS_PER_PAGE
    listed = listed[:EXPORTS_PER_PAGE]
    groups = [
        (heading, [export for export in listed if export.format in formats])
        for heading, formats in Export.GROUPS
    ]
    pinned = None
    # The first page holds the newest cut if any is on it; a cut older than all of it can
    # only be on another page, when there is one.
    if number > 1 or (older and not any(_watchable(export) for export in listed)):
        latest = exports.filter(format=Export.Format.MP4, status=Export.Status.DONE).first()
        pinned = None if latest in listed else latest
    link_exports(viewer, listed + ([pinned] if pinned else []))
    return {
        "exports": listed,
        "export_groups": [(heading, group) for heading, group in groups if group],
        "export_page": {
            "number": number,
            "previous": number - 1 if number > 1 else None,
            "next": number + 1 if older else None,
        },
        "latest_cut": pinned,
        "exports_url": viewer.url("export-list"),
    }


def _watchable(export):
    return export.format == Export.Format.MP4 and export.status == Export.Status.DONE


def link_exports(viewer, exports):
    for export in exports:
        export.card_url = viewer.url("export-card", export.pk)
        export.download_url = viewer.url("export-download", export.pk)


def _reference_summary(references):
    """ "2 images, 1 audio" for a shot's references; "" when it has none."""
    counts = Counter(reference.kind for reference in references)
    return ", ".join(
        f"{counts[kind]} {kind}{'s' if counts[kind] > 1 and kind != 'audio' else ''}"
        for kind in ("image", "video", "audio")
        if counts[kind]
    )
