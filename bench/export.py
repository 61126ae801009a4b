"""Exporting a cut: media.join against FFmpeg's command line on the same 12 clips.

    apt-get install -y ffmpeg   # the anchor; PyAV itself needs no system FFmpeg
    uv run python bench/export.py [--runs 3] [--clips DIR] [--keyint 48]

Makes 12 clips of 5 s at 1280x720, 24 fps, the way a provider would: libx264 at its
default preset with B-frames, a keyframe every `--keyint` frames (three per clip by
default), grainy moving pictures, and AAC sound. `--clips DIR` keeps them for the next
run. Then times, in this one run, each against its anchor right after it, `--runs`
times, and prints the medians and the median ratio:

- the plain join (every frame, packets copied) against `ffmpeg -f concat -c copy`
  (target: at most 2x);
- the seamless join, 11 continues, smart-rendered, against the same (target: 3x), as
  the app runs it: each take's bridge prepared by the worker when the take arrived
  (timed apart, per take); for reference, cold, with nothing prepared (every continue's
  first GOP encoded in the join); then the same prepared join of the clips without sound, against
  FFmpeg copying those, to show what the picture costs and what the sound does;
- the first export after a render, as the app runs it (pipeline.export, a database and
  media storage in the scratch folder): each take's bridges prepared as
  `storyboard render --wait` prepares them when the take ends, none by an export before;
  against the same (target: 3x);
- the seamless join re-encoded whole (force_reencode) against FFmpeg re-encoding the
  same join (trim and atrim drop each continuing clip's first frame, libx264 veryfast at
  CRF 19 as the app uses, AAC) (target: 1.1x).

FFmpeg also writes with `-movflags +faststart`, as the app does for browsers. join() is
timed in this process (modules loaded); FFmpeg as a command, start-up included.
"""

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

import av
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from projects import media  # noqa: E402
from projects.media import Piece  # noqa: E402

WIDTH, HEIGHT, FPS, SECONDS, CLIPS = 1280, 720, 24, 5, 12
SAMPLE_RATE = 48000


def make_clip(path: Path, number: int, keyint: int) -> None:
    """A provider-like clip: moving shapes on a gradient under film grain, with sound."""
    background = Image.linear_gradient("L").resize((WIDTH, HEIGHT)).convert("RGB")
    tint = Image.new("RGB", (WIDTH, HEIGHT), (40 + 15 * number, 90, 200 - 10 * number))
    background = Image.blend(background, tint, 0.6)
    options = {"crf": "20", "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0"}
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS, options=options)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = out.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
        for index in range(SECONDS * FPS):
            image = background.copy()
            draw = ImageDraw.Draw(image)
            x = (index * 9 + number * 97) % (WIDTH - 300)
            draw.ellipse([x, 200, x + 300, 500], fill=(230, 200, 120))
            draw.rectangle([WIDTH - x - 200, 420, WIDTH - x, 620], fill=(30, 40, 60))
            grain = Image.effect_noise((WIDTH, HEIGHT), 24).convert("RGB")
            frame = av.VideoFrame.from_image(Image.blend(image, grain, 0.12))
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode())
        total = SECONDS * SAMPLE_RATE
        for start in range(0, total, 1024):
            out.mux(sound.encode(_tone(start, min(1024, total - start), 220 + 40 * number)))
        out.mux(sound.encode())


def _tone(start: int, samples: int, hz: int) -> av.AudioFrame:
    frame = av.AudioFrame(format="fltp", layout="stereo", samples=samples)
    frame.sample_rate, frame.pts = SAMPLE_RATE, start
    wave = array(
        "f", (0.2 * math.sin(2 * math.pi * hz * (start + i) / SAMPLE_RATE) for i in range(samples))
    )
    for plane in frame.planes:
        plane.update(wave.tobytes())
    return frame


def seconds(work) -> tuple[float, object]:
    """Wall time of one call of `work`, and what it returned."""
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def compare(runs: int, ours, anchor) -> tuple[float, float, float, object]:
    """Medians of our time, the anchor's and their ratio, over `runs` runs of each one
    right after the other (load from others on the machine then hits both alike), and
    what ours returned."""
    pairs, result = [], None
    for _ in range(runs):
        mine, result = seconds(ours)
        theirs, _ = seconds(anchor)
        pairs.append((mine, theirs, mine / theirs))
    medians = [statistics.median(column) for column in zip(*pairs, strict=True)]
    return (*medians, result)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", *args], check=True)


