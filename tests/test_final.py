"""Draft, then final: Generate drafts cheaply; Make final re-renders every shot at the
project's settings with the same prompts and seeds, finals chaining from finals. Over
real HTTP to the simulator, checked on what it received and on decoded frames."""

import base64
import io

import av
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from projects import costs, cut, media, pipeline, providers
from projects.files import local_copy
from projects.models import Export, Kind, Opening, Take
from projects.providers.ark import ArkStyle
from projects.providers.dieyuyun import DieyuyunStyle
from projects.providers.openai_videos import OpenAIVideosStyle
from projects.providers.wisgate import WisgateStyle
from projects.simulator import Simulator
from tests.factories import make_project, make_take
from tests.test_pipeline import mean_difference

pytestmark = pytest.mark.django_db

STANDARD = "doubao-seedance-2-0-260128"
FAST = "doubao-seedance-2-0-fast-260128"
FINAL_SETTINGS = {"model": STANDARD, "resolution": "720p", "generate_audio": True}
MAGENTA = (255, 0, 255)


def creates(simulator):
    return [r["json"] for r in simulator.requests if r["method"] == "POST"]


def first_frame_sent(body):
    (item,) = [i for i in body["content"] if i.get("role") == "first_frame"]
    return base64.b64decode(item["image_url"]["url"].split(",", 1)[1])


def has_audio(path):
    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def drafted(user, **settings):
    """A two-shot chain at the final settings above, its drafts generated."""
    project = make_project(
        user,
        shots=[
            ("A lighthouse at dusk", Opening.CUT),
            ("The beam sweeps the sea", Opening.CONTINUE),
        ],
        **{**FINAL_SETTINGS, **settings},
    )
    pipeline.queue_takes(project)
    assert pipeline.run_here(project)
    return project


def test_a_draft_is_the_cheapest_clip_each_style_makes():
    final = {"model": STANDARD, "resolution": "1080p", "ratio": "16:9", "generate_audio": True}
    assert ArkStyle.draft_settings({**final, "watermark": True}) == {
        "model": FAST,
        "resolution": "480p",
        "ratio": "16:9",
        "generate_audio": False,
        "watermark": True,  # costs nothing: the project's choice stands
    }
    # BytePlus names its models dreamina: the fast sibling is of the same family.
    dreamina = {**final, "model": "dreamina-seedance-2-0-260128"}
    assert ArkStyle.draft_settings(dreamina)["model"] == "dreamina-seedance-2-0-fast-260128"
    assert OpenAIVideosStyle.draft_settings(final)["model"] == FAST
    # One model only: the draft uses it, at the lowest size the gateway makes at the ratio.
    wisgate = WisgateStyle.draft_settings({**final, "model": "doubao-seedance-2"})
    assert (wisgate["model"], wisgate["resolution"]) == ("doubao-seedance-2", "720p")
    portrait = DieyuyunStyle.draft_settings(
        {**final, "model": "doubao-seedance-2-0", "ratio": "9:16"}
    )
    assert (portrait["resolution"], portrait["generate_audio"]) == ("720p", False)


def test_the_fast_model_follows_the_configured_gateway(settings):
    settings.SEEDANCE_API_STYLE = "wisgate"
    final = {"model": "doubao-seedance-2", "resolution": "1080p", "ratio": "16:9"}
    assert providers.draft_settings({**final, "generate_audio": False, "watermark": False})[
        "model"
    ] == ("doubao-seedance-2")


