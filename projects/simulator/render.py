"""Renders the simulator's clips: real H.264 MP4s with visible motion, made with PyAV and Pillow."""

from __future__ import annotations

import colorsys
import hashlib
import math
import random
from array import array
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import av
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FPS = 24  # Seedance's, and what billing counts; a simulator may render at one of RATES
RATES = (24, 25, 30)
SAMPLE_RATE = 48000
# Long enough for the zoom to read as motion, short enough that overlays settle early.
FADE_SECONDS = 0.75
MAX_ZOOM = 0.12
# How long a clip given a last frame takes to dissolve into it.
DISSOLVE_SECONDS = 1.0
# Small clips, for tests that never look at pixels: each side this much shorter, and
# never below the minimum (even, as yuv420p needs).
SMALL_DIVISOR = 8
SMALL_MIN_SIDE = 32
# Frames are drawn this many at a time on threads while the encoder takes them in order:
# Pillow lets go of the GIL while it scales, so a chain's clips, rendered one after the
# other, use a second core too.
DRAWING_THREADS = 2
FRAMES_AHEAD = 4
# Endings that spoil a clip's last moments, for the seam guard to catch ([sim:end=...]):
# a fade to black, a focus pull into heavy blur, a hard cut to another scene. Each takes
# this long, well inside the clip's last second; the last frames are fully spoiled.
ENDINGS = ("black", "blur", "cut")
ENDING_SECONDS = 0.5


def render_clip(
    path,
    *,
    width,
    height,
    duration,
    prompt,
    first_frame=None,
    last_frame=None,
    reference=None,
    generate_audio=False,
    seed=0,
    small=False,
    progress=None,
    ending=None,
    fps=FPS,
):
    """Write a `duration`-second clip to `path` and return its last frame as an RGB image.

    Frame 0 is `first_frame` (fitted to the size) untouched, else the first `reference`
    image, else a picture derived from the prompt; later frames zoom and pan over it and
    bring in the prompt text, a light sweep and a bouncing dot. With a `last_frame`, the
    clip dissolves into it over its final moments and ends on it exactly.
    `small` renders at small_size() with no overlays and no blurs: the same frames,
    sound and motion for a fraction of the work. `progress(fraction)` is called after
    each frame is encoded. `ending`, one of ENDINGS, spoils the last ENDING_SECONDS: a
    fade to black, a pull into heavy blur, or a hard cut to another scene. `fps`, one of
    RATES, is its frame rate: `duration` x `fps` frames.
    """
    if fps not in RATES:
        raise ValueError(f"unknown frame rate {fps!r}; one of {', '.join(map(str, RATES))}")
    if small:
        width, height = small_size(width, height)
    rng = random.Random(hashlib.sha256(f"{seed}\0{prompt}".encode()).digest())
    palette = _palette(rng)
    if first_frame is not None:
        base = fit(first_frame, width, height)
    elif reference is not None:
        base = fit(reference, width, height)
    else:
        base = _landscape(width, height, palette, rng, glow=not small)
    # Text and blurred shapes are most of a frame's cost, and the zoom alone shows motion.
    overlays = None if small else _Overlays(width, height, prompt, palette, rng, fps)
    total = fps * duration
    target = fit(last_frame, width, height) if last_frame is not None else None
    dissolve = min(total - 1, round(fps * DISSOLVE_SECONDS))
    # Pan toward a seeded point, never so far that the zoomed window leaves the picture.
    pan_x = rng.uniform(-1, 1) * width * MAX_ZOOM / 2.5
    pan_y = rng.uniform(-1, 1) * height * MAX_ZOOM / 2.5
    spoil = _spoiler(ending, width, height, rng, pan_x, pan_y) if ending else None
    spoiled = min(total - 1, round(fps * ENDING_SECONDS))

    def draw(index):
        if not index:
            return base
        t = index / (total - 1)
        frame = _zoomed(base, t, pan_x, pan_y)
        if overlays:
            overlays.draw(frame, index, total)
        left = total - 1 - index  # frames until the end
        if target is not None and left < dissolve:
            frame = Image.blend(target, frame, left / dissolve)
        if spoil is not None and left < spoiled:
            frame = spoil(frame, t, 1 - left / spoiled)
        return frame

    with (
        av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as out,
        ThreadPoolExecutor(DRAWING_THREADS, thread_name_prefix="simulator-draw") as drawing,
    ):
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        # The fastest preset, since the test suite renders many clips; crf 18 keeps a
        # chained first frame within a few levels of its source after one encode.
        video.options = {"preset": "ultrafast", "crf": "18"}
        audio = _Tone(out, total, fps) if generate_audio else None

        for index, frame in enumerate(_in_order(drawing, draw, total)):
            picture = av.VideoFrame.from_image(frame)
            picture.pts = index
            picture.time_base = Fraction(1, fps)
            out.mux(video.encode(picture))
            if audio:
                audio.write(index)
            if progress:
                progress((index + 1) / total)
        out.mux(video.encode())
        if audio:
            audio.flush()
    return frame


