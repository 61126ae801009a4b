"""A smart-rendered export plays in Debian's Chromium, every frame it presents the right one."""

import functools
import http.server
import threading

import av
import pytest

from projects import media
from projects.media import Piece
from tests.clips import make_clip, read_counter
from tests.test_browser import browser  # noqa: F401  (fixture: the shared Chromium)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

FPS = 24
PROVIDER = {"width": 480, "height": 272, "seconds": 3, "bframes": True, "keyframe_interval": 24}

# Plays a video (its id) once and, for every frame presented, reads the number make_clip
# drew (as tests.clips.read_counter does) with the frame's media time, on a canvas of its own.
PLAY = """async (name) => {
  const video = document.getElementById(name);
  await new Promise((ok, bad) => {
    if (video.readyState >= 1) ok();
    video.onloadedmetadata = ok;
    video.onerror = () => bad(new Error(video.error.message));
  });
  const canvas = document.getElementById(name + '-canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const g = canvas.getContext('2d', {willReadFrequently: true});
  const size = Math.floor(canvas.width / 16);
  const top = canvas.height - size - Math.floor(canvas.height / 16);
  const counter = () => {
    let index = 0;
    for (let bit = 0; bit < 10; bit++) {
      const d = g.getImageData(size * (bit + 1) + 8, top + 8, size - 15, size - 15).data;
      let sum = 0;
      for (let i = 0; i < d.length; i += 4) {
        sum += 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      }
      if (sum / (d.length / 4) > 128) index |= 1 << bit;
    }
    return index;
  };
  const seen = [];
  const each = () => {
    // The frame is captured with its own timestamp: a callback that runs late (a busy
    // machine) reads the frame on screen then, and names that one, never another.
    const frame = new VideoFrame(video);
    g.drawImage(frame, 0, 0);
    seen.push([frame.timestamp / 1e6, counter()]);
    frame.close();
    video.requestVideoFrameCallback(each);
  };
  video.requestVideoFrameCallback(each);
  await video.play();
  await new Promise(ok => { video.onended = ok; });
  const quality = video.getVideoPlaybackQuality();
  return {
    seen, error: video.error && video.error.message,
    frames: quality.totalVideoFrames, corrupted: quality.corruptedVideoFrames,
  };
}"""


@pytest.fixture
def served(tmp_path):
    """tmp_path over HTTP on loopback (a file:// video would taint the canvas)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_a_spliced_export_plays_frame_exact_in_chromium(tmp_path, served, browser):  # noqa: F811
    # Copied GOPs from clips with other parameter sets (SPS id 1; SPS id 5 and repeated
    # in-band) beside bridges.
    baseline = make_clip(
        tmp_path / "baseline.mp4",
        **PROVIDER,
        x264="bframes=0:cabac=0:8x8dct=0:weightp=0:ref=1:sps-id=1",
    )
    main = make_clip(
        tmp_path / "main.mp4", **PROVIDER, x264="8x8dct=0:ref=4:sps-id=5:repeat-headers=1"
    )
    expected = {}
    for name, clip in [("baseline", baseline), ("main", main)]:
        pieces = [Piece(clip, 3, 50), Piece(clip, joins="continue"), Piece(clip, 10, 61)]
        result = media.join(pieces, tmp_path / f"{name}-cut.mp4")
        assert result.mode == "smart"
        with av.open(str(tmp_path / f"{name}-cut.mp4")) as container:
            expected[name] = [read_counter(frame.to_image()) for frame in container.decode(video=0)]
        assert expected[name] == [*range(3, 51), *range(1, 72), *range(10, 62)]

    # Both cuts play at once, each in a video and onto a canvas of its own: the same
    # frames presented and read as one after the other, in half the (real) time.
    (tmp_path / "page.html").write_text(
        "".join(
            f'<video id="{name}" src="{name}-cut.mp4" muted></video><canvas id="{name}-canvas">'
            for name in expected
        )
    )
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{served}/page.html")
    plays = page.evaluate(f"names => Promise.all(names.map({PLAY}))", list(expected))
    context.close()

    for (name, frames), played in zip(expected.items(), plays, strict=True):
        assert played["error"] is None, name
        assert played["corrupted"] == 0, name
        assert played["frames"] == len(frames), name
        # Callbacks miss frames while the machine is busy (an eighth of them at a load of
        # 14 on two cores); each one seen is checked, and most must be.
        assert len(played["seen"]) > 0.75 * len(frames), name
        shown = {round(time * FPS): counter for time, counter in played["seen"]}
        assert shown == {index: frames[index] for index in shown}, name
