"""Each API style against its own document's example answers, and what each style refuses."""

import io
import json

import httpx
import pytest
from PIL import Image as PILImage

from projects import media
from projects.providers import PRESETS, STYLES, GenerationRequest, Image, ProviderError, TaskState
from projects.providers import configured as configured_provider


def style_answering(name, answers, base_url="https://gateway.example"):
    """A client of style `name` whose HTTP answers are `answers` (path -> JSON)."""
    sent = []

    def handle(request):
        sent.append(request)
        return httpx.Response(200, json=answers[request.url.path])

    http = httpx.Client(transport=httpx.MockTransport(handle))
    return STYLES[name](base_url, "key", http), sent


def request(**overrides):
    fields = {
        "model": "doubao-seedance-2-0-fast-260128",
        "prompt": "A kite",
        "duration": 5,
        "resolution": "720p",
        "ratio": "16:9",
    }
    return GenerationRequest(**{**fields, **overrides})


# The documents' own examples.


def test_dieyuyun_reads_its_documents_completed_task():
    style, _ = style_answering(
        "dieyuyun",
        {
            "/v1/video/generations/task_seed456": {
                "task_id": "task_seed456",
                "status": "completed",
                "progress": 100,
                "metadata": {
                    "url": "https://cdn.dieyuyun.com/videos/task_seed456.mp4",
                    "duration": 5,
                    "size": "1280x720",
                },
                "completed_at": "2025-01-15T10:34:00Z",
            }
        },
    )
    task = style.get("task_seed456")
    assert (task.id, task.state, task.progress) == ("task_seed456", TaskState.SUCCEEDED, 1.0)
    assert task.video_url == "https://cdn.dieyuyun.com/videos/task_seed456.mp4"
    assert task.last_frame_url == ""


def test_dieyuyun_reads_the_task_id_of_its_documents_creation_answer():
    style, sent = style_answering(
        "dieyuyun",
        {
            "/v1/video/generations": {
                "task_id": "task_seed456",
                "status": "queued",
                "progress": 0,
                "created_at": "2025-01-15T10:30:00Z",
            }
        },
    )
    frame = Image(data=b"png", url="https://app.example/frames/abc")
    assert style.create(request(model="doubao-seedance-2-0", first_frame=frame)) == "task_seed456"
    body = json.loads(sent[0].content)
    assert body["mode"] == "image" and body["image"] == "https://app.example/frames/abc"
    assert body["size"] == "1280x720" and body["duration"] == 5
    assert body["metadata"] == {"generate_audio": False, "watermark": False}


def test_wisgate_finds_the_video_under_meta_data():
    style, _ = style_answering(
        "wisgate",
        {
            "/v1/videos/video_1": {
                "id": "video_1",
                "status": "completed",
                "progress": 100,
                "meta_data": {"url": "https://files.example/v.mp4"},
            }
        },
    )
    task = style.get("video_1")
    assert task.state == TaskState.SUCCEEDED and task.video_url == "https://files.example/v.mp4"


def test_wisgate_sends_first_and_last_frames_as_i2v_images():
    style, sent = style_answering("wisgate", {"/v1/videos": {"id": "video_1"}})
    first, last = Image(url="https://app/f1"), Image(url="https://app/f2")
    style.create(
        request(
            model="doubao-seedance-2", first_frame=first, last_frame=last, ratio="2:3", duration=6
        )
    )
    body = json.loads(sent[0].content)
    assert body == {
        "prompt": "A kite",
        "model": "doubao-seedance-2",
        "duration": 6,
        "size": "720x1080",
        "mode": "i2v",
        "images": ["https://app/f1", "https://app/f2"],
    }


def test_openai_videos_reads_its_documents_video_object():
    style, _ = style_answering(
        "openai-videos",
        {
            "/v1/videos/video_abc123": {
                "id": "video_abc123",
                "object": "video",
                "model": "doubao-seedance-2-0-fast-260128",
                "status": "completed",
                "progress": 100,
                "created_at": 1764347090922,
                "seconds": "5",
                "completed_at": 1764347170000,
                "expires_at": 1764433570000,
                "size": "1280x720",
                "error": None,
                "metadata": {},
            }
        },
        base_url="https://gw.example",
    )
    task = style.get("video_abc123")
    assert task.state == TaskState.SUCCEEDED
    # No metadata.url: the content endpoint serves the video.
    assert task.video_url == "https://gw.example/v1/videos/video_abc123/content"


