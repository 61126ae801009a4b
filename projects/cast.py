"""The cast in prompts: who a prompt names (`@Mara`), renaming them everywhere, and the
words a cast reaches the gateway with.

A cut sends its cast's images as references and names them the way the gateways' documents
ask ("image 1", "image 2", in order), each description after its name; a shot that starts
on a frame (a continue, or a cut with a first frame) cannot mix in references (the image
modes are exclusive), so its cast goes by description alone.
"""

from django.db import transaction
from django.db.models.functions import Lower

from .models import CastMember, Shot

# Who a prompt names is the models' to know (a shot's inputs name its cast in order).
from .models.cast import MENTION, mentioned_order, mentions, rewrite


def named_in(project, prompt):
    """The project's cast members the prompt names, in its order."""
    names = [name.lower() for name in mentions(prompt)]
    if not names:
        return []
    found = CastMember.objects.annotate(low=Lower("name")).filter(project=project, low__in=names)
    return mentioned_order(prompt, list(found))


def unknown(prompt, members):
    """The names a prompt mentions that no one of `members` answers to."""
    known = {member.name.lower() for member in members}
    return [name for name in mentions(prompt) if name.lower() not in known]


def set_cast(shot, picked=()):
    """Put in the shot those its prompt names and those picked beside it."""
    members = {m.pk: m for m in [*named_in(shot.project, shot.prompt), *picked]}
    shot.cast.set(members.values())


def plain(prompt):
    """The prompt as the gateway reads it: `@Mara` becomes Mara."""
    return MENTION.sub(lambda match: match.group(1), prompt)


def prompt_with(prompt, members, numbers=None):
    """The prompt sent: a line per cast member before the shot's own words, its images by
    number ("image 1") where `numbers` ({member pk: [1, 2]}) says it was sent any, and its
    description after its name."""
    lines = []
    for member in members:
        shown = (numbers or {}).get(member.pk) or []
        name = member.name
        if shown:
            name += " (" + ", ".join(f"image {n}" for n in shown) + ")"
        description = member.description.strip()
        if description:
            lines.append(f"{name}: {description.rstrip('.')}.")
        elif shown:
            lines.append(f"{name}.")
    text = plain(prompt)
    return "\n".join([*lines, text]) if lines else text


@transaction.atomic
def rename(member, new, by=None):
    """Rename a cast member, and every prompt of the project naming them with them."""
    old = member.name
    member.name = new
    member.save()
    if old == new:
        return []
    changed = []
    # Removed shots too: an undo puts back a prompt that still names them.
    for shot in Shot.everywhere.filter(project=member.project_id).select_for_update():
        prompt = rewrite(shot.prompt, old, new)
        if prompt != shot.prompt:
            shot.prompt = prompt
            shot.edited_by = by
            shot.version += 1
            shot.save(update_fields=["prompt", "edited_by", "version"])
            changed.append(shot)
    link_mentions(member)
    return changed


def link_mentions(member):
    """Put the member in every shot whose prompt names them: one named before they joined
    the cast, or by the name a rename gave them. Every member a prompt names is then in
    its shot, so a name that is not names no one. Removed shots too: an undo puts them
    back naming them."""
    name = member.name.lower()
    found = Shot.everywhere.filter(project=member.project_id, prompt__icontains=f"@{name}")
    named = [shot for shot in found if name in {n.lower() for n in mentions(shot.prompt)}]
    if named:
        member.shots.add(*named)
        # Stamped, so the live timeline shows their new chips (and their staleness).
        Shot.everywhere.filter(pk__in=[shot.pk for shot in named]).update()
    return named


def users(member):
    """The shots in the project that have `member` in them, in order."""
    return list(member.shots.filter(removed_at__isnull=True).order_by("position", "id"))


def changed_look(member):
    """Say that the member's shots changed, so the live timeline shows them stale."""
    Shot.objects.filter(cast=member).update()


# Saving what a CastMemberForm says, for the web and the API alike.


def save_new(form):
    """A new member from a valid CastMemberForm, in every shot whose prompt names them."""
    with transaction.atomic():
        member = form.save()
        form.save_images()
        link_mentions(member)
    return member


def save_changes(form, old_name, by):
    """Save a valid CastMemberForm of a member called `old_name`: a new name rewrites every
    prompt naming them, new pictures or a new description make their shots stale.
    (member, the shots whose prompts were rewritten)."""
    with transaction.atomic():
        new_name = form.cleaned_data["name"]
        member = form.save(commit=False)
        member.name = old_name
        member.save()
        form.save_images()
        rewritten = rename(member, new_name, by=by)
        if form.look_changed:
            changed_look(member)
    return member, rewritten


def delete(member):
    with transaction.atomic():
        changed_look(member)
        member.delete()
