"""URLs of projects, and the same read-only fragments again under a share link."""

from django.urls import path

from . import views
from .live.stream import project_events

# Read-only routes, reachable by a team member (under the project's id) and by anyone
# holding the share link (under its token); the views tell the two apart.
viewing = [
    ("shots/<int:shot_id>/card", views.shot_card, "shot-card"),
    ("exports/<int:export_id>/card", views.export_card, "export-card"),
    ("exports/<int:export_id>/download", views.export_download, "export-download"),
    ("takes/<int:take_id>/<str:kind>", views.take_file, "take-file"),
    ("events", project_events, "project-events"),
]

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("projects/<int:pk>/", views.project_detail, name="project-detail"),
    path("projects/<int:pk>/settings", views.project_settings, name="project-settings"),
    path("projects/<int:pk>/delete", views.project_delete, name="project-delete"),
    path("projects/<int:pk>/generate", views.project_generate, name="project-generate"),
    path("projects/<int:pk>/share", views.project_share, name="project-share"),
    path("projects/<int:pk>/storyboard.json", views.project_storyboard, name="project-storyboard"),
    path("projects/<int:pk>/shots/new", views.shot_create, name="shot-create"),
    path("projects/<int:pk>/shots/<int:shot_id>/edit", views.shot_edit, name="shot-edit"),
    path("projects/<int:pk>/shots/<int:shot_id>/delete", views.shot_delete, name="shot-delete"),
    path(
        "projects/<int:pk>/shots/<int:shot_id>/regenerate",
        views.shot_regenerate,
        name="shot-regenerate",
    ),
    path(
        "projects/<int:pk>/shots/<int:shot_id>/regenerate-from",
        views.shot_regenerate_from,
        name="shot-regenerate-from",
    ),
    path("projects/<int:pk>/cancel", views.project_cancel, name="project-cancel"),
    path("projects/<int:pk>/takes/<int:take_id>/select", views.take_select, name="take-select"),
    path("projects/<int:pk>/exports/new", views.export_create, name="export-create"),
    path("s/<str:token>/", views.shared_project, name="shared-project"),
    path("inputs/<str:token>", views.provider_input, name="provider-input"),
    path("callbacks/<str:token>", views.take_callback, name="take-callback"),
]
for route, view, name in viewing:
    urlpatterns += [
        path(f"projects/<int:pk>/{route}", view, name=name),
        path(f"s/<str:token>/{route}", view, name=f"shared-{name}"),
    ]