def test_takes_made_before_drafts_existed_stay_current_drafts(user):
    """Such a take was made at the project's settings and has the default kind: it is
    still the shot's current draft, not a final, and Generate leaves it alone."""
    project = make_project(
        user, shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)], **FINAL_SETTINGS
    )
    first, second = project.timeline()
    old = make_take(first)  # inputs: the project's settings, as every take had
    make_take(second, upstream=old)
    assert old.kind == Kind.DRAFT and old.inputs["resolution"] == "720p"
    first, second = project.timeline()
    assert (first.current_take, second.current_take is not None) == (old, True)
    assert first.current_final is None and not first.final_stale
    assert pipeline.queue_takes(project) == []
    # A final recorded at the draft settings is not a current final.
    wrong = make_take(first, select=False, kind=Kind.FINAL, inputs=first.inputs(Kind.DRAFT))
    wrong.select()
    first = project.timeline()[0]
    assert first.selected_final == wrong and first.final_stale and first.current_final is None
    assert first.current_take == old  # picking a final leaves the draft in its cut


@pytest.mark.full_clips
@pytest.mark.timeout(300)
def test_drafts_then_finals_at_the_final_settings_chaining_from_finals(simulator, user, settings):
    settings.SEEDANCE_PRICES = {FAST: 10.0, STANDARD: 40.0}
    project = drafted(user)
    drafts = [shot.selected_take for shot in project.timeline()]

    # Drafts: the fast model at 480p without audio, whatever the project's settings say.
    sent = creates(simulator)
    assert [(b["model"], b["resolution"], b["generate_audio"]) for b in sent] == [
        (FAST, "480p", False)
    ] * 2
    assert all(t.kind == Kind.DRAFT and t.status == Take.Status.DONE for t in drafts)
    assert drafts[0].inputs["resolution"] == "480p" and drafts[0].inputs["model"] == FAST
    assert (media.probe(drafts[0].video.path).width, has_audio(drafts[0].video.path)) == (
        864,
        False,
    )

    # Before anyone commits: what the finals will cost, at 720p on the standard model.
    shots = project.timeline()
    estimate = costs.estimate(project, shots)
    per_final = costs.tokens_for("720p", "16:9", 4)
    assert (estimate.shots, estimate.final.shots) == (0, 2)
    assert estimate.final.tokens == 2 * per_final
    assert estimate.final.price == pytest.approx(2 * per_final * 40 / 1e6)
    assert estimate.final.seconds > 0

    # A draft that looks nothing like its final would: if a final continue started on
    # the draft before it, its first frame would be magenta.
    magenta = io.BytesIO()
    Image.new("RGB", (864, 496), MAGENTA).save(magenta, "PNG")
    drafts[0].last_frame.save("last-frame.png", ContentFile(magenta.getvalue()))

    finals = pipeline.queue_finals(project)
    assert [t.seed for t in finals] == [t.seed for t in drafts]  # drawn for the drafts
    assert pipeline.run_here(project)
    shots = project.timeline()
    finals = [shot.selected_final for shot in shots]

    sent = creates(simulator)[2:]
    assert [(b["model"], b["resolution"], b["generate_audio"]) for b in sent] == [
        (STANDARD, "720p", True)
    ] * 2
    prompts = [next(i["text"] for i in b["content"] if i["type"] == "text") for b in sent]
    assert prompts == ["A lighthouse at dusk", "The beam sweeps the sea"]
    assert [b["seed"] for b in sent] == [t.seed for t in drafts]
    assert [t.inputs["prompt"] for t in finals] == [t.inputs["prompt"] for t in drafts]
    assert all(t.kind == Kind.FINAL and t.status == Take.Status.DONE for t in finals)
    # The drafts stay in the cut of drafts; the finals are a cut of their own.
    assert [shot.selected_take_id for shot in shots] == [t.pk for t in drafts]
    assert [shot.current_final for shot in shots] == finals

    # Finals chain from finals: on the wire, and in the decoded frames.
    assert finals[1].upstream_take == finals[0]
    with finals[0].last_frame.open("rb") as f:
        assert first_frame_sent(sent[1]) == f.read()
    info = media.probe(finals[1].video.path)
    assert (info.width, info.height) == (1280, 720)
    assert has_audio(finals[1].video.path)
    first = media.first_frame(finals[1].video.path)
    assert mean_difference(first, media.last_frame(finals[0].video.path)) < 6
    assert mean_difference(first, Image.new("RGB", first.size, MAGENTA)) > 60

    estimate = costs.estimate(project, shots)
    assert (estimate.final.shots, estimate.final.tokens) == (0, 0)

    # Staleness is per kind: a new draft of shot 1 makes shot 2's draft stale, not its
    # final, which continues the final of shot 1.
    pipeline.queue_takes(project, shots=[shots[0]])
    assert pipeline.run_here(project)
    shots = project.timeline()
    assert shots[1].stale and not shots[1].final_stale
    assert shots[1].current_final == finals[1]
    assert pipeline.queue_finals(project) == []

    # An export of finals joins the finals, and says so.
    plan = cut.plan(project, Kind.FINAL)
    export = Export.objects.create(
        project=project, takes=[e["take"] for e in plan], plan=plan, kind=Kind.FINAL
    )
    pipeline.export(export)
    export.refresh_from_db()
    assert export.status == Export.Status.DONE, export.error
    assert export.takes == [t.pk for t in finals]
    with local_copy(export.file, ".mp4") as path:
        assert (media.probe(path).width, has_audio(path)) == (1280, True)