def _spoiler(ending, width, height, rng, pan_x, pan_y):
    """How `ending` spoils a frame: spoil(frame, t, share), `share` rising from just above
    0 on the first spoiled frame to 1 on the last."""
    if ending not in ENDINGS:
        raise ValueError(f"unknown ending {ending!r}; one of {', '.join(ENDINGS)}")
    if ending == "black":
        black = Image.new("RGB", (width, height), (3, 3, 4))
        # Fully black for the second half of the ending.
        return lambda frame, t, share: Image.blend(frame, black, min(1.0, 2 * share))
    if ending == "blur":
        widest = max(width, height) / 25

        def blurred(frame, t, share):
            return frame.filter(ImageFilter.GaussianBlur(widest * min(1.0, 2 * share)))

        return blurred
    # A cut: from the first spoiled frame on, another scene in other colours.
    palette = _palette(random.Random(rng.random()))
    palette = {key: _opposite(value) for key, value in palette.items()}
    other = _landscape(width, height, palette, rng, glow=False).transpose(
        Image.Transpose.FLIP_LEFT_RIGHT
    )
    return lambda frame, t, share: _zoomed(other, t, -pan_x, -pan_y)


def _opposite(colour):
    """The colour(s) on the other side of the hue circle, darker: plainly another scene."""
    if isinstance(colour, list):
        return [_opposite(c) for c in colour]
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in colour))
    r, g, b = colorsys.hsv_to_rgb((h + 0.5) % 1, max(s, 0.6), v * 0.6)
    return round(r * 255), round(g * 255), round(b * 255)


def _in_order(pool, make, count):
    """make(0), ..., make(count - 1) in order, made on `pool` up to FRAMES_AHEAD at a time."""
    pending = deque()
    try:
        for index in range(count):
            pending.append(pool.submit(make, index))
            if len(pending) > FRAMES_AHEAD:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:  # the caller stopped early: draw nothing more for it
            future.cancel()


def small_size(width, height):
    """The frame size of a small clip of width x height."""
    return tuple(
        max(SMALL_MIN_SIDE, 2 * round(side / SMALL_DIVISOR / 2)) for side in (width, height)
    )


def fit(image, width, height):
    """Centre-crop `image` to the aspect ratio of width x height, then scale it to that size."""
    image = image.convert("RGB")
    src_w, src_h = image.size
    if src_w * height > width * src_h:
        crop_w, crop_h = src_h * width / height, src_h
    else:
        crop_w, crop_h = src_w, src_w * height / width
    left, top = (src_w - crop_w) / 2, (src_h - crop_h) / 2
    return image.resize(
        (width, height), Image.Resampling.BICUBIC, box=(left, top, left + crop_w, top + crop_h)
    )


def _zoomed(base, t, pan_x, pan_y):
    ease = t * t * (3 - 2 * t)
    width, height = base.size
    zoom = 1 + MAX_ZOOM * ease
    crop_w, crop_h = width / zoom, height / zoom
    left = (width - crop_w) / 2 + pan_x * ease
    top = (height - crop_h) / 2 + pan_y * ease
    # resize with a box is separable and about twice as fast as an EXTENT transform.
    return base.resize(
        base.size, Image.Resampling.BILINEAR, box=(left, top, left + crop_w, top + crop_h)
    )


