"""What the web's views and the JSON API both do, in one place below them both: each
takes a project its caller was allowed (projects.access decided), does the thing or
says why not, and leaves answering to its caller (a page or JSON)."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from . import arrange, edits, pipeline, webhooks
from .access import creatable_teams, may_move
from .models import Comment, Mention, Project, Take, Team, Verdict
from .timeline import seam_range

NO_SHOTS = "Add a shot first."
ALL_CURRENT = "Every shot already has a current take."
ALL_FINAL = "Every shot already has a current final, or one on the way."


class Refused(Exception):
    """Nothing was done, for the reason said (a person's mistake, not a fault)."""


def teams_for_new_project(user, token=None):
    """The teams a new project of `user`'s may go to; one of their own, made now, when
    they are in no team at all."""
    teams = creatable_teams(user, token)
    if not teams.exists() and not user.memberships.exists():
        teams = Team.objects.filter(pk=Team.default_for(user).pk)
    return teams


def start_pipeline(project):
    transaction.on_commit(lambda: async_task("projects.tasks.start", project.pk))


def generate(project, user):
    """Generate: a draft of every shot lacking a current one. The takes queued (none
    when every shot has one); Refused when there is no shot."""
    if not project.shots.exists():
        raise Refused(NO_SHOTS)
    queued = pipeline.queue_takes(project, requested_by=user)
    if queued:
        start_pipeline(project)
    return queued


def make_final(project, user):
    """Make final: re-render every shot at the project's settings, with its draft's
    prompt and seed, finals chaining from finals."""
    if not project.shots.exists():
        raise Refused(NO_SHOTS)
    queued = pipeline.queue_finals(project, requested_by=user)
    if queued:
        start_pipeline(project)
    return queued


def regenerate(shot, user):
    """A new take of one shot; none while one is already on its way."""
    queued = pipeline.queue_takes(shot.project, shots=[shot], requested_by=user)
    if queued:
        start_pipeline(shot.project)
    return queued


def regenerate_from(shot, user):
    """A new take of a shot and of the rest of its chain."""
    queued = pipeline.queue_from(shot, requested_by=user)
    if queued:
        start_pipeline(shot.project)
    return queued


def cancel(project):
    """Stop what has not started; a worker asks the provider to cancel what is queued
    there (no request waits on it). The takes that were queued at the provider."""
    queued = [take.pk for take in pipeline.cancel(project)]
    if queued:
        transaction.on_commit(lambda: async_task("projects.tasks.cancel", queued))
    return queued


def select_take(take):
    """Pick a finished take for the cut: a final for the cut of finals, a draft for the
    cut of drafts. Saved through the shot, so the activity log says who picked which."""
    field = take.selection_field()
    setattr(take.shot, field, take)
    take.shot.save(update_fields=[field])
    # Picked for the cut at the shot's trim now: its bridges are prepared for that.
    transaction.on_commit(lambda: async_task("projects.tasks.prepare", [take.pk]))


def selectable(project, take_id):
    """The finished take `take_id` of one of `project`'s shots (not a removed one), or None."""
    return (
        Take.objects.select_related("shot")
        .filter(pk=take_id, shot__project=project, shot__removed_at=None, status=Take.Status.DONE)
        .first()
    )


def create_shot(project, form, at, user):
    """Save a valid NewShotForm's shot at position `at` (the rest move on)."""
    shot = form.save(commit=False)
    shot.edited_by = user
    with transaction.atomic():
        arrange.insert(project, shot, at)
        form.save_references()
    return shot


def edit_shot(project, form, user):
    """Save a valid ShotForm as one edit; edits.Conflict when someone saved it since the
    version the form was made from."""
    shot = edits.save(form, user, after_save=form.save_references)
    arrange.forget_removed(project)  # a change: a deleted shot is gone for good
    return shot


def post_comment(viewer, shot, form):
    """The comment a valid CommentForm says, on `shot`, by whoever `viewer` is; the members
    it names find it in their inbox, and the live timeline shows it."""
    take = shot.takes.filter(pk=form.cleaned_data["take"]).first()
    with transaction.atomic():
        comment = Comment.objects.create(
            shot=shot,
            take=take,
            author=viewer.user,
            guest_name=viewer.guest_name if viewer.link else "",
            link=viewer.link,
            body=form.cleaned_data["body"],
        )
        mention(comment, viewer.project)
        shot.save(update_fields=[])  # its card changed: the live timeline says so
        webhooks.comment_created(comment)
    return comment


def mention(comment, project):
    """Put the comment in the inbox of every member of the project's team it names."""
    names = comment.mentioned_names()
    if not names:
        return
    members = get_user_model().objects.filter(username__in=names, memberships__team=project.team_id)
    Mention.objects.bulk_create(
        [Mention(comment=comment, user=user) for user in members if user != comment.author]
    )


def trim(shot, first, last):
    """Set the frames of `shot`'s selected take that play in the cut, `first` to `last`
    (both kept); the success message, or Refused saying what the take allows."""
    take = shot.selected_take
    frames = take.frame_count if take else 0
    if not frames:
        raise Refused(f"Shot {shot.number} has no finished take to trim yet.")
    if not 0 <= first < last <= frames - 1:
        raise Refused(f"An in point before the out point, within frames 0-{frames - 1}.")
    shot.trim_in, shot.trim_out = first, None if last == frames - 1 else last
    shot.save(update_fields=["trim_in", "trim_out"])
    takes = [pk for pk in (shot.selected_take_id, shot.selected_final_id) if pk]
    transaction.on_commit(lambda: async_task("projects.tasks.prepare", takes))
    kept = (last - first + 1) / take.rate
    return f"Shot {shot.number} plays {kept:.2f} s in the cut."


def held_upstream(shot):
    """The take of the shot before that `shot`'s held continue waits on, or None."""
    take = (
        shot.takes.filter(status=Take.Status.WAITING)
        .exclude(held="")
        .select_related("upstream_take__shot")
        .first()
    )
    return take.upstream_take if take is not None else None


def release(project, shot, out):
    """Continue a shot the seam guard holds from frame `out` of the shot before (within
    the last SEAM_PICK_SECONDS of it); the success message, or Refused. Returns None when the shot
    is not held (the caller says so, as a word, not a refusal)."""
    upstream = held_upstream(shot)
    if upstream is None:
        return None
    first, last = seam_range(upstream)
    if out is None or not first <= out <= last:
        raise Refused(f"Pick a frame of shot {upstream.shot.number} within frames {first}-{last}.")
    pipeline.release_on(upstream, out)
    start_pipeline(project)
    return f"Shot {shot.number} continues from frame {out} of shot {upstream.shot.number}."


VERDICT_REFUSED = "Say your name, then approve or ask for changes."


def give_verdict(take, verdict, who):
    """A reviewer's verdict on a finished take, by `who` (a username or a guest's name)."""
    if verdict not in Verdict.values or not who:
        raise Refused(VERDICT_REFUSED)
    take.verdict, take.verdict_by, take.verdict_at = verdict, who, timezone.now()
    take.save(update_fields=["verdict", "verdict_by", "verdict_at"])


def pick_pair(before, shot, first, second):
    """Put a pair of takes in the cut at once: `first` of the shot `before`, `second` of
    `shot`; saved through the shots, so the activity log says who picked which take."""
    with transaction.atomic():
        for picked, take in ((before, first), (shot, second)):
            picked.selected_take = take
            picked.save(update_fields=["selected_take"])


MOVE_REFUSED = "A project moves only from a team you own to one where you make projects."


def move_project(user, project, team):
    """Move `project` to `team`, decided and written on the row as it is now (a settings
    save or another move meanwhile is neither undone nor judged by the team it had
    before); the project as moved, or Refused."""
    with transaction.atomic():
        current = Project.objects.select_for_update(of=("self",)).select_related("team")
        current = current.get(pk=project.pk)
        moved = may_move(user, current, team)
        if moved:
            current.team = team
            current.connection = None  # the old team's: the new team's default from now
            current.save(update_fields=["team", "connection"])
    if not moved:
        raise Refused(MOVE_REFUSED)
    return current
