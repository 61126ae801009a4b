"""Finding what changed in a project since the last look, at a cost that follows the change.

Every write to a project, shot, take or export stamps its `updated_at` (models.Tracked),
so one look reads only the rows written since the last one (with some overlap, for
clocks and commits that lag) and compares them with what it saw before. A full reread
now and then catches anything the overlap missed.
"""

import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from ..models import Export, Link, Membership, Project, Shot, Take
from ..pace import Expectations

# Rows written this long before the last look are read again, for writers whose clock
# or commit lags a little behind.
OVERLAP = timedelta(seconds=5)
# Everything is read again this often, to catch what even the overlap missed.
RESYNC_SECONDS = 30.0
TAKE_FIELDS = (
    "pk",
    "shot_id",
    "number",
    "status",
    "progress",
    "note",
    "error",
    "tokens",
    "remote_id",
    "provider",
    "inputs",
    "held",  # a seam-guard hold (and its release) changes the card, not the status
    "submitted_at",
    "started_at",
    "updated_at",
    "changed_at",  # what a card shows changed, beyond its bar (Take.QUIET)
)


@dataclass
class Changes:
    """What a look found: each kind of event the timeline needs."""

    gone: bool = False  # the project was deleted
    timeline: bool = False  # shots added, removed or moved, or the settings changed
    cards: set = field(default_factory=set)  # shot ids whose card changed
    progress: dict = field(default_factory=dict)  # shot id: percent, where only that moved
    exports: bool = False
    estimate: bool = False
    revoked: set = field(default_factory=set)  # ids of links that no longer work
    # ids of members whose access changed (removed, another role, the project moved)
    left: set = field(default_factory=set)

    def __bool__(self):
        return bool(
            self.gone
            or self.timeline
            or self.cards
            or self.progress
            or self.exports
            or self.estimate
            or self.revoked
            or self.left
        )