def ffmpeg_concat_copy(clips: list[Path], listing: Path, out: Path) -> None:
    listing.write_text("".join(f"file '{clip}'\n" for clip in clips))
    ffmpeg(
        "-f", "concat", "-safe", "0", "-i", str(listing),
        "-c", "copy", "-movflags", "+faststart", str(out),
    )  # fmt: skip


def ffmpeg_seamless_reencode(clips: list[Path], out: Path) -> None:
    """The seamless join as one FFmpeg filter graph: each continuing clip's first frame
    and its sound dropped, then concatenated and encoded as the app encodes."""
    inputs, graph, joined = [], [], []
    for n, clip in enumerate(clips):
        inputs += ["-i", str(clip)]
        skip = 0 if n == 0 else 1
        graph.append(f"[{n}:v]trim=start_frame={skip},setpts=PTS-STARTPTS[v{n}]")
        graph.append(f"[{n}:a]atrim=start={skip / FPS:.6f},asetpts=PTS-STARTPTS[a{n}]")
        joined.append(f"[v{n}][a{n}]")
    graph.append(f"{''.join(joined)}concat=n={len(clips)}:v=1:a=1[v][a]")
    ffmpeg(
        *inputs, "-filter_complex", ";".join(graph), "-map", "[v]", "-map", "[a]",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "19",
        "-c:a", "aac", "-ar", str(SAMPLE_RATE), "-movflags", "+faststart", str(out),
    )  # fmt: skip