def test_openai_videos_sends_seconds_as_a_string_and_frames_with_roles_in_metadata():
    style, sent = style_answering("openai-videos", {"/v1/videos": {"id": "video_1"}})
    style.create(request(first_frame=Image(data=b"\x89PNG")))
    body = json.loads(sent[0].content)
    assert body["seconds"] == "5" and "duration" not in body
    (item,) = body["metadata"]["content"]
    assert item["role"] == "first_frame"
    assert item["image_url"]["url"].startswith("data:image/png;base64,")
    assert not set(body["metadata"]) & set(body) - {"metadata"}


def test_futurmix_puts_settings_under_metadata_as_its_document_does():
    style, sent = style_answering(
        "futurmix",
        {"/v1/video/generations": {"task_id": "t1"}},
        base_url="https://futurmix.example/v1",
    )
    assert style.create(request(model="doubao-seedance-2-0-260128", duration=11)) == "t1"
    body = json.loads(sent[0].content)
    assert sent[0].url.path == "/v1/video/generations"
    assert body["duration"] == 11
    assert {"generate_audio", "ratio", "watermark"} <= set(body["metadata"])
    assert not {"generate_audio", "ratio", "watermark", "resolution"} & set(body)


def test_ark_reads_the_reference_task_object_and_sends_identity_for_apiyi(settings):
    settings.SEEDANCE_PRESET = "apiyi"
    settings.SEEDANCE_API_KEY = "key"
    provider = configured_provider()
    assert provider.base_url == "https://api.apiyi.com/seedance/api/v3"
    assert provider.client().headers["Accept-Encoding"] == "identity"


# What each style refuses before anything is sent.


@pytest.mark.parametrize(
    "style, changes, problem",
    [
        ("dieyuyun", {"model": "doubao-seedance-2-0", "duration": 4}, "5 or 10 seconds"),
        (
            "dieyuyun",
            {"model": "doubao-seedance-2-0", "resolution": "480p"},
            "makes only 720p 16:9",
        ),
        ("wisgate", {"model": "doubao-seedance-2", "ratio": "4:3"}, "makes only"),
        ("ark", {"resolution": "1080p"}, "fast model goes up to 720p"),
        ("ark", {"duration": 16}, "4 to 15 seconds"),
        ("ark", {"ratio": "1280:720"}, "Ratio must be one of"),
        ("ark", {"model": "seedance 1 pro"}, "is not a model or endpoint id"),
        ("futurmix", {"model": "ep-20260214093000-fast1"}, "not offered"),
        ("ark", {"references": [Image(data=b"x")] * 10}, "At most 9 reference images"),
        ("ark", {"reference_audios": ["https://a/x.mp3"]}, "needs an image or a video"),
        (
            "ark",
            {"first_frame": Image(data=b"x"), "references": [Image(data=b"y")]},
            "cannot be mixed",
        ),
        (
            "ark",
            {"first_frame": Image(data=b"x"), "reference_audios": ["https://a/x.mp3"]},
            "cannot be mixed",
        ),
        ("ark", {"reference_videos": ["https://a/v.mp4"] * 4}, "At most 3 reference videos"),
        ("ark", {"reference_videos": [""]}, "set PUBLIC_BASE_URL"),
        (
            "wisgate",
            {"model": "doubao-seedance-2", "first_frame": Image(data=b"x")},
            "PUBLIC_BASE_URL",
        ),
        (
            "wisgate",
            {
                "model": "doubao-seedance-2",
                "references": [Image(url="u")],
                "reference_audios": ["a"],
            },
            "takes no reference audio",
        ),
        (
            "dieyuyun",
            {"model": "doubao-seedance-2-0", "references": [Image(url="u")]},
            "takes no reference images",
        ),
        (
            "dieyuyun",
            {"model": "doubao-seedance-2-0", "reference_audios": ["https://a/x.mp3"]},
            "need a first frame",
        ),
        (
            "dieyuyun",
            {
                "model": "doubao-seedance-2-0",
                "first_frame": Image(url="u"),
                "last_frame": Image(url="v"),
            },
            "takes no last frame",
        ),
    ],
)
def test_a_style_explains_what_it_would_refuse(style, changes, problem):
    found = STYLES[style].problems(request(**changes))
    assert any(problem in p for p in found), found


