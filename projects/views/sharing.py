"""Links that open a project to outsiders: made, revoked, and the pages they open."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from ..access import project_for
from ..models import Link
from ..timeline import present
from .common import GUEST_NAME, viewer_of

EXPIRIES = {"": None, "1": timedelta(days=1), "7": timedelta(days=7), "30": timedelta(days=30)}


@login_required
@require_POST
def link_create(request, pk):
    viewer = project_for(request.user, pk, "share")
    kind = request.POST.get("kind", Link.Kind.VIEW)
    expiry = request.POST.get("expires", "")
    if kind not in Link.Kind.values or expiry not in EXPIRIES:
        messages.error(request, "Choose a kind of link and how long it works.")
        return redirect("project-settings", pk=pk)
    lifetime = EXPIRIES[expiry]
    Link.make(
        viewer.project,
        kind,
        created_by=request.user,
        expires_at=timezone.now() + lifetime if lifetime else None,
        shows_details="details" in request.POST,
    )
    messages.success(request, f"A new {Link.Kind(kind).label} link is ready to copy below.")
    return redirect(f"{reverse('project-settings', args=[pk])}#links")


@login_required
@require_POST
def link_revoke(request, pk, link_id):
    viewer = project_for(request.user, pk, "share")
    link = get_object_or_404(viewer.project.links, pk=link_id)
    link.revoke()
    messages.success(request, f"The {link.get_kind_display()} link no longer works.")
    return redirect(f"{reverse('project-settings', args=[pk])}#links")


@login_required
@require_POST
def link_details(request, pk, link_id):
    """Show a link's holders the costs and technical details of the takes, or hide them."""
    viewer = project_for(request.user, pk, "share")
    link = get_object_or_404(viewer.project.links.live(), pk=link_id)
    link.shows_details = "details" in request.POST
    link.save(update_fields=["shows_details"])
    shown = "now shows" if link.shows_details else "no longer shows"
    messages.success(request, f"The {link.get_kind_display()} link {shown} costs and details.")
    return redirect(f"{reverse('project-settings', args=[pk])}#links")


@require_GET
def shared_project(request, token):
    """What a link opens: the timeline, read-only; with a review link, comments and
    verdicts too, once its holder has said their name."""
    viewer = viewer_of(request, token=token)
    context = present(viewer, exports_page=request.GET.get("exports") or 1)
    context["guest_name"] = viewer.guest_name
    return render(request, "projects/shared.html", context)


class GuestNameForm(forms.Form):
    name = forms.CharField(max_length=80, strip=True, label="Your name")


@require_POST
def guest_name(request, token):
    """A review link's holder says who they are; their comments and verdicts carry it."""
    viewer = viewer_of(request, token=token, action="review")
    form = GuestNameForm(request.POST)
    if form.is_valid():
        request.session[GUEST_NAME] = form.cleaned_data["name"]
    else:
        messages.error(request, "Give a name, so the team knows who reviewed.")
    return redirect(viewer.page_url())
