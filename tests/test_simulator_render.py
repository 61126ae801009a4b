"""The simulator's clip renderer on its own: frame count, untouched first frame, motion."""

import av
from PIL import Image, ImageChops, ImageOps, ImageStat

from projects.simulator.render import render_clip


def mean_difference(a, b):
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def frames_of(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate
        return rate, [frame.to_image() for frame in container.decode(stream)]


def test_clip_has_every_frame_and_reports_progress(tmp_path):
    calls = []
    path = tmp_path / "clip.mp4"
    last = render_clip(
        path, width=640, height=640, duration=4, prompt="Square", seed=3, progress=calls.append
    )
    rate, frames = frames_of(path)
    assert (rate, len(frames)) == (24, 96)
    assert frames[0].size == last.size == (640, 640)
    assert last.mode == "RGB"
    assert len(calls) == 96 and calls == sorted(calls) and calls[-1] == 1.0


def test_first_frame_is_cropped_scaled_and_left_untouched(tmp_path):
    # Portrait source into a landscape clip: only its middle band survives.
    source = Image.linear_gradient("L").resize((500, 900)).convert("RGB")
    path = tmp_path / "clip.mp4"
    last = render_clip(
        path, width=864, height=496, duration=4, prompt="A long caption " * 20, first_frame=source
    )
    _, frames = frames_of(path)
    expected = ImageOps.fit(source, (864, 496), Image.Resampling.BICUBIC)
    assert mean_difference(frames[0], expected) < 3
    assert mean_difference(frames[-1], last) < 8
    assert mean_difference(frames[0], frames[-1]) > 10


def test_base_picture_follows_prompt_and_seed(tmp_path):
    def first_frame(name, prompt, seed):
        path = tmp_path / f"{name}.mp4"
        render_clip(path, width=496, height=864, duration=1, prompt=prompt, seed=seed)
        return frames_of(path)[1][0]

    again = first_frame("a", "Harbour at dawn", 7), first_frame("b", "Harbour at dawn", 7)
    other = first_frame("c", "Harbour at dawn", 8)
    assert mean_difference(*again) < 0.5
    assert mean_difference(again[0], other) > 5
