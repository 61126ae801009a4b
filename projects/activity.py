"""A project's and a team's history, in sentences: who did what, and when.

Kept by django-auditlog (what each model records is in apps.py); this turns its
entries into lines a person reads, on the project, on the team page and in the admin.

Every entry names who did it: the signed-in person (projects.middleware.audit_actor, on
both of its paths), or the name a review link's guest gave; only work from manage.py has
neither, and says "the command line". A deletion is told when the person asks for it
(`deleted`), not when the row goes, which the worker may do later (pipeline.purge).
"""

from dataclasses import dataclass
from datetime import datetime

from auditlog.context import disable_auditlog
from auditlog.models import LogEntry

CREATE, UPDATE, DELETE = LogEntry.Action.CREATE, LogEntry.Action.UPDATE, LogEntry.Action.DELETE
COMMAND_LINE = "the command line"
PUT_BACK = "put_back"  # the change an undone deletion is logged with


def deleted(instance):
    """Log `instance` deleted now, by whoever is acting (the person asking): its row may
    stay until its work at the provider ends, and then goes unlogged (`quietly`)."""
    return LogEntry.objects.log_create(instance, force_log=True, action=DELETE, changes={})


def put_back(instance):
    """Log a deletion undone: `instance` is back where it was."""
    changes = {PUT_BACK: ["deleted", "back"]}
    return LogEntry.objects.log_create(instance, force_log=True, action=UPDATE, changes=changes)


def quietly():
    """Deleting rows whose deletion was logged already (`deleted`), without a second entry."""
    return disable_auditlog()


@dataclass(frozen=True)
class Line:
    at: datetime
    who: str
    what: str


def of_project(project):
    entries = LogEntry.objects.filter(additional_data__project=project.pk)
    return _lines(entries)


def of_team(team):
    entries = LogEntry.objects.filter(additional_data__team=team.pk)
    return _lines(entries)


class _Lines:
    """Sliceable, so pages show the latest few without reading every entry."""

    def __init__(self, entries):
        self.entries = entries.select_related("actor", "content_type").order_by("-timestamp")

    def __getitem__(self, index):
        chosen = self.entries[index]
        return [line for line in map(describe, chosen) if line is not None]

    def __iter__(self):
        return iter(self[:])


def _lines(entries):
    return _Lines(entries)


def describe(entry):
    """One entry as a Line; None for a change nobody needs to read."""
    data = entry.additional_data or {}
    who = _who(entry, data)
    changes = {k: v for k, v in entry.changes_dict.items() if k != "version"}
    model = entry.content_type.model
    shot = f"shot {data['shot']}" if "shot" in data else "a shot"
    what = None
    if model == "take":
        if entry.action == CREATE:
            what = f"generated {shot}"
        elif "verdict" in changes:
            verdict = (changes["verdict"][1] or "").replace("_", " ")
            what = f"marked take {data.get('take')} of {shot} {verdict}"
    elif model == "shot":
        if entry.action == CREATE:
            what = f"added {shot}"
        elif entry.action == DELETE:
            what = f"deleted {shot}"
        elif PUT_BACK in changes:
            what = f"put back {shot}"
        elif "selected_take" in changes and len(changes) == 1:
            what = f"picked another take of {shot}"
        elif "selected_final" in changes and len(changes) == 1:
            what = f"picked another final of {shot}"
        elif "position" in changes and len(changes) == 1:
            what = f"moved {shot}"
        elif changes:
            what = f"edited {shot} ({', '.join(sorted(changes))})"
    elif model == "project":
        if entry.action == CREATE:
            what = "made the project"
        elif entry.action == DELETE:
            what = f"deleted the project {entry.object_repr}"
        elif "team" in changes:
            what = "moved the project to another team"
        elif changes:
            what = f"changed the settings ({', '.join(sorted(changes))})"
    elif model == "castmember":
        name = data.get("member") or entry.object_repr
        if entry.action == CREATE:
            what = f"added {name} to the cast"
        elif entry.action == DELETE:
            what = f"took {name} out of the cast"
        elif "name" in changes:
            what = f"renamed {changes['name'][0]} to {changes['name'][1]} in the cast"
        elif changes:
            what = f"changed {name} in the cast ({', '.join(sorted(changes))})"
    elif model == "export" and entry.action == CREATE:
        what = "exported the cut"
    elif model == "comment" and entry.action == CREATE:
        what = f"commented on {shot}"
    elif model == "link":
        kind = (changes.get("kind") or [None, "view"])[1]
        if entry.action == CREATE:
            what = f"made a {'review' if kind == 'review' else 'view-only'} link"
        elif "revoked_at" in changes:
            what = "revoked a link"
    elif model == "membership":
        member = data.get("member", "someone")
        role = (changes.get("role") or [None, "?"])[1]
        if entry.action == CREATE and entry.actor and entry.actor.get_username() == member:
            what = f"joined as {role}"  # by an invitation they answered
        elif entry.action == CREATE:
            what = f"added {member} as {role}"
        elif entry.action == DELETE:
            what = f"removed {member}"
        elif "role" in changes:
            what = f"made {member} {changes['role'][1]}"
    elif model == "invitation":
        if entry.action == CREATE:
            what = f"invited someone as {(changes.get('role') or [None, '?'])[1]}"
        elif "revoked_at" in changes:
            what = "revoked an invitation"
        elif "used_at" in changes:
            what = "accepted an invitation"
    elif model == "endpoint":  # not its URL: every member reads this, and URLs hold tokens
        if entry.action == CREATE:
            what = "added a webhook endpoint"
        elif entry.action == DELETE:
            what = "deleted a webhook endpoint"
        elif "enabled" in changes:
            state = "on" if changes["enabled"][1] == "True" else "off"
            what = f"turned a webhook endpoint {state}"
    elif model == "connection":  # not its address: every member reads this
        name = data.get("connection") or "a gateway connection"
        if entry.action == CREATE:
            what = f"added the gateway connection {name}"
        elif entry.action == DELETE:
            what = f"deleted the gateway connection {name}"
        elif "key_end" in changes:
            what = f"replaced the key of the gateway connection {name}"
        elif changes:
            what = f"changed the gateway connection {name} ({', '.join(sorted(changes))})"
    elif model == "team":
        if entry.action == CREATE:
            what = "made the team"
        elif "gateway" in changes:
            picked = changes["gateway"][1]
            what = (
                "picked another gateway for the team's new takes"
                if picked not in (None, "None", "")
                else "sent the team's new takes through the server's own gateway"
            )
        elif changes:
            what = f"changed the team ({', '.join(sorted(changes))})"
    return Line(entry.timestamp, who, what) if what else None


def _who(entry, data):
    if entry.actor:
        return entry.actor.get_username()
    if data.get("guest"):
        return f"{data['guest']} (guest)"
    return COMMAND_LINE
