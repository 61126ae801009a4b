"""The cast: a project's characters, locations and props, listed, made, changed and
deleted as the cast page does it (the same form, the same checks of pictures and voices,
renames rewriting the prompts that name them), and their pictures and voices.

Making and changing take a form (multipart/form-data), as pictures are files: `images`
(one to four, PNG or JPEG; sent again, they replace the old) and a character's `voice`.
"""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import File, Form, Router, Schema, Status, UploadedFile

from .. import cast as casting
from ..access import cast_image_for
from ..files import serve
from ..forms import CastMemberForm
from ..models import CastMember
from .common import ApiError, Id, answers, form_invalid, paginated, viewer

router = Router(tags=["cast"])

FILE = {
    200: {
        "description": "The file",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class MemberOut(Schema):
    id: int
    name: str
    kind: str
    description: str
    # Addresses of its pictures, in order, and of a character's voice clip.
    images: list[str]
    voice: str | None
    # The numbers of the shots it is in, in order.
    shots: list[int]

    @staticmethod
    def resolve_images(member, context):
        address = context["request"].build_absolute_uri
        return [
            address(reverse("api-v1:cast-image", args=[member.project_id, member.pk, image.pk]))
            for image in member.image_list()
        ]

    @staticmethod
    def resolve_voice(member, context):
        if not member.voice:
            return None
        path = reverse("api-v1:cast-voice", args=[member.project_id, member.pk])
        return context["request"].build_absolute_uri(path)

    @staticmethod
    def resolve_shots(member):
        in_order = sorted(
            (shot for shot in member.shots.all() if shot.removed_at is None),
            key=lambda shot: shot.position,
        )
        return [shot.number for shot in in_order]


def _members(project):
    return project.cast.prefetch_related("images", "shots").order_by("name", "pk")


def _member(project, member_id):
    return get_object_or_404(_members(project), pk=member_id)


@router.get("/{int:project_id}/cast", response=answers(list[MemberOut]), url_name="cast")
@paginated
def cast_list(request, project_id: Id):
    """The cast, by name."""
    return _members(viewer(request, project_id).project)


@router.post("/{int:project_id}/cast", response=answers(MemberOut, 201), url_name="cast")
def cast_create(
    request,
    project_id: Id,
    # Optional here, so that who may add one is decided first: the form says it is required.
    name: Form[str] = "",
    kind: Form[str] = CastMember.Kind.CHARACTER,
    description: Form[str] = "",
    images: File[list[UploadedFile]] = None,
    voice: File[UploadedFile] = None,
):
    """Add a member: a `name` shots say as @name, a `kind` (character, location, prop), a
    `description`, one to four `images`, and for a character a `voice` clip. Shots whose
    prompts already name them take them in."""
    project = viewer(request, project_id, "edit").project
    data = {"name": name, "kind": kind, "description": description}
    form = CastMemberForm(data, request.FILES, project=project)
    if not form.is_valid():
        raise form_invalid(form)
    member = casting.save_new(form)
    return Status(201, _member(project, member.pk))


@router.get(
    "/{int:project_id}/cast/{int:member_id}", response=answers(MemberOut), url_name="cast-member"
)
def cast_detail(request, project_id: Id, member_id: Id):
    return _member(viewer(request, project_id).project, member_id)


@router.patch(
    "/{int:project_id}/cast/{int:member_id}", response=answers(MemberOut), url_name="cast-member"
)
def cast_update(
    request,
    project_id: Id,
    member_id: Id,
    name: Form[str | None] = None,
    kind: Form[str | None] = None,
    description: Form[str | None] = None,
    remove_voice: Form[bool] = False,
    images: File[list[UploadedFile]] = None,
    voice: File[UploadedFile] = None,
):
    """Change what is sent, leaving the rest: a new `name` rewrites every prompt naming
    them; new `images` (replacing the old) or a new `description` make their shots stale."""
    project = viewer(request, project_id, "edit").project
    member = _member(project, member_id)
    old_name = member.name  # the form's checks write the new one on the member
    data = {
        "name": member.name if name is None else name,
        "kind": member.kind if kind is None else kind,
        "description": member.description if description is None else description,
    }
    if remove_voice:
        data["remove_voice"] = "on"
    form = CastMemberForm(data, request.FILES, instance=member, project=project)
    if not form.is_valid():
        raise form_invalid(form)
    casting.save_changes(form, old_name, request.user)
    return _member(project, member_id)


@router.delete(
    "/{int:project_id}/cast/{int:member_id}",
    response=answers(None, 204),
    url_name="cast-member",
)
def cast_delete(request, project_id: Id, member_id: Id, confirm: bool = False):
    """Delete a member. One that shots have in them is deleted only with `confirm=true`
    (409 naming the shots, else): those shots lose their pictures, and prompts that say
    @name name nobody."""
    project = viewer(request, project_id, "edit").project
    member = _member(project, member_id)
    numbers = MemberOut.resolve_shots(member)
    if numbers and not confirm:
        shots = ", ".join(str(n) for n in numbers)
        raise ApiError(
            409,
            "in_use",
            f"{member.name} is in shot{'' if len(numbers) == 1 else 's'} {shots}. Those shots "
            f"lose their pictures; prompts that say @{member.name} will name nobody. "
            "Delete with confirm=true to delete them anyway.",
        )
    casting.delete(member)
    return Status(204, None)


@router.get(
    "/{int:project_id}/cast/{int:member_id}/images/{int:image_id}",
    url_name="cast-image",
    openapi_extra={"responses": FILE},
)
def cast_image(request, project_id: Id, member_id: Id, image_id: Id):
    """One of a member's pictures, as stored (fitted to every provider's limits)."""
    image = cast_image_for(viewer(request, project_id), image_id)
    if image.member_id != member_id or not image.file:
        raise ApiError(404, "not_found", "Not found.")
    return serve(request, image.file)


@router.get(
    "/{int:project_id}/cast/{int:member_id}/voice",
    url_name="cast-voice",
    openapi_extra={"responses": FILE},
)
def cast_voice(request, project_id: Id, member_id: Id):
    """A character's voice clip."""
    member = get_object_or_404(viewer(request, project_id).project.cast, pk=member_id)
    if not member.voice:
        raise ApiError(404, "not_found", "Not found.")
    return serve(request, member.voice)
