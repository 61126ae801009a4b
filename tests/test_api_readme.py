"""The README's HTTP API example, run as written against the real app: `manage.py up`
(its web server, worker and simulator) on free ports, a token of its demo account, and
the example's own process; the MP4 it downloads is decoded."""

import os
import re
import subprocess
import sys

import av
import pytest

from tests.live import ROOT, serving

# One clip's frames at the simulator's rate; a continue drops the frame it repeats.
RATE = 24


def readme_example():
    """The first Python block of the README's "HTTP API" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## HTTP API\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def app(tmp_path_factory, live_template):
    yield from serving(tmp_path_factory.mktemp("readme"), live_template, simulator_delay=0.3)


def token_of(app, username):
    """A token of `username`'s, made as the README says: `manage.py token create`."""
    return app.manage("token", "create", username).strip()


def test_the_readme_example_renders_exports_and_downloads_a_whole_cut(app, tmp_path):
    env = {
        **os.environ,
        "STORYBOARD_URL": app.url,
        "STORYBOARD_TOKEN": token_of(app, app.username),
    }
    done = subprocess.run(
        [sys.executable, "-c", readme_example()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr + app.output()[-3000:]
    # Two 4 s shots, the second continuing the first: seamless drops the frame it repeats.
    expected = 8 - 1 / RATE
    assert done.stdout.strip() == f"harbour.mp4: {expected:.2f} s"
    with av.open(str(tmp_path / "harbour.mp4")) as video:
        stream = video.streams.video[0]
        frames = sum(1 for _ in video.decode(stream))
        assert float(video.duration / av.time_base) == pytest.approx(expected, abs=0.05)
    assert frames == 8 * RATE - 1
