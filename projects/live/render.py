"""The live timeline's events: fragments of the page's own templates, for each audience.

A team member's cards carry the actions they may take and the project's own links; a
share-link holder's carry read-only links under the token. Each changed fragment is
rendered once per audience, however many people watch.
"""

from dataclasses import dataclass

from django.template.loader import render_to_string

from ..access import Viewer
from ..models import Link, Project, Role
from ..pace import Expectations
from ..timeline import TIMELINE, decorate, present, summary


@dataclass(frozen=True)
class Event:
    """One server-sent event: `name` says what it replaces, `html` what with.

    `audience` None is for everyone; "end" events close the streams of their audience,
    or of one person (render.person).
    """

    name: str
    html: str = ""
    audience: str | None = None

    def encode(self, event_id=None):
        lines = [f"event: {self.name}"]
        if event_id is not None:
            lines.append(f"id: {event_id}")
        lines += [f"data: {line}" for line in self.html.strip().splitlines()] or ["data: "]
        return "\n".join(lines) + "\n\n"

    def to_json(self):
        return [self.name, self.html, self.audience]

    @classmethod
    def from_json(cls, value):
        return cls(*value)


def person(user_id):
    """The audience of one member's own streams, which end when their access changes."""
    return f"user:{user_id}"


def viewers(project):
    """One Viewer per audience the project can have now: editors, viewers, each link."""
    found = [Viewer(project, role=Role.EDITOR), Viewer(project, role=Role.VIEWER)]
    found += [Viewer(project, link=link) for link in Link.objects.filter(project=project).live()]
    return found


# The event "exports" swaps the list of exports, not the section with its form.
PARTIALS = {"exports": "export-list"}


def render(project_id, changes, expectations=None):
    """The events for a watch.Changes; [] when there is nothing to send."""
    if changes.gone:
        return [Event("end")]
    events = [Event("end", audience=f"link:{pk}") for pk in changes.revoked]
    events += [Event("end", audience=person(pk)) for pk in changes.left]
    for shot_id, percent in changes.progress.items():
        events.append(Event(f"progress-{shot_id}", progress(shot_id, percent)))
    if not (changes.timeline or changes.cards or changes.exports or changes.estimate):
        return events
    project = (
        Project.objects.with_billed()
        .select_related("team__gateway", "connection")
        .filter(pk=project_id)
        .first()
    )
    if project is None:
        return [Event("end")]
    shots = project.timeline()
    expectations = expectations or Expectations.recent()
    for viewer in viewers(project):
        events += fragments(viewer, shots, expectations, changes)
    return events


def fragments(viewer, shots, expectations, changes):
    """The changed fragments, as one audience sees them."""
    audience = viewer.audience
    if changes.timeline:
        context = present(viewer, shots, expectations=expectations)
        names = ["timeline", "exports"] + (["estimate"] if viewer.editable else [])
        events = [
            Event(
                name, render_to_string(f"{TIMELINE}#{PARTIALS.get(name, name)}", context), audience
            )
            for name in names
        ]
        return [*events, head(viewer, context)]
    events = []
    changed = [shot for shot in shots if shot.pk in changes.cards]
    if changed:
        decorate(viewer, changed, expectations)
        context = {"project": viewer.project, "viewer": viewer}
        for shot in changed:
            html = render_to_string(f"{TIMELINE}#shot-card", {**context, "shot": shot})
            events.append(Event(f"shot-{shot.pk}", html, audience))
    if changes.exports or changed or (changes.estimate and viewer.editable):
        # The exports are read only when they changed: the head and the estimate need none.
        context = summary(viewer, shots, expectations, 1 if changes.exports else None)
        if changed:  # a duration edited, a shot now held or made: the head's figures
            events.append(head(viewer, context))
            if viewer.can_export:  # which cut the export form joins by default
                html = render_to_string(f"{TIMELINE}#export-kind", context)
                events.append(Event("export-kind", html, audience))
        if changes.exports:
            events.append(
                Event("exports", render_to_string(f"{TIMELINE}#export-list", context), audience)
            )
        if changes.estimate and viewer.editable:
            html = render_to_string(f"{TIMELINE}#estimate", context)
            events.append(Event("estimate", html, audience))
    return events


def head(viewer, context):
    """The page's head (its figures, and for members the toolbar), as the audience's page
    has it."""
    page = "projects/shared.html" if viewer.link else "projects/project_detail.html"
    return Event("head", render_to_string(f"{page}#head", context), viewer.audience)


def progress(shot_id, percent):
    """A card's progress bar alone, for a take whose progress is all that moved."""
    return render_to_string(f"{TIMELINE}#progress", {"shot_id": shot_id, "percent": percent})
