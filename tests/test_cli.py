"""The command line, as a script would use it: import, render --wait, export."""

import json

import av
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from projects import media
from tests import live
from tests.live import free_port
from tests.test_pipeline import mean_difference

STORYBOARD = {
    "title": "Autumn valley",
    "settings": {"resolution": "480p", "ratio": "16:9", "generate_audio": False},
    "shots": [
        {"prompt": "Drone shot over an autumn valley", "duration": 4},
        {"prompt": "The drone dives toward the river", "duration": 5, "opening": "continue"},
        {
            "prompt": "A fox watches from the ridge",
            "duration": 4,
            "opening": "cut",
            "first_frame": "images/fox.png",
        },
    ],
}


def write_storyboard(folder, data=STORYBOARD):
    (folder / "images").mkdir(exist_ok=True)
    Image.new("RGB", (960, 540), (200, 90, 30)).save(folder / "images" / "fox.png")
    path = folder / "autumn.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.timeout(240)
def test_import_render_export_from_a_fresh_shell(tmp_path, small_clips, live_template):
    # The database is a copy of the suite's migrated template (SQLite, or PostgreSQL under
    # DATABASE_URL=postgres://...): its migrations already ran, which cost several seconds
    # of CPU each time they ran from scratch. `migrate` still runs first, as a script would.
    database = live._Database(tmp_path, live_template)
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": database.url,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "SIMULATOR_PORT": str(free_port()),
        "SIMULATOR_DELAY": "0.5",
        "SIMULATOR_SMALL": str(small_clips),
        "SEEDANCE_POLL_INTERVAL": "0.1",
    }

    def manage(*args):
        return live.manage(env, *args, timeout=180)

    try:
        manage("migrate", "--verbosity", "0")
        # No password: the owner never signs in, and hashing one takes half a second.
        manage(
            "shell", "-c", "from tests.factories import make_user; make_user('ada', password=None)"
        )
        project_id = manage(
            "storyboard", "import", str(write_storyboard(tmp_path)), "--owner", "ada"
        )
        project_id = project_id.strip().splitlines()[-1]
        assert project_id.isdigit()

        rendered = manage("storyboard", "render", project_id, "--wait")
        assert "Started the local Seedance simulator" in rendered
        assert "Every shot has a current take." in rendered

        output = tmp_path / "autumn.mp4"
        exported = manage("storyboard", "export", project_id, "--output", str(output))
    finally:
        database.drop()
    assert "without re-encoding" in exported
    assert media.probe(output).duration == pytest.approx(4 + 5 + 4, abs=0.05)
    # The third shot is a cut: at the seam, 9 s in, the picture jumps to its own first frame.
    fox = Image.open(tmp_path / "images" / "fox.png")
    before_seam, after_seam = frames_at(output, 9 * 24 - 1, 9 * 24)
    assert mean_difference(after_seam, fox) < 8
    assert mean_difference(before_seam, fox) > 30


def frames_at(path, *indexes):
    with av.open(str(path)) as container:
        frames = {
            i: frame.to_image() for i, frame in enumerate(container.decode(video=0)) if i in indexes
        }
    return [frames[i] for i in indexes]


@pytest.mark.django_db
def test_render_exits_non_zero_with_each_failed_shots_reason(simulator, user, tmp_path):
    data = {
        **STORYBOARD,
        "shots": [{"prompt": "A [sim:fail]", "duration": 4}, {"prompt": "B", "duration": 4}],
    }
    call_command("storyboard", "import", str(write_storyboard(tmp_path, data)), "--owner", "ada")
    project_id = user.teams.get().projects.get().pk

    with pytest.raises(CommandError) as error:
        call_command("storyboard", "render", str(project_id), "--wait")
    assert "shot 1: InternalServiceError: The video could not be generated." in str(error.value)
    assert "shot 2: Not generated: shot 1 failed." in str(error.value)


@pytest.mark.django_db
def test_export_refuses_a_project_with_shots_not_generated(user, tmp_path):
    call_command("storyboard", "import", str(write_storyboard(tmp_path)), "--owner", "ada")
    project_id = user.teams.get().projects.get().pk
    with pytest.raises(CommandError, match="has no finished take"):
        call_command("storyboard", "export", str(project_id), "--output", str(tmp_path / "x.mp4"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, message",
    [
        ({"shots": []}, '"shots" must be a non-empty list'),
        ({"shots": [{"prompt": "A", "duration": 3}]}, "whole seconds from 4 to 15"),
        ({"shots": [{"prompt": "A", "opening": "continue"}]}, "first shot cannot continue"),
        ({"settings": {"ratio": "1280:720"}}, "settings.ratio must be one of"),
        ({"shots": [{"prompt": "A", "first_frame": "missing.png"}]}, "does not exist"),
    ],
)
def test_import_explains_what_is_wrong_with_a_file(user, tmp_path, change, message):
    path = write_storyboard(tmp_path, {**STORYBOARD, **change})
    with pytest.raises(CommandError, match=message):
        call_command("storyboard", "import", str(path), "--owner", "ada")


@pytest.mark.django_db
def test_the_storyboard_file_round_trips(user, tmp_path):
    from projects import storyboard_file

    call_command("storyboard", "import", str(write_storyboard(tmp_path)), "--owner", "ada")
    dumped = storyboard_file.dump(user.teams.get().projects.get())
    assert dumped["title"] == STORYBOARD["title"]
    assert [(s["prompt"], s["duration"], s["opening"]) for s in dumped["shots"]] == [
        ("Drone shot over an autumn valley", 4, "cut"),
        ("The drone dives toward the river", 5, "continue"),
        ("A fox watches from the ridge", 4, "cut"),
    ]
    assert dumped["shots"][2]["first_frame"].endswith(".png")