class Watcher:
    """Follows one project: each look() returns the Changes since the previous one."""

    def __init__(self, project_id):
        self.project_id = project_id
        self.project = None  # its updated_at
        self.links = {}  # link id: when it expires (None: never), for the links that work
        self.members = None  # user id: role, in the project's team
        self.shots = {}  # shot id: (position, opening, updated_at, selected_take_id)
        self.takes = {}  # take id: its row, as TAKE_FIELDS
        self.exports = {}  # export id: updated_at
        self.shown = {}  # shot id: percent shown on its progress bar
        self.cursor = None
        self.resync_at = 0.0
        self.expectations = None

    def look(self):
        now = timezone.now()
        changes = Changes()
        row = Project.objects.filter(pk=self.project_id).values_list("updated_at", flat=True)
        row = next(iter(row), None)
        if row is None:
            changes.gone = True
            return changes
        first = self.project is None
        if not first and row != self.project:
            changes.timeline = changes.estimate = True
        self.project = row
        full = first or time.monotonic() >= self.resync_at
        self._links(now, changes)
        self._members(changes)
        since = None if full else self.cursor - OVERLAP
        self._shots(since, full, changes)
        self._takes(since, full, changes)
        self._exports(since, changes)
        if self.expectations is None or changes.estimate:
            self.expectations = Expectations.recent()
        self._estimated_progress(changes)
        if full:
            self.resync_at = time.monotonic() + RESYNC_SECONDS
        self.cursor = now
        if first:  # a first look knows no "before": what was written just now is news
            return self._recent(now - OVERLAP)
        if changes.timeline:
            changes.cards.clear()
            changes.progress.clear()
        return changes

    def _links(self, now, changes):
        """Links revoked since, or expired: their streams end."""
        live = dict(
            Link.objects.filter(project_id=self.project_id).live().values_list("pk", "expires_at")
        )
        changes.revoked |= set(self.links) - set(live)
        self.links = live

    def _members(self, changes):
        """Members removed from the project's team, given another role, or left behind
        when the project moved to another team: their streams end (they reconnect, and
        are asked again who they are)."""
        members = dict(
            Membership.objects.filter(team__projects=self.project_id).values_list("user_id", "role")
        )
        if self.members is not None:
            changes.left |= {
                user for user, role in self.members.items() if members.get(user) != role
            }
        self.members = members

    def _recent(self, since):
        """Changes for what was written since `since`, from what a look has read."""
        changes = Changes()
        # A stream may have opened on a link just before it was revoked or expired.
        ended = Link.objects.filter(project_id=self.project_id).exclude(pk__in=self.links)
        changes.revoked = set(
            ended.filter(Q(revoked_at__gte=since) | Q(expires_at__gte=since)).values_list(
                "pk", flat=True
            )
        )
        if self.project >= since:
            changes.timeline = changes.estimate = True
            return changes
        for pk, row in self.shots.items():
            if row[2] >= since:
                changes.cards |= self._chain_from(pk)
        for take in self.takes.values():
            shot = take["shot_id"]
            if take["updated_at"] < since or shot not in self.shots:
                continue
            if take["changed_at"] >= since:
                changes.cards |= self._chain_from(shot)
            elif take["progress"] is not None:  # its bar alone moved
                changes.progress[shot] = self.shown[shot] = as_percent(take["progress"])
        for shot in changes.cards:
            changes.progress.pop(shot, None)
        changes.exports = any(updated_at >= since for updated_at in self.exports.values())
        changes.estimate = bool(changes.cards)
        return changes

    def _shots(self, since, full, changes):
        shots = Shot.objects.filter(project_id=self.project_id)
        if since is not None:
            shots = shots.filter(updated_at__gte=since)
        rows = shots.values_list("pk", "position", "opening", "updated_at", "selected_take_id")
        seen = set()
        for pk, *row in rows:
            seen.add(pk)
            old = self.shots.get(pk)
            if old != tuple(row):
                if old is None or old[:2] != tuple(row[:2]):
                    changes.timeline = True  # added, moved, or its opening changed
                changes.cards |= self._chain_from(pk, row)
                changes.estimate = True
                self.shots[pk] = tuple(row)
        if full and set(self.shots) - seen:
            changes.timeline = changes.estimate = True  # deleted
            for pk in set(self.shots) - seen:
                del self.shots[pk]

    def _chain_from(self, pk, row=None):
        """The shot and the later shots of its chain, whose cards its change can alter
        (staleness, "waiting for shot N", a chain that stops)."""
        position = (row or self.shots[pk])[0]
        later = sorted(
            (values[0], other, values[1])
            for other, values in self.shots.items()
            if values[0] > position
        )
        chain = {pk}
        for _, other, opening in later:
            if opening != "continue":
                break
            chain.add(other)
        return chain

    def _takes(self, since, full, changes):
        takes = Take.objects.filter(shot__project_id=self.project_id)
        if since is not None:
            takes = takes.filter(updated_at__gte=since)
        for values in takes.values_list(*TAKE_FIELDS):
            row = dict(zip(TAKE_FIELDS, values, strict=True))
            old = self.takes.get(row["pk"])
            self.takes[row["pk"]] = row
            if old == row:
                continue
            shot = row["shot_id"]
            if old is not None and _without_progress(old) == _without_progress(row):
                percent = as_percent(row["progress"])
                if self.shown.get(shot) != percent:
                    changes.progress[shot] = self.shown[shot] = percent
                continue
            if shot in self.shots:
                changes.cards |= self._chain_from(shot)
            changes.estimate = True
            self.shown.pop(shot, None)

    def _exports(self, since, changes):
        exports = Export.objects.filter(project_id=self.project_id)
        if since is not None:
            exports = exports.filter(updated_at__gte=since)
        for pk, updated_at in exports.values_list("pk", "updated_at"):
            if self.exports.get(pk) != updated_at:
                self.exports[pk] = updated_at
                changes.exports = True

    def _estimated_progress(self, changes):
        """Takes whose provider reports no progress move by time: a small event each
        time their bar moves a percent."""
        for take in self.takes.values():
            if take["status"] not in Take.IN_FLIGHT or take["progress"] is not None:
                continue
            shot = take["shot_id"]
            if shot not in self.shots:
                continue
            percent = as_percent(estimated_progress(take, self.expectations))
            if shot in changes.cards or shot not in self.shown:
                self.shown[shot] = percent  # what its card shows when rendered now
            elif self.shown[shot] != percent:
                changes.progress[shot] = self.shown[shot] = percent


def estimated_progress(row, expectations):
    """Take.shown_progress() for a row of TAKE_FIELDS, without loading the take."""
    take = Take(**row)
    take.expect(expectations.for_take(take))
    return take.shown_progress()


def _without_progress(row):
    """What a card shows of a take, but its progress bar."""
    quiet = ("progress", "updated_at", "changed_at")
    return {name: value for name, value in row.items() if name not in quiet}


def as_percent(progress):
    return round(100 * (progress or 0.0))