def first_export_after_render(runs: int, clips: list[Path], scratch: Path, concat) -> tuple:
    """Medians of the app's first export after a render, the anchor's and their ratio,
    and the join's result. Each run starts from takes just rendered: no bridge stored but
    those the render prepared, no export made yet."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyboard.settings")
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(scratch / "media")
    import logging

    import django

    django.setup()
    from django.core.files import File
    from django.core.management import call_command

    from projects import cut, pipeline
    from projects.models import Bridge, Export, Opening, Take
    from projects.pipeline import bridging
    from tests.factories import make_project, make_take, make_user

    call_command("migrate", verbosity=0)
    project = make_project(
        make_user("bench", password=None),
        shots=[(f"Shot {n}", Opening.CONTINUE if n else Opening.CUT) for n in range(CLIPS)],
    )
    upstream = None
    for shot, clip in zip(project.shots.in_order(), clips, strict=True):
        upstream = make_take(shot, upstream=upstream, frames=None, frame_rate=None)
        with open(clip, "rb") as f:
            upstream.video.save("video.mp4", File(f), save=True)
    logged = []

    class Lines(logging.Handler):
        def emit(self, record):
            logged.append(record)

    logger = logging.getLogger("projects.pipeline.exporting")
    logger.addHandler(Lines())
    logger.setLevel(logging.INFO)
    pairs = []
    for _ in range(runs):
        shutil.rmtree(scratch / "media" / bridging.FOLDER, ignore_errors=True)
        Bridge.objects.all().delete()
        Take.objects.update(bridged="")
        for take in Take.objects.select_related("shot__project"):
            pipeline.prepare_bridges(take)  # as the render does when each take ends
        export = Export.objects.create(project=project, plan=cut.plan(project), seamless=True)
        mine, _ = seconds(lambda: pipeline.export(export))  # noqa: B023
        export.refresh_from_db()
        if export.status != Export.Status.DONE:
            sys.exit(f"the export failed: {export.error}")
        theirs, _ = seconds(concat)
        pairs.append((mine, theirs, mine / theirs))
    line = logged[-1].getMessage()  # "export N: smart, E frames encoded (P of them ...)"
    mode = line.split(": ", 1)[1].split(",")[0]
    encoded = int(line.split(", ")[1].split()[0])
    prepared = int(line.rsplit("(", 1)[1].split()[0])
    frames = round(export.duration * FPS)
    result = media.JoinResult(mode, export.duration, frames, encoded, prepared)
    medians = [statistics.median(column) for column in zip(*pairs, strict=True)]
    return (*medians, result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clips", type=Path, help="keep the clips here between runs")
    parser.add_argument("--keyint", type=int, default=48, help="frames between keyframes")
    args = parser.parse_args()
    if not shutil.which("ffmpeg"):
        sys.exit("ffmpeg is the anchor: apt-get install -y ffmpeg")

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        folder = args.clips or scratch
        folder.mkdir(parents=True, exist_ok=True)
        clips = [folder / f"clip{n:02}-k{args.keyint}.mp4" for n in range(CLIPS)]
        made = time.perf_counter()
        for n, clip in enumerate(clips):
            if not clip.exists():
                make_clip(clip, n, args.keyint)
        size = sum(clip.stat().st_size for clip in clips) / 1e6
        print(
            f"{CLIPS} clips of {SECONDS} s at {WIDTH}x{HEIGHT}, keyframe every {args.keyint} "
            f"frames, {size:.1f} MB ({time.perf_counter() - made:.0f} s to make); "
            f"median of {args.runs} runs"
        )
        plain = [Piece(clip) for clip in clips]
        seamless = [plain[0]] + [Piece(clip, joins="continue") for clip in clips[1:]]
        out = scratch / "out.mp4"

        def concat() -> None:
            ffmpeg_concat_copy(clips, scratch / "list.txt", out)

        silent = [folder / f"silent{n:02}-k{args.keyint}.mp4" for n in range(CLIPS)]
        for clip, quiet in zip(clips, silent, strict=True):
            if not quiet.exists():
                ffmpeg("-i", str(clip), "-an", "-c", "copy", str(quiet))
        silent_seamless = [Piece(silent[0])] + [Piece(c, joins="continue") for c in silent[1:]]
        prepared = media.Folder(scratch / "bridges")
        took, _ = seconds(lambda: media.prepare(seamless + silent_seamless, prepared))
        rows = [
            ("plain join (copy)", "ffmpeg concat -c copy", 2.0)
            + compare(args.runs, lambda: media.join(plain, out, seamless=False), concat),
            ("seamless, smart, cold", "ffmpeg concat -c copy", None)
            + compare(args.runs, lambda: media.join(seamless, out), concat),
            ("seamless, smart", "ffmpeg concat -c copy", 3.0)
            + compare(args.runs, lambda: media.join(seamless, out, bridges=prepared), concat),
            ("  picture alone", "ffmpeg concat -c copy", 3.0)
            + compare(
                args.runs,
                lambda: media.join(silent_seamless, out, bridges=prepared),
                lambda: ffmpeg_concat_copy(silent, scratch / "silent.txt", out),
            ),
            ("first export after render", "ffmpeg concat -c copy", 3.0)
            + first_export_after_render(args.runs, clips, scratch, concat),
            ("seamless, re-encoded", "ffmpeg libx264 veryfast", 1.1)
            + compare(
                args.runs,
                lambda: media.join(seamless, out, force_reencode=True),
                lambda: ffmpeg_seamless_reencode(clips, out),
            ),
        ]

    for name, against, target, ours, anchor, ratio, result in rows:
        if target is None:  # what a join costs when the worker prepared nothing
            verdict = "for reference"
        else:
            verdict = f"target {target}x, " + ("ok" if ratio <= target else "over target")
        print(
            f"{name:22} {ours:6.2f} s  vs {against:23} {anchor:6.2f} s: "
            f"{ratio:5.2f}x ({verdict}); "
            f"mode {result.mode}, {result.frames} frames, {result.reencoded} encoded, "
            f"{result.prepared} of them prepared"
        )
    smart, full = rows[1], rows[5]
    print(
        f"the cold smart join encodes {smart[-1].reencoded / full[-1].frames:.0%} of the frames "
        f"in {smart[3] / full[3]:.0%} of the full re-encode's time; the worker prepares "
        f"each take's share once, when it arrives: {took / (CLIPS - 1):.2f} s a take"
    )


if __name__ == "__main__":
    main()
