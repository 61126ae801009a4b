"""The cast page: a project's characters, locations and props, made, changed, renamed and
deleted; and their pictures, for the pages that show them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from .. import cast as casting
from ..access import cast_image_for, project_for
from ..files import serve
from ..forms import CastMemberForm
from ..models import Shot, Take
from .common import viewer_of


def _cast_url(project):
    return reverse("cast-list", args=[project.pk])


def with_posters(viewer, members):
    """`members` of the cast, each with its pictures and, side by side, the poster of every
    shot they are in (the selected take's, where it is done): where a face drifted shows
    at a glance. The cast page shows them all; a seam inspector, its shot's."""
    shots = Prefetch("shots", Shot.objects.select_related("selected_take"))
    members = list(members.prefetch_related("images", shots))
    for member in members:
        member.image_urls = [viewer.url("cast-image", i.pk) for i in member.image_list()]
        in_order = sorted(member.shots.all(), key=lambda shot: shot.position)
        member.shot_numbers = [shot.number for shot in in_order]
        member.posters = [
            {
                "number": shot.number,
                "url": viewer.url("take-file", shot.selected_take_id, "poster")
                if shot.selected_take and shot.selected_take.status == Take.Status.DONE
                else "",
            }
            for shot in in_order
        ]
    return members


@login_required
def cast_list(request, pk):
    """The cast with thumbnails, and a form to add one (POST adds)."""
    viewer = project_for(request.user, pk, "view" if request.method == "GET" else "edit")
    project = viewer.project
    form = CastMemberForm(request.POST or None, request.FILES or None, project=project)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            member = casting.save_new(form)
            messages.success(request, f"{member.name} joined the cast.")
            return redirect(_cast_url(project))
        status = 400
    members = with_posters(viewer, project.cast.all())
    context = {"project": project, "viewer": viewer, "members": members, "form": form}
    return render(request, "projects/cast.html", context, status=status)


@login_required
def cast_edit(request, pk, member_id):
    """Change a member: a new name rewrites every prompt naming them; new pictures or a new
    description make the shots they are in stale, with the reason."""
    viewer = project_for(request.user, pk, "view" if request.method == "GET" else "edit")
    project = viewer.project
    member = get_object_or_404(project.cast, pk=member_id)
    old_name = member.name
    form = CastMemberForm(
        request.POST or None, request.FILES or None, instance=member, project=project
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            member, rewritten = casting.save_changes(form, old_name, request.user)
            shown = [str(shot.number) for shot in rewritten if not shot.removed_at]
            if shown:
                numbers = ", ".join(shown)
                messages.success(
                    request,
                    f"{old_name} is now {member.name}; the prompts of shots {numbers} say so.",
                )
            else:
                messages.success(request, f"Saved {member.name}.")
            return redirect(_cast_url(project))
        status = 400
    context = {
        "project": project,
        "viewer": viewer,
        "member": member,
        "form": form,
        "image_urls": [viewer.url("cast-image", i.pk) for i in member.image_list()],
    }
    return render(request, "projects/cast_edit.html", context, status=status)


@login_required
@require_POST
def cast_delete(request, pk, member_id):
    """Delete a member; one that shots use is deleted only once asked, naming the shots."""
    viewer = project_for(request.user, pk, "edit")
    project = viewer.project
    member = get_object_or_404(project.cast, pk=member_id)
    users = casting.users(member)
    if users and request.POST.get("confirm") != "yes":
        context = {"project": project, "viewer": viewer, "member": member, "users": users}
        return render(request, "projects/cast_delete.html", context, status=409)
    casting.delete(member)
    messages.success(request, f"{member.name} left the cast.")
    return redirect(_cast_url(project))


@require_GET
def cast_image(request, pk=None, image_id=None, token=None):
    viewer = viewer_of(request, pk, token)
    image = cast_image_for(viewer, image_id)
    if not image.file:
        raise Http404
    return serve(request, image.file)