def _palette(rng):
    hue = rng.random()

    def colour(shift, saturation, value):
        r, g, b = colorsys.hsv_to_rgb((hue + shift) % 1, saturation, value)
        return round(r * 255), round(g * 255), round(b * 255)

    return {
        "sky_top": colour(0.0, 0.55, 0.45),
        "sky_low": colour(0.08, 0.35, 0.95),
        "sun": colour(0.12, 0.25, 1.0),
        "hills": [colour(0.45 + i * 0.04, 0.45, 0.65 - i * 0.17) for i in range(3)],
        "accent": colour(0.5, 0.7, 1.0),
    }


def _landscape(width, height, palette, rng, glow=True):
    """A sky, a sun (glowing unless told not to) and three ranges of hills: enough to see motion."""
    horizon = round(height * rng.uniform(0.5, 0.65))
    gradient = Image.linear_gradient("L").resize((width, height), Image.Resampling.BILINEAR)
    picture = Image.composite(
        Image.new("RGB", (width, height), palette["sky_low"]),
        Image.new("RGB", (width, height), palette["sky_top"]),
        gradient,
    )
    sun_x = rng.uniform(0.2, 0.8) * width
    sun_y = horizon - rng.uniform(0.15, 0.3) * height
    radius = height * 0.09
    if glow:
        halo = Image.new("L", (width, height), 0)
        ImageDraw.Draw(halo).ellipse(
            (sun_x - 2 * radius, sun_y - 2 * radius, sun_x + 2 * radius, sun_y + 2 * radius),
            fill=120,
        )
        halo = halo.filter(ImageFilter.GaussianBlur(radius))
        picture.paste(palette["sun"], (0, 0), halo)
    draw = ImageDraw.Draw(picture)
    draw.ellipse((sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius), palette["sun"])

    step = max(4, width // 96)
    for layer, colour in enumerate(palette["hills"]):
        base_y = horizon + layer * height * 0.12
        amplitude = height * (0.08 - layer * 0.015)
        waves = [(rng.uniform(1, 4) * math.tau, rng.uniform(0, math.tau)) for _ in range(3)]
        outline = [
            (x, base_y - amplitude * sum(math.sin(f * x / width + p) for f, p in waves) / 3)
            for x in range(0, width + step, step)
        ]
        draw.polygon([*outline, (width, height), (0, height)], fill=colour)
    return picture


class _Overlays:
    """What moves on top of the picture; each layer is drawn once and pasted per frame."""

    def __init__(self, width, height, prompt, palette, rng, fps):
        self.width, self.height = width, height
        self.fade_frames = max(1, round(FADE_SECONDS * fps))
        self.text, self.text_mask, self.text_pos = _caption(width, height, prompt)

        # A soft, slanted band of light that crosses the frame once per clip.
        band_w = max(8, width // 5)
        row = Image.new("L", (band_w, 1))
        row.putdata([round(70 * math.sin(math.pi * x / (band_w - 1)) ** 2) for x in range(band_w)])
        band = row.resize((band_w, height), Image.Resampling.NEAREST)
        shear = 0.35
        self.sweep = band.transform(
            (band_w + round(shear * height), height),
            Image.Transform.AFFINE,
            (1, shear, -shear * height, 0, 1, 0),
            Image.Resampling.BILINEAR,
        )

        size = max(8, height // 14)
        dot = Image.new("L", (size * 2, size * 2), 0)
        ImageDraw.Draw(dot).ellipse((size / 2, size / 2, size * 1.5, size * 1.5), fill=230)
        self.dot = dot.filter(ImageFilter.GaussianBlur(size / 8))
        self.dot_colour = palette["accent"]
        self.bounces = rng.uniform(1.5, 3)

    def draw(self, frame, index, total):
        strength = min(1.0, index / self.fade_frames)
        t = index / (total - 1)

        sweep_x = round(-self.sweep.width + t * (self.width + self.sweep.width))
        frame.paste((255, 255, 255), (sweep_x, 0), _scaled(self.sweep, strength))

        x = round((self.width - self.dot.width) * abs(((t * 1.7) % 2) - 1))
        bounce = abs(math.sin(t * self.bounces * math.pi))
        y = round((self.height * 0.45 - self.dot.height) * (1 - bounce) + self.height * 0.05)
        frame.paste(self.dot_colour, (x, y), _scaled(self.dot, strength))

        if self.text:
            slide = round((1 - strength) ** 2 * self.height * 0.05)
            left, top = self.text_pos
            frame.paste(self.text, (left, top + slide), _scaled(self.text_mask, strength))


def _scaled(mask, strength):
    if strength >= 1:
        return mask
    return mask.point([round(v * strength) for v in range(256)])


def _caption(width, height, prompt):
    """The prompt as up to three wrapped lines on a translucent panel, low in the frame."""
    words = " ".join(prompt.split()).split(" ")
    if not words[0]:
        return None, None, None
    font = ImageFont.load_default(size=max(10, height // 20))
    max_w = width * 0.8
    lines, line = [], ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if line and font.getlength(candidate) > max_w:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    if len(lines) > 3:
        lines = lines[:3]
        while lines[2] and font.getlength(lines[2] + "…") > max_w:
            lines[2] = lines[2][:-1]
        lines[2] += "…"

    ascent, descent = font.getmetrics()
    line_h = ascent + descent
    pad = line_h // 2
    panel_w = round(max(font.getlength(text) for text in lines)) + 2 * pad
    panel_h = line_h * len(lines) + 2 * pad
    colours = Image.new("RGB", (panel_w, panel_h), (12, 12, 16))
    mask = Image.new("L", (panel_w, panel_h), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, panel_w - 1, panel_h - 1), pad, fill=140)
    ink, alpha = ImageDraw.Draw(colours), ImageDraw.Draw(mask)
    for i, text in enumerate(lines):
        ink.text((pad, pad + i * line_h), text, font=font, fill=(255, 255, 255))
        alpha.text((pad, pad + i * line_h), text, font=font, fill=255)
    position = ((width - panel_w) // 2, round(height * 0.94) - panel_h)
    return colours, mask, position


class _Tone:
    """A quiet open fifth (240 Hz and 360 Hz), muxed alongside the video frame by frame."""

    # 400 samples hold whole periods of both partials, so the tone repeats every PERIOD.
    PERIOD = 400
    FADE = SAMPLE_RATE // 4

    def __init__(self, container, video_frames, fps):
        self.container = container
        self.stream = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        self.per_frame = SAMPLE_RATE // fps
        self.total = video_frames * self.per_frame
        cycle = [
            0.08 * math.sin(math.tau * 240 * i / SAMPLE_RATE)
            + 0.05 * math.sin(math.tau * 360 * i / SAMPLE_RATE)
            for i in range(self.PERIOD)
        ]
        # A frame's samples start anywhere in the cycle: enough of it for any start.
        self.wave = cycle * (self.per_frame // self.PERIOD + 2)
        self.steady = {}  # a frame's full-level samples, by where in the cycle it starts

    def write(self, index):
        start = index * self.per_frame
        if start >= self.FADE and start + self.per_frame <= self.total - self.FADE:
            phase = start % self.PERIOD
            if phase not in self.steady:
                self.steady[phase] = self._pcm(start, lambda sample: 1.0)
            pcm = self.steady[phase]
        else:
            pcm = self._pcm(start, self._envelope)
        frame = av.AudioFrame(format="s16", layout="mono", samples=self.per_frame)
        frame.planes[0].update(pcm)
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self.container.mux(self.stream.encode(frame))

    def flush(self):
        self.container.mux(self.stream.encode())

    def _pcm(self, start, envelope):
        phase = start % self.PERIOD
        chunk = self.wave[phase : phase + self.per_frame]
        samples = (round(32767 * v * envelope(start + i)) for i, v in enumerate(chunk))
        return array("h", samples).tobytes()

    def _envelope(self, sample):
        return max(0.0, min(1.0, sample / self.FADE, (self.total - sample) / self.FADE))
