"""URLs of teams and projects, and the same read-only pages again under a link's token."""

from django.urls import path

from .live.stream import project_events
from .views import (
    arrange,
    cast,
    comments,
    files,
    projects,
    scripts,
    seams,
    sharing,
    shots,
    teams,
    tokens,
)

# Reachable by a team member (under the project's id) and by a link's holder (under its
# token); projects.access tells them apart and says what each may do.
viewing = [
    ("shots/<int:shot_id>/card", files.shot_card, "shot-card"),
    ("shots/<int:shot_id>/comments", comments.comment_create, "comment-create"),
    ("takes/<int:take_id>/verdict", comments.take_verdict, "take-verdict"),
    ("exports/", files.export_list, "export-list"),
    ("exports/<int:export_id>/card", files.export_card, "export-card"),
    ("exports/<int:export_id>/download", files.export_download, "export-download"),
    ("takes/<int:take_id>/<str:kind>", files.take_file, "take-file"),
    ("events", project_events, "project-events"),
    ("cast/images/<int:image_id>", cast.cast_image, "cast-image"),
]

P = "projects/<int:pk>"
urlpatterns = [
    path("", projects.project_list, name="project-list"),
    path("mentions/<int:mention_id>", projects.mention, name="mention"),
    path(f"{P}/", projects.project_detail, name="project-detail"),
    path(f"{P}/settings", projects.project_settings, name="project-settings"),
    path(f"{P}/move", projects.project_move, name="project-move"),
    path(f"{P}/delete", projects.project_delete, name="project-delete"),
    path(f"{P}/storyboard.json", projects.project_storyboard, name="project-storyboard"),
    path(f"{P}/cast/", cast.cast_list, name="cast-list"),
    path(f"{P}/import", scripts.script_import, name="script-import"),
    path(
        f"{P}/import/breakdowns/<int:breakdown_id>",
        scripts.script_breakdown,
        name="script-breakdown",
    ),
    path(f"{P}/shots.csv", scripts.shot_list, name="shot-list-csv"),
    path(f"{P}/cast/<int:member_id>/edit", cast.cast_edit, name="cast-edit"),
    path(f"{P}/cast/<int:member_id>/delete", cast.cast_delete, name="cast-delete"),
    path(f"{P}/generate", shots.project_generate, name="project-generate"),
    path(f"{P}/cancel", shots.project_cancel, name="project-cancel"),
    path(f"{P}/final", shots.project_make_final, name="project-final"),
    path(f"{P}/shots/new", shots.shot_create, name="shot-create"),
    path(f"{P}/shots/<int:shot_id>/edit", shots.shot_edit, name="shot-edit"),
    path(f"{P}/shots/<int:shot_id>/delete", shots.shot_delete, name="shot-delete"),
    path(f"{P}/shots/<int:shot_id>/regenerate", shots.shot_regenerate, name="shot-regenerate"),
    path(
        f"{P}/shots/<int:shot_id>/regenerate-from",
        shots.shot_regenerate_from,
        name="shot-regenerate-from",
    ),
    path(f"{P}/shots/<int:shot_id>/trim", shots.shot_trim, name="shot-trim"),
    path(f"{P}/shots/order", arrange.shot_order, name="shot-order"),
    path(f"{P}/shots/undo", arrange.shot_undo, name="shot-undo"),
    path(f"{P}/shots/<int:shot_id>/move", arrange.shot_move, name="shot-move"),
    path(f"{P}/shots/<int:shot_id>/duplicate", arrange.shot_duplicate, name="shot-duplicate"),
    path(f"{P}/shots/<int:shot_id>/seam", seams.shot_seam, name="shot-seam"),
    path(f"{P}/shots/<int:shot_id>/seam/pick", seams.seam_pick, name="seam-pick"),
    path(f"{P}/variant", arrange.project_variant, name="project-variant"),
    path(f"{P}/shots/<int:shot_id>/release", shots.shot_release, name="shot-release"),
    path(f"{P}/takes/<int:take_id>/select", shots.take_select, name="take-select"),
    path(f"{P}/takes/<int:take_id>/send-again", shots.take_send_again, name="take-send-again"),
    path(f"{P}/exports/new", shots.export_create, name="export-create"),
    path(f"{P}/links/new", sharing.link_create, name="link-create"),
    path(f"{P}/links/<int:link_id>/revoke", sharing.link_revoke, name="link-revoke"),
    path(f"{P}/links/<int:link_id>/details", sharing.link_details, name="link-details"),
    path("s/<str:token>/", sharing.shared_project, name="shared-project"),
    path("s/<str:token>/name", sharing.guest_name, name="shared-guest-name"),
    path("teams/", teams.team_list, name="team-list"),
    path("teams/<int:pk>/", teams.team_detail, name="team-detail"),
    path("teams/<int:pk>/leave", teams.team_leave, name="team-leave"),
    path("teams/<int:pk>/invitations/new", teams.invitation_create, name="invitation-create"),
    path(
        "teams/<int:pk>/invitations/<int:invitation_id>/revoke",
        teams.invitation_revoke,
        name="invitation-revoke",
    ),
    path("teams/<int:pk>/members/<int:user_id>/role", teams.member_role, name="member-role"),
    path("teams/<int:pk>/members/<int:user_id>/remove", teams.member_remove, name="member-remove"),
    path("invitations/<str:token>", teams.invitation, name="invitation"),
    path(
        "invitations/<int:invitation_id>/answer",
        teams.invitation_answer,
        name="invitation-answer",
    ),
    path("accounts/tokens/", tokens.token_list, name="token-list"),
    path("accounts/tokens/<int:token_id>/revoke", tokens.token_revoke, name="token-revoke"),
    path("inputs/<str:token>", files.provider_input, name="provider-input"),
    path("callbacks/<str:token>", files.take_callback, name="take-callback"),
]
for route, view, name in viewing:
    urlpatterns += [
        path(f"{P}/{route}", view, name=name),
        path(f"s/<str:token>/{route}", view, name=f"shared-{name}"),
    ]
