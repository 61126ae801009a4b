"""Script to shots: a screenplay, outline or shot list previewed, then made into shots; and
the project's shot list as CSV."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from .. import scripts
from ..access import project_for
from ..forms import ScriptForm
from ..providers import chat


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
        if form.is_valid():
            plan = form.cleaned_data["plan"]
            if "confirm" in request.POST:
                shots = scripts.create(plan, project, by=request.user)
                messages.success(
                    request,
                    f"Imported {plan.summary()}; the shots start at shot {shots[0].position + 1}.",
                )
                return redirect(project)
            # The preview: the same script carried back, pasted, for the confirmation.
            confirm = ScriptForm(
                initial={"text": form.cleaned_data["text"], "kind": plan.kind,
                         "split": form.cleaned_data.get("split")},
                project=project,
            )  # fmt: skip
            context = {
                "project": project,
                "viewer": viewer,
                "form": confirm,
                "plan": plan,
                "appending": project.shots.count(),
            }
            return render(request, "projects/script_preview.html", context)
        status = 400
    context = {"project": project, "viewer": viewer, "form": form, "ai": chat.enabled()}
    return render(request, "projects/script_import.html", context, status=status)


@login_required
@require_GET
def shot_list(request, pk):
    """The shot list as CSV (the columns the import reads back)."""
    project = project_for(request.user, pk).project
    response = HttpResponse(scripts.shot_list(project), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{project.pk}-shots.csv"'
    return response
