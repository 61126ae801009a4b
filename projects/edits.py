"""Saving a person's edit of a shot or a project without overwriting someone else's.

Each edit carries the version it was made from. When someone saved another version
meanwhile, the edit is refused, saying who changed what (read from the activity log),
and the editor decides again with both in view. Nothing is silently overwritten.
"""

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.forms.models import construct_instance


class Conflict(Exception):
    """Someone saved the object since the editor loaded it."""

    def __init__(self, who, changes):
        self.who = who
        self.changes = changes  # [(field, before, after)]
        listed = "; ".join(f"{field}: “{before}” → “{after}”" for field, before, after in changes)
        super().__init__(
            f"Changed by {who} a moment ago ({listed or 'nothing you can see'}). Your changes "
            "were not saved: they are still in the form, to save again over theirs."
        )


def save(form, user, after_save=None):
    """Save a bound, valid ModelForm (with a `version` field) as one edit by `user`.

    Raises Conflict, saving nothing, when the object moved past the form's version;
    the form then holds the current version, so saving again means saving over it.

    Only the fields the form owns are written, onto the row as it is now (locked): what
    others wrote meanwhile without a version (a take picked by a worker, a trim, a new
    order, a move to another team) stays as they left it.
    """
    meta = form._meta
    with transaction.atomic():
        current = meta.model.objects.select_for_update().get(pk=form.instance.pk)
        loaded = form.cleaned_data["version"]
        if current.version != loaded:
            form.data = form.data.copy()
            form.data["version"] = current.version
            raise Conflict(*changes_since(current, loaded))
        construct_instance(form, current, meta.fields, meta.exclude)
        current.version += 1
        current.edited_by = user if user.is_authenticated else None
        current.save(update_fields=[*owned(form), "version", "edited_by"])
        form.instance = current
        if after_save is not None:
            after_save()
    return current


def owned(form):
    """The model fields a ModelForm edits."""
    meta = form._meta
    return [
        field.name
        for field in meta.model._meta.concrete_fields
        if field.editable
        and field.name in form.fields
        and (meta.fields is None or field.name in meta.fields)
        and not (meta.exclude and field.name in meta.exclude)
    ]


def changes_since(obj, version):
    """Who changed `obj` after `version`, and what: from the activity log's entries."""
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_pk=str(obj.pk)
    ).order_by("timestamp")
    changes, who = {}, None
    for entry in entries:
        moved = entry.changes_dict.get("version")
        if not moved or int(moved[1]) <= version:
            continue
        who = entry.actor
        for field, (before, after) in entry.changes_dict.items():
            if field != "version":
                changes.setdefault(field, [before, after])[1] = after
    name = who.get_username() if who is not None else (getattr(obj.edited_by, "username", None))
    labels = {f.name: f.verbose_name for f in obj._meta.fields}
    return name or "someone", [
        (labels.get(field, field), before, after) for field, (before, after) in changes.items()
    ]
