"""Who may see or change a project: every view asks here, and only here."""

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