def test_dieyuyun_takes_speech_beside_a_photo():
    audio_mode = request(
        model="doubao-seedance-2-0",
        resolution="720p",
        duration=5,
        first_frame=Image(url="https://app/f.png"),
        reference_audios=["https://app/speech.mp3"],
    )
    assert STYLES["dieyuyun"].problems(audio_mode) == []
    assert "cannot be mixed" in " ".join(STYLES["ark"].problems(audio_mode))


def test_a_good_request_has_no_problems_in_any_style():
    for name, style in STYLES.items():
        resolution, ratio = next(iter(style.sizes)) if style.sizes else ("720p", "16:9")
        assert (
            style.problems(
                request(model=style.models[0], resolution=resolution, ratio=ratio, duration=5)
            )
            == []
        ), name


# Presets and configuration.


def test_every_preset_names_a_known_style_and_one_of_its_models():
    for preset in PRESETS.values():
        style = STYLES[preset.style]
        assert preset.default_model in preset.models
        assert set(preset.models) <= set(style.models), preset.name


def test_a_preset_with_no_address_of_its_own_asks_for_one(settings):
    settings.SEEDANCE_PRESET = "openai-videos"
    settings.SEEDANCE_API_KEY = "key"
    with pytest.raises(ProviderError, match="set SEEDANCE_BASE_URL"):
        configured_provider()
    settings.SEEDANCE_BASE_URL = "https://videos.example"
    assert configured_provider().style.name == "openai-videos"


def test_settings_override_a_preset_field_by_field(settings):
    settings.SEEDANCE_PRESET = "dieyuyun"
    settings.SEEDANCE_API_KEY = "key"
    assert configured_provider().model == "doubao-seedance-2-0"
    assert configured_provider().rpm == 5 and configured_provider().concurrency == 2
    settings.SEEDANCE_BASE_URL = "https://mirror.example"
    assert configured_provider().base_url == "https://mirror.example"


def test_an_unknown_preset_is_refused_with_the_known_names(settings):
    settings.SEEDANCE_PRESET = "nope"
    with pytest.raises(ProviderError, match="wisgate"):
        configured_provider()


def test_no_address_means_the_simulator_in_the_styles_place(settings):
    settings.SEEDANCE_API_STYLE = "futurmix"
    provider = configured_provider()
    assert provider.simulated
    assert provider.base_url == f"http://127.0.0.1:{settings.SIMULATOR_PORT}/futurmix/v1"


# Frames fitted to a provider's limits.


def png(size, noise=False):
    image = PILImage.effect_noise(size, 80).convert("RGB") if noise else PILImage.new("RGB", size)
    out = io.BytesIO()
    # Noise hardly compresses: the quickest level still makes a file over 4 MB of it,
    # in a quarter of the time.
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def test_a_frame_within_limits_is_sent_unchanged():
    data = png((864, 496))
    assert media.fit_image(data, 4 * 1024 * 1024, 40_000_000) == (data, "image/png")


def test_a_frame_over_the_byte_limit_is_reencoded_under_it():
    data = png((2400, 1350), noise=True)
    assert len(data) > 4 * 1024 * 1024
    fitted, mime = media.fit_image(data, 4 * 1024 * 1024 - 1, 40_000_000)
    assert len(fitted) < 4 * 1024 * 1024 and mime == "image/jpeg"
    assert PILImage.open(io.BytesIO(fitted)).size[0] >= 1000


def test_a_frame_too_wide_or_too_small_is_cropped_and_scaled_into_the_limits():
    wide, _ = media.fit_image(png((3000, 500)), 30 * 1024 * 1024, 40_000_000)
    width, height = PILImage.open(io.BytesIO(wide)).size
    assert width / height <= 2.5 and min(width, height) > 300
    small, _ = media.fit_image(png((200, 150)), 30 * 1024 * 1024, 40_000_000)
    assert min(PILImage.open(io.BytesIO(small)).size) > 300
