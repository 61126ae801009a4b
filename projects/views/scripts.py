"""Script to shots: a screenplay, outline or shot list previewed, then made into shots; and
the project's shot list as CSV."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET
from django_q.tasks import async_task

from .. import scripts
from ..access import project_for
from ..forms import ScriptForm
from ..models import Breakdown


@login_required
def script_import(request, pk):
    """GET: the form. POST: the preview of what the script would make (nothing written),
    or, confirmed, the shots and cast made, appended, in one transaction."""
    viewer = project_for(request.user, pk, "edit")
    project = viewer.project
    form = ScriptForm(
        request.POST or None,
        request.FILES or None,
        project=project,
        break_down="breakdown" in request.POST,
    )
    status = 200
    if request.method == "POST":
        if form.is_valid() and form.break_down:
            # A worker asks the chat model; this page waits on the breakdown, not on it.
            breakdown = Breakdown.objects.create(
                project=project,
                created_by=request.user,
                script=form.cleaned_data["text"],
                split=bool(form.cleaned_data.get("split")),
            )
            try:
                async_task("projects.tasks.break_down", breakdown.pk)
            except Exception as error:  # the broker refused it: said, not a 500
                breakdown.delete()
                form.add_error(None, f"The breakdown could not be queued ({error}).")
            else:
                return redirect("script-breakdown", project.pk, breakdown.pk)
        elif form.is_valid():
            plan = form.cleaned_data["plan"]
            if "confirm" in request.POST:
                shots = scripts.create(plan, project, by=request.user)
                messages.success(
                    request,
                    f"Imported {plan.summary()}; the shots start at shot {shots[0].position + 1}.",
                )
                return redirect(project)
            return _preview(request, viewer, form.cleaned_data["text"], plan,
                            form.cleaned_data.get("split"))  # fmt: skip
        status = 400
    context = {"project": project, "viewer": viewer, "form": form, "ai": scripts.ai_enabled()}
    return render(request, "projects/script_import.html", context, status=status)


def _preview(request, viewer, text, plan, split):
    """The preview: the same script carried back, pasted, for the confirmation."""
    project = viewer.project
    confirm = ScriptForm(initial={"text": text, "kind": plan.kind, "split": split}, project=project)
    context = {
        "project": project,
        "viewer": viewer,
        "form": confirm,
        "plan": plan,
        "appending": project.shots.count(),
    }
    return render(request, "projects/script_preview.html", context)


@login_required
@require_GET
def script_breakdown(request, pk, breakdown_id):
    """A breakdown by the chat model: while a worker waits on the gateway, a page that
    looks again every two seconds; then its preview, or why there is none."""
    viewer = project_for(request.user, pk, "edit")
    breakdown = get_object_or_404(viewer.project.breakdowns, pk=breakdown_id)
    if breakdown.status == Breakdown.Status.DONE:
        plan = scripts.read(breakdown.answer, scripts.BREAKDOWN, viewer.project, breakdown.split)
        return _preview(request, viewer, breakdown.answer, plan, breakdown.split)
    if breakdown.status == Breakdown.Status.FAILED:
        messages.error(request, f"The chat model gave no breakdown: {breakdown.error}")
        return redirect("script-import", viewer.project.pk)
    context = {"project": viewer.project, "viewer": viewer, "breakdown": breakdown}
    return render(request, "projects/script_breakdown.html", context)


@login_required
@require_GET
def shot_list(request, pk):
    """The shot list as CSV (the columns the import reads back)."""
    project = project_for(request.user, pk).project
    response = HttpResponse(scripts.shot_list(project), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{project.pk}-shots.csv"'
    return response
