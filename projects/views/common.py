"""What the views share: who is asking, answering htmx or not."""

from django.shortcuts import redirect, render

from ..access import project_for, project_for_link
from ..timeline import TIMELINE, present

# A review link's holder is known by the name they gave, kept in their session.
GUEST_NAME = "storyboard-guest-name"


def viewer_of(request, pk=None, token=None, action="view"):
    """Who asks about a project: a member (by `pk`) or a link's holder (by `token`)."""
    if token is not None:
        return project_for_link(token, action, guest_name=request.session.get(GUEST_NAME, ""))
    return project_for(request.user, pk, action)


def timeline_or_redirect(request, viewer):
    """After an action: the new timeline for htmx, else the project's page."""
    if request.htmx:
        return render(request, f"{TIMELINE}#timeline", present(viewer))
    return redirect(viewer.page_url())
