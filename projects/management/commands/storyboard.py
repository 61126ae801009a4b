"""`storyboard import | render | export`: the product from a shell, for scripts and CI."""

import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django_q.tasks import async_task

from projects import boards, costs, cut, pipeline, providers, scripts, storyboard_file
from projects.checks import refuse_development_key
from projects.management.base import DataCommand
from projects.models import Export, Kind, Membership, Project, Role, Take, Team

# render --wait gives up no sooner than this, however quick the shots are expected to be.
MIN_TIMEOUT = 3600.0


class Command(DataCommand):
    help = "Import a storyboard file, render a project's shots, export its cut."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser(
            "import",
            help="Create a project from a storyboard file (JSON, or a zip bundle), a "
            "screenplay (.fountain), a plain outline (.txt: a line per shot, a blank line "
            "between scenes) or a shot list (.csv: columns " + ", ".join(scripts.COLUMNS) + ").",
        )
        imp.add_argument("file")
        imp.add_argument(
            "--owner",
            help="Username of the project's owner; without it, an owner of --team.",
        )
        imp.add_argument(
            "--team",
            help="The team it belongs to (the owner must make projects there); "
            "without it, the owner's personal team.",
        )
        imp.add_argument(
            "--title", help="The new project's title (a script's own title, or its file name)."
        )
        ren = sub.add_parser(
            "render", help="Generate every shot that lacks a current take (a draft)."
        )
        ren.add_argument("project_id", type=int)
        ren.add_argument(
            "--final",
            action="store_true",
            help="Make final: every shot at the project's settings, with its draft's "
            "prompt and seed, finals chaining from finals.",
        )
        ren.add_argument(
            "--wait",
            action="store_true",
            help="Generate here and now, and exit when done (0: all succeeded).",
        )
        ren.add_argument(
            "--timeout",
            type=float,
            default=None,
            help="With --wait: give up after this many seconds (default: three times the "
            "expected time, and at least an hour).",
        )
        exp = sub.add_parser(
            "export",
            help="The cut as one file, its format by the output's suffix: "
            + ", ".join(f".{f}" for f in Export.Format.values)
            + "; or .csv (the shot list) or .json (the storyboard file, its pictures beside it).",
        )
        exp.add_argument("project_id", type=int)
        exp.add_argument("--output", required=True)
        exp.add_argument(
            "--seamless",
            action="store_true",
            help="Drop the frame each continue repeats from the shot before (the page's "
            "default); without it, every frame is kept.",
        )
        exp.add_argument("--normalize", action="store_true", help="Loudness to -16 LUFS.")
        joins = exp.add_mutually_exclusive_group()
        joins.add_argument(
            "--final", action="store_const", const=Kind.FINAL, dest="kind", help="Join the finals."
        )
        joins.add_argument(
            "--draft", action="store_const", const=Kind.DRAFT, dest="kind", help="Join the drafts."
        )

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")(**options)

    def do_import(self, file, owner=None, team=None, title=None, **_):
        if owner is None:
            if team is None:
                raise CommandError("Say whose project it is: --owner USER, or --team NAME.")
            membership = (
                Membership.objects.filter(team__name=team, role=Role.OWNER)
                .select_related("user")
                .order_by("id")
                .first()
            )
            if membership is None:
                raise CommandError(f"No team named {team!r} with an owner.")
            owner = membership.user.get_username()
        user = get_user_model().objects.filter(username=owner).first()
        if user is None:
            raise CommandError(f"No user named {owner!r}.")
        found = Team.default_for(user)
        if team is not None:
            found = Team.objects.filter(
                name=team, memberships__user=user, memberships__role__in=[Role.OWNER, Role.EDITOR]
            ).first()
            if found is None:
                raise CommandError(f"{owner} makes no projects in a team named {team!r}.")
        if Path(file).suffix.lower() in scripts.SUFFIXES:
            self._import_script(file, user, found, title)
            return
        try:
            project = storyboard_file.load(file, user, team=found)
        except storyboard_file.StoryboardError as error:
            raise CommandError(str(error)) from error
        if title:
            project.title = title
            project.save(update_fields=["title"])
        self.stdout.write(f"Imported “{project.title}” with {project.shots.count()} shots.")
        self.stdout.write(str(project.pk))

    def _import_script(self, file, user, team, title):
        path = Path(file)
        try:
            text = scripts.decode(path.read_bytes(), str(path))
            plan = scripts.read(text, scripts.kind_of(path.name))
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror or error}") from error
        except scripts.ScriptError as error:
            raise CommandError(f"{path}: {error}") from error
        plan.title = plan.title or path.stem
        project = scripts.new_project(plan, team, user, title)
        for warning in plan.warnings:
            self.stdout.write(f"Note: {warning}")
        for number, shot in enumerate(plan.shots, start=1):
            cast = f" [{', '.join(shot.cast)}]" if shot.cast else ""
            self.stdout.write(
                f"shot {number} ({shot.opening}, {shot.duration} s){cast}: {shot.prompt}"
            )
            for warning in shot.warnings:
                self.stdout.write(f"  warning: {warning}")
        self.stdout.write(
            f"Imported “{project.title}” from a {scripts.KINDS[plan.kind]}: {plan.summary()}."
        )
        self.stdout.write(str(project.pk))

    def do_render(self, project_id, wait, timeout, final=False, **_):
        if wait:  # this process drives the pipeline as a worker does, and refuses what it would
            try:
                refuse_development_key()
            except ImproperlyConfigured as error:
                raise CommandError(str(error)) from error
        project = _project(project_id)
        kind = Kind.FINAL if final else Kind.DRAFT
        queued = pipeline.queue_takes(project, kind=kind)
        if not wait:
            async_task("projects.tasks.start", project.pk)
            self.stdout.write(f"Queued {len(queued)} shots; a running worker generates them.")
            return
        self.stdout.write(f"Generating {len(queued)} {kind}s of “{project.title}”.")
        if timeout is None:
            timeout = max(MIN_TIMEOUT, 3 * costs.remaining_seconds(project, kind))
        try:
            with local_provider(self.stdout):
                finished = self._drive(project, time.monotonic() + timeout)
        except providers.ProviderError as error:
            raise CommandError(str(error)) from error
        if not finished:
            unfinished = [
                f"shot {take.shot.number}: {take.get_status_display()}"
                + (f" ({take.note})" if take.note else "")
                for take in Take.objects.filter(shot__project=project)
                .unfinished()
                .select_related("shot")
                .order_by("shot__position")
            ]
            raise CommandError(
                f"Gave up waiting after {timeout:.0f} s; still unfinished:\n  "
                + "\n  ".join(unfinished)
                + "\nTakes sent to the provider go on there; a running worker, or render "
                "--wait again, collects them without sending them twice."
            )
        missing = [shot for shot in project.timeline() if shot.current_of(kind) is None]
        if missing:
            reasons = [f"shot {shot.number}: {_why(shot, kind)}" for shot in missing]
            raise CommandError("Not every shot succeeded:\n  " + "\n  ".join(reasons))
        if final:
            self.stdout.write(self.style.SUCCESS("Every shot has a current final."))
        else:
            self.stdout.write(self.style.SUCCESS("Every shot has a current take."))

    def _drive(self, project, deadline):
        shown = {}

        def report(takes):
            for take in takes:
                final = "final " if take.is_final else ""
                line = f"shot {take.shot.number} {final}take {take.number}: "
                line += take.get_status_display()
                if take.status == Take.Status.RUNNING:
                    line += f" {take.shown_progress():.0%}"
                if take.error:
                    line += f" ({take.error})"
                elif take.is_held:
                    line += f" ({take.held})"
                elif take.note and take.is_unfinished:
                    line += f" ({take.note})"
                if shown.get(take.pk) != line:
                    shown[take.pk] = line
                    self.stdout.write(line)

        return pipeline.run_here(project, report, deadline)

    def do_export(self, project_id, output, seamless, normalize, kind=None, **_):
        project = _project(project_id)
        suffix = Path(output).suffix.lower().lstrip(".")
        if suffix == "csv":
            Path(output).write_text(scripts.shot_list(project), encoding="utf-8")
            count = project.shots.count()
            self.stdout.write(
                f"Wrote {output} (shot list): {count} shot{'' if count == 1 else 's'}."
            )
            return
        if suffix == "json":
            written = storyboard_file.write(project, Path(output))
            self.stdout.write(
                f"Wrote {output} (storyboard file) and the {written} picture"
                f"{'' if written == 1 else 's'} it names beside it."
            )
            return
        if suffix not in Export.Format.values:
            raise CommandError(
                f"{output}: the suffix says the format; use one of "
                + ", ".join(f".{f}" for f in [*Export.Format.values, "csv", "json"])
                + "."
            )
        shots = project.timeline()
        kind = kind or cut.kind_ready(shots)
        if suffix == Export.Format.PDF:
            # The printed storyboard needs no take: a shot not generated yet shows its stills.
            try:
                plan = boards.plan(project, kind, shots)
            except cut.NotReady as error:
                raise CommandError(str(error)) from None
        else:
            try:
                plan = cut.plan(project, kind, shots)
            except cut.NotReady as error:
                final = " --final" if kind == Kind.FINAL else ""
                raise CommandError(
                    f"{error} Run `storyboard render {project.pk} --wait{final}` first."
                ) from None
        export = Export.objects.create(
            project=project,
            takes=[entry["take"] for entry in plan if entry["take"] is not None],
            plan=plan,
            kind=kind,
            format=suffix,
            seamless=seamless or suffix == Export.Format.ZIP,
            normalize=normalize,
        )
        pipeline.export(export)
        export.refresh_from_db()
        if export.status != Export.Status.DONE:
            raise CommandError(f"The export failed: {export.error}")
        with export.file.open("rb") as stored, open(output, "wb") as out:
            shutil.copyfileobj(stored, out, 1 << 20)
        if suffix == Export.Format.PDF:
            pages = boards.pages(project, len(plan))
            pictured = len(export.takes)
            self.stdout.write(
                f"Wrote {output} ({export.get_format_display()}): {len(plan)} shots on "
                f"{pages} page{'' if pages == 1 else 's'}, {pictured} with a take's poster."
            )
            return
        how = {"copy": ", without re-encoding", "smart": ", re-encoding only at the seams"}
        self.stdout.write(
            f"Wrote {output} ({export.get_format_display()}): {export.duration:.2f} s, "
            f"{len(plan)} shots ({kind}s){how.get(export.mode, '')}."
        )
        if suffix in Export.TIMELINES:
            # It points at its clips by relative path: they go beside it, as in the bundle.
            folder = Path(output).resolve().parent
            names = pipeline.write_clips(export, folder)
            self.stdout.write(f"Wrote the {len(names)} clips it points at in {folder / 'clips'}.")


def _project(project_id):
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise CommandError(f"No project with id {project_id}.")
    return project


def _why(shot, kind=Kind.DRAFT):
    take = shot.latest_of(kind)
    if take is None:
        return "never generated"
    if take.error:
        return take.error
    if take.is_held:
        return f"{take.held} Pick another frame on its card, or regenerate the shot before."
    if take.status == Take.Status.WAITING:
        return "waits for the shot before it, which is held"
    return f"its newest take is {take.get_status_display()}"


@contextmanager
def local_provider(stdout):
    """With no provider configured, make sure the local simulator answers, starting one here."""
    if not providers.configured().simulated or _simulator_answers():
        yield
        return
    from projects.simulator import Simulator

    with Simulator(
        port=settings.SIMULATOR_PORT,
        delay=settings.SIMULATOR_DELAY,
        small=settings.SIMULATOR_SMALL,
        fps=settings.SIMULATOR_FPS,
    ) as sim:
        stdout.write(f"Started the local Seedance simulator at {sim.url}.")
        yield


def _simulator_answers():
    import httpx

    try:
        answer = httpx.get(f"{providers.simulator_url()}/_simulator/stats", timeout=1)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200
