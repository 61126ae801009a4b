"""The seam guard's checks: is a clip's frame fit to start a continue on?

A continue starts on the frame where the shot before it ends (its last frame, or its out
point). Three things make that a bad seam, each checked here on the clip itself:
- blank: the frame is near-black, or near-uniform (almost no variation of light);
- blur: the frame is much softer than the clip usually is (its Laplacian variance, a
  sharpness measure, is a small share of the median over the clip's own frames);
- cut: the last second before the frame holds a hard scene cut (PySceneDetect's
  ContentDetector), so the continue would carry on a scene the shot barely shows.

Every threshold is in THRESHOLDS, one place; bench/guard.py measures them against
ordinary and spoiled simulator clips. Pure functions on a clip path: nothing here knows
shots or takes.
"""

from dataclasses import dataclass, field

import numpy as np

from .errors import MediaError
from .reading import no_frames, open_video, video_timing

# In the order they are judged: a cut comes before blur, since a frame of another scene
# is rightly unlike the clip's usual sharpness.
CHECKS = ("blank", "cut", "blur")


@dataclass(frozen=True)
class Thresholds:
    # blank: a frame whose mean luma (0-255, full range) is at most this is near-black ...
    dark_luma: float = 24.0
    # ... and one whose luma varies by at most this (standard deviation) is near-uniform.
    flat_spread: float = 5.0
    # blur: a frame whose sharpness is under this share of the clip's median is blurred.
    blur_share: float = 0.3
    # The median is taken over at most this many frames spread across the clip.
    blur_samples: int = 48
    # cut: how far before the frame a hard cut is looked for, in seconds ...
    cut_window: float = 1.0
    # ... and PySceneDetect's ContentDetector threshold (its default: 27).
    cut_threshold: float = 27.0


THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Seam:
    """What the checks measured of a clip's frame `index` (and the clip around it)."""

    index: int  # the frame looked at, 0-based
    frames: int  # in the clip
    luma: float  # mean, 0-255
    spread: float  # standard deviation of luma
    sharpness: float  # variance of the Laplacian of luma
    median_sharpness: float  # the same, median over the clip's frames
    cut_at: float | None = None  # seconds before the frame of the last hard cut, if any
    checked: tuple = field(default=CHECKS)


@dataclass(frozen=True)
class Finding:
    """A failed check: which, and what it means for the frame, e.g. "a near-black frame"."""

    check: str
    what: str


def measure(path, out=None, checks=CHECKS, thresholds=THRESHOLDS) -> Seam:
    """Measure frame `out` (None: the last) of the clip at `path` for `checks`."""
    lumas = []
    with open_video(path) as (container, stream):
        timing = video_timing(container, stream)
        step = max(1, timing.frames // max(1, thresholds.blur_samples))
        for index, frame in enumerate(container.decode(stream)):
            if out is not None and index > out:
                break
            if index % step == 0 or out == index:
                lumas.append((index, _luma(frame)))
            last = (index, frame)
        if not lumas:
            raise no_frames(path)
        index, frame = last
        if out is not None and index < out:
            raise MediaError(f"The clip has {index + 1} frames; there is no frame {out}.")
        start = _luma(frame)
        rate = float(timing.rate)
    sharp = [_sharpness(luma) for i, luma in lumas if i != index]
    cut_at = None
    if "cut" in checks:
        cut_at = _last_cut(path, index, rate, thresholds)
    return Seam(
        index=index,
        frames=timing.frames,
        luma=float(start.mean()),
        spread=float(start.std()),
        sharpness=_sharpness(start),
        median_sharpness=float(np.median(sharp)) if sharp else 0.0,
        cut_at=cut_at,
        checked=tuple(checks),
    )


def judge(seam: Seam, checks=CHECKS, thresholds=THRESHOLDS) -> Finding | None:
    """The first check (in CHECKS order) that `seam` fails, or None: a fit frame."""
    if "blank" in checks:
        if seam.luma <= thresholds.dark_luma:
            return Finding("blank", "a near-black frame")
        if seam.spread <= thresholds.flat_spread:
            return Finding("blank", "a near-uniform frame")
    if "cut" in checks and seam.cut_at is not None:
        return Finding("cut", f"a frame {seam.cut_at:.1f} s after a hard scene cut")
    if (
        "blur" in checks
        and seam.median_sharpness > 0
        and seam.sharpness < thresholds.blur_share * seam.median_sharpness
    ):
        return Finding("blur", "a blurred frame")
    return None


def check_seam(path, out=None, checks=CHECKS, thresholds=THRESHOLDS) -> Finding | None:
    """Whether frame `out` (None: the last) of the clip at `path` is fit to continue from:
    None when it is, else the first check it fails."""
    checks = tuple(check for check in CHECKS if check in checks)
    if not checks:
        return None
    return judge(measure(path, out, checks, thresholds), checks, thresholds)


def _luma(frame) -> np.ndarray:
    """The frame's luma as floats on 0-255, full range whatever the clip's range."""
    luma = frame.to_ndarray(format="gray").astype(np.float32)
    if frame.color_range != 2:  # limited ("TV") range, as H.264 usually is: 16-235
        luma = np.clip((luma - 16) * (255 / 219), 0, 255)
    return luma


def _sharpness(luma: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian: high for crisp edges, low for soft ones."""
    if min(luma.shape) < 3:
        return 0.0
    laplacian = (
        luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4 * luma[1:-1, 1:-1]
    )
    return float(laplacian.var())


def _last_cut(path, index, rate, thresholds) -> float | None:
    """Seconds before frame `index` of the last hard cut in the window before it, if any."""
    window = max(1, round(thresholds.cut_window * rate))
    first = max(0, index - window)  # compared with the frame after it: a cut there counts
    # Imported here, as the guard first looks: PySceneDetect runs `ffmpeg` as it is
    # imported, which every process of the app would otherwise pay as it started.
    from scenedetect import ContentDetector, SceneManager
    from scenedetect.backends.pyav import VideoStreamAv

    try:
        # PyAV, as everywhere else; suppress_output keeps FFmpeg's logging as the app set it.
        video = VideoStreamAv(str(path), threading_mode=None, suppress_output=True)
        if first:
            video.seek(first)
        scenes = SceneManager()
        # No minimum scene length: every cut in the window counts, however close.
        scenes.add_detector(ContentDetector(threshold=thresholds.cut_threshold, min_scene_len=0))
        scenes.detect_scenes(video=video, end_time=(index + 1) / rate)
        # Each scene after the first starts on a cut.
        starts = [start.frame_num for start, _ in scenes.get_scene_list(start_in_scene=True)]
        cuts = [frame for frame in starts[1:] if first < frame <= index]
    except Exception as error:  # scenedetect wraps the decoder's errors its own ways
        raise MediaError(f"Can't look for scene cuts in the clip: {error}") from error
    if not cuts:
        return None
    return (index - max(cuts)) / rate
