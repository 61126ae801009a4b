"""Who may see or change a project: every view asks here, and only here."""

from django.core import signing
from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import Project


def project_for_member(user, pk):
    """The project, if the user is on its team; otherwise 404 (its existence is not told)."""
    if not user.is_authenticated:
        raise Http404
    return get_object_or_404(Project.objects.for_user(user), pk=pk)


def project_for_share(token):
    """The project behind a view-only share link, while sharing is on."""
    if not token:
        raise Http404
    return get_object_or_404(Project, share_token=token)


class Viewer:
    """How a page is being looked at: by a team member, or through a share link.

    Views build one and hand it to templates, which read its flags and links instead
    of deciding anything themselves.
    """

    def __init__(self, project, share_token=None):
        self.project = project
        self.share_token = share_token
        self.editable = share_token is None

    def url(self, name, *args):
        from django.urls import reverse

        if self.share_token:
            return reverse(f"shared-{name}", args=[self.share_token, *args])
        return reverse(name, args=[self.project.pk, *args])


INPUT_SALT = "projects.input"
INPUT_LIFETIME = 24 * 3600


def input_token(instance, field):
    """A signed, expiring token naming one stored input (a frame or a reference) for a
    provider to fetch, as stored (images were fitted to every provider when stored)."""
    value = {"m": instance._meta.model_name, "pk": instance.pk, "f": field}
    return signing.dumps(value, salt=INPUT_SALT, compress=True)


def input_from_token(token):
    """(model name, pk, field) of a valid, unexpired token; otherwise 404."""
    try:
        value = signing.loads(token, salt=INPUT_SALT, max_age=INPUT_LIFETIME)
    except signing.BadSignature:
        raise Http404 from None
    return value["m"], value["pk"], value["f"]


CALLBACK_SALT = "projects.callback"


def callback_token(take):
    """A signed token naming a take, for the provider's status callbacks about it."""
    return signing.dumps(take.pk, salt=CALLBACK_SALT)


def take_from_callback_token(token):
    try:
        return signing.loads(token, salt=CALLBACK_SALT)
    except signing.BadSignature:
        raise Http404 from None