def test_a_final_continue_waits_for_the_final_before_it_not_the_draft(simulator, user):
    project = drafted(user)
    first, second = pipeline.queue_finals(project)
    submitted = pipeline.start_ready(project)
    # The first shot's draft is done, yet the second final waits for the first final.
    assert submitted == [first]
    second.refresh_from_db()
    assert second.status == Take.Status.WAITING
    assert pipeline.run_here(project)
    second.refresh_from_db()
    assert second.upstream_take_id == first.pk


def test_make_final_on_the_page_queues_finals_with_the_drafts_seeds(client_of, simulator, user):
    project = drafted(user)
    page = client_of.get(project.get_absolute_url()).content.decode()
    per_final = costs.tokens_for("720p", "16:9", 4)
    assert 'id="final-button"' in page
    assert f"Make final: about <strong>{2 * per_final:,} tokens</strong>" in page

    response = client_of.post(reverse("project-final", args=[project.pk]))
    assert response.status_code == 302
    finals = list(Take.objects.filter(shot__project=project, kind=Kind.FINAL).order_by("number"))
    drafts = list(Take.objects.filter(shot__project=project, kind=Kind.DRAFT).order_by("number"))
    assert len(finals) == 2
    assert [t.seed for t in finals] == [t.seed for t in drafts]
    assert [t.inputs["resolution"] for t in finals] == ["720p", "720p"]
    assert all(t.requested_by == user for t in finals)
    # Asked twice, nothing more is queued.
    client_of.post(reverse("project-final", args=[project.pk]))
    assert Take.objects.filter(shot__project=project, kind=Kind.FINAL).count() == 2

    assert pipeline.run_here(project)
    page = client_of.get(project.get_absolute_url()).content.decode()
    assert page.count('data-kind="draft"') == 2 and page.count('data-kind="final"') == 2
    assert "Every shot has a current final." in page

    client_of.post(reverse("export-create", args=[project.pk]), {"format": "srt"})
    export = Export.objects.get()
    assert export.kind == Kind.FINAL  # every shot has a final: the export joins them
    assert export.takes == [t.pk for t in Take.objects.filter(kind=Kind.FINAL).order_by("number")]
    client_of.post(reverse("export-create", args=[project.pk]), {"format": "srt", "kind": "draft"})
    draft_export = Export.objects.filter(kind=Kind.DRAFT).get()
    assert draft_export.takes == [t.pk for t in drafts]
    page = client_of.get(project.get_absolute_url()).content.decode()
    assert "2 finals" in page and "2 drafts" in page


