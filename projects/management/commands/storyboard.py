"""`storyboard import | render | export`: the product from a shell, for scripts and CI."""

import shutil
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_q.tasks import async_task

from projects import pipeline, providers, storyboard_file
from projects.models import Export, Project, Take


class Command(BaseCommand):
    help = "Import a storyboard file, render a project's shots, export its cut."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser(
            "import", help="Create a project from a storyboard file (JSON, or a zip bundle)."
        )
        imp.add_argument("file")
        imp.add_argument("--owner", required=True, help="Username of the project's owner.")
        ren = sub.add_parser("render", help="Generate every shot that lacks a current take.")
        ren.add_argument("project_id", type=int)
        ren.add_argument(
            "--wait",
            action="store_true",
            help="Generate here and now, and exit when done (0: all succeeded).",
        )
        exp = sub.add_parser("export", help="Join the project's selected takes into one MP4.")
        exp.add_argument("project_id", type=int)
        exp.add_argument("--output", required=True)

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")(**options)

    def do_import(self, file, owner, **_):
        user = get_user_model().objects.filter(username=owner).first()
        if user is None:
            raise CommandError(f"No user named {owner!r}.")
        try:
            project = storyboard_file.load(file, user)
        except storyboard_file.StoryboardError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Imported “{project.title}” with {project.shots.count()} shots.")
        self.stdout.write(str(project.pk))

    def do_render(self, project_id, wait, **_):
        project = _project(project_id)
        queued = pipeline.queue_takes(project)
        if not wait:
            async_task("projects.tasks.start", project.pk)
            self.stdout.write(f"Queued {len(queued)} shots; a running worker generates them.")
            return
        self.stdout.write(f"Generating {len(queued)} shots of “{project.title}”.")
        try:
            with local_provider(self.stdout):
                self._drive(project)
        except providers.ProviderError as error:
            raise CommandError(str(error)) from error
        missing = [shot for shot in project.timeline() if shot.current_take is None]
        if missing:
            reasons = [f"shot {shot.number}: {_why(shot)}" for shot in missing]
            raise CommandError("Not every shot succeeded:\n  " + "\n  ".join(reasons))
        self.stdout.write(self.style.SUCCESS("Every shot has a current take."))

    def _drive(self, project):
        shown = {}

        def report(takes):
            for take in takes:
                line = f"shot {take.shot.number} take {take.number}: {take.get_status_display()}"
                if take.status == Take.Status.RUNNING:
                    line += f" {take.shown_progress():.0%}"
                if take.error:
                    line += f" ({take.error})"
                if shown.get(take.pk) != line:
                    shown[take.pk] = line
                    self.stdout.write(line)

        pipeline.run_here(project, settings.SEEDANCE_POLL_INTERVAL, report)

    def do_export(self, project_id, output, **_):
        project = _project(project_id)
        shots = project.timeline()
        missing = [str(shot.number) for shot in shots if shot.current_take is None]
        if missing:
            raise CommandError(
                f"Shot {', '.join(missing)} has no current take: run `storyboard render "
                f"{project.pk} --wait` first."
            )
        export = Export.objects.create(project=project, takes=[s.current_take.pk for s in shots])
        pipeline.export(export)
        export.refresh_from_db()
        if export.status != Export.Status.DONE:
            raise CommandError(f"The export failed: {export.error}")
        shutil.copyfile(export.file.path, output)
        how = "without re-encoding" if export.mode == "copy" else "re-encoded"
        self.stdout.write(f"Wrote {output}: {export.duration:.2f} s, {len(shots)} shots, {how}.")


def _project(project_id):
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise CommandError(f"No project with id {project_id}.")
    return project


def _why(shot):
    take = shot.latest_take
    if take is None:
        return "never generated"
    if take.error:
        return take.error
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