@pytest.mark.timeout(300)
def test_render_final_from_the_command_line(tmp_path, user, settings):
    project = make_project(
        user,
        shots=[("A", Opening.CUT), ("B", Opening.CONTINUE)],
        **FINAL_SETTINGS,
    )
    with Simulator(port=0, delay=0.3, small=True) as sim:
        settings.SEEDANCE_BASE_URL = f"{sim.url}/api/v3"
        settings.SEEDANCE_API_KEY = "test-key"
        settings.SEEDANCE_POLL_INTERVAL = 0.1
        out = io.StringIO()
        call_command("storyboard", "render", str(project.pk), "--wait", stdout=out)
        assert "Every shot has a current take." in out.getvalue()
        with pytest.raises(Exception, match="has no finished final"):
            call_command(
                "storyboard",
                "export",
                str(project.pk),
                "--output",
                str(tmp_path / "x.otio"),
                "--final",
            )
        out = io.StringIO()
        call_command("storyboard", "render", str(project.pk), "--wait", "--final", stdout=out)
        assert "Every shot has a current final." in out.getvalue()
        assert "shot 2 final take 2: done" in out.getvalue()
        sent = [r["json"] for r in sim.requests if r["method"] == "POST"]
        assert [b["model"] for b in sent] == [FAST, FAST, STANDARD, STANDARD]
        out = io.StringIO()
        call_command(
            "storyboard",
            "export",
            str(project.pk),
            "--output",
            str(tmp_path / "cut.mp4"),
            stdout=out,
        )
    assert "2 shots (finals)" in out.getvalue()
    export = Export.objects.get()
    assert export.kind == Kind.FINAL
    assert media.probe(tmp_path / "cut.mp4").width > 0
    assert has_audio(tmp_path / "cut.mp4")


@pytest.mark.browser
@pytest.mark.full_clips
@pytest.mark.timeout(300)
@pytest.mark.django_db(transaction=True)
def test_the_card_shows_draft_and_final_side_by_side(simulator, user, live_server, tmp_path):
    """In Chromium: each card shows its draft and its final next to each other, both
    playable. The screenshot lands in $STORYBOARD_SCREENSHOTS when set."""
    import os
    import shutil

    from django.conf import settings as django_settings
    from playwright.sync_api import sync_playwright

    from tests.conftest import BrowserClient
    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

    project = drafted(user)
    pipeline.queue_finals(project)
    assert pipeline.run_here(project)
    shot = project.timeline()[1]
    signed_in = BrowserClient()
    signed_in.force_login(user)
    session = signed_in.cookies[django_settings.SESSION_COOKIE_NAME].value
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            context.add_cookies(
                [
                    {
                        "name": django_settings.SESSION_COOKIE_NAME,
                        "value": session,
                        "url": live_server.url,
                    }
                ]
            )
            page = context.new_page()
            # No event stream: the page as rendered is what is looked at, and no live
            # producer outlives the test.
            page.route("**/events?*", lambda route: route.abort())
            page.goto(live_server.url + project.get_absolute_url())
            card = page.locator(f"#shot-{shot.pk}")
            draft = card.locator('[data-kind="draft"]')
            final = card.locator('[data-kind="final"]')
            assert "Draft · take 1 · 480p" in draft.inner_text()
            assert "Final · take 2 · 720p" in final.inner_text()
            # Loaded and playable, each at its own size.
            for figure, width in ((draft, 864), (final, 1280)):
                video = figure.locator("video")
                video.evaluate(
                    "v => v.readyState >= 1 || new Promise(ok => v.onloadedmetadata = ok)"
                )
                assert video.evaluate("v => v.videoWidth") == width
            left, right = draft.bounding_box(), final.bounding_box()
            assert abs(left["y"] - right["y"]) < 2 and right["x"] > left["x"] + left["width"]
            estimate = page.locator("#estimate").inner_text()
            assert "Every shot has a current final." in estimate
            shot_png = tmp_path / "draft-and-final.png"
            card.screenshot(path=str(shot_png))
            page.screenshot(path=str(tmp_path / "project.png"), full_page=True)
        finally:
            browser.close()
    folder = os.environ.get("STORYBOARD_SCREENSHOTS")
    if folder:
        for name in ("draft-and-final.png", "project.png"):
            shutil.copy(tmp_path / name, os.path.join(folder, name))
