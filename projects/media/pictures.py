"""Frames as encoders take them: fitted to a size, blended for crossfades, faded for dips.

Everything works on 8-bit YUV 4:2:0 planes through Pillow, so nothing needs numpy.
"""

import av
from av.video.reformatter import ColorRange
from PIL import Image

FORMAT = "yuv420p"


def fit(frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
    """`frame` as limited-range yuv420p at width x height, scaled to fit and boxed.

    A frame that is already so is returned as it is: converting costs as much as decoding.
    """
    if (frame.width, frame.height, frame.format.name) == (width, height, FORMAT) and (
        frame.color_range != ColorRange.JPEG
    ):
        return frame
    scale = min(width / frame.width, height / frame.height)
    inner_width = min(width, even(round(frame.width * scale)))
    inner_height = min(height, even(round(frame.height * scale)))
    inner = frame.reformat(
        inner_width,
        inner_height,
        FORMAT,
        interpolation="BICUBIC",
        src_color_range=frame.color_range,
        dst_color_range=ColorRange.MPEG,
    )
    if (inner_width, inner_height) == (width, height):
        return inner
    canvas = black(width, height)
    # Even offsets keep the half-size chroma planes aligned with the luma plane.
    left, top = (width - inner_width) // 4 * 2, (height - inner_height) // 4 * 2
    for index, (dst, src) in enumerate(zip(canvas.planes, inner.planes, strict=True)):
        shift = 0 if index == 0 else 1  # chroma planes are half size both ways
        x, y = left >> shift, top >> shift
        out, row_bytes = memoryview(dst), src.width
        for row, start in enumerate(range(0, src.height * src.line_size, src.line_size)):
            at = (y + row) * dst.line_size + x
            out[at : at + row_bytes] = memoryview(src)[start : start + row_bytes]
    return canvas


def black(width: int, height: int, full_range: bool = False) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, FORMAT)
    for plane, value in zip(frame.planes, _black(full_range), strict=True):
        plane.update(bytes([value]) * plane.buffer_size)
    return frame


def blend(outgoing: av.VideoFrame, incoming: av.VideoFrame, weight: float) -> av.VideoFrame:
    """(1 - weight) * outgoing + weight * incoming, plane by plane."""
    planes = [
        Image.blend(a, b, weight) for a, b in zip(_planes(outgoing), _planes(incoming), strict=True)
    ]
    return _frame(planes, like=incoming)


def fade(frame: av.VideoFrame, level: float, full_range: bool = False) -> av.VideoFrame:
    """`frame` at `level` (0 black, 1 as it is), towards black in YUV so colours don't
    shift: luma towards black's level, chroma towards neutral."""
    planes = [
        Image.blend(Image.new("L", plane.size, value), plane, level)
        for plane, value in zip(_planes(frame), _black(full_range), strict=True)
    ]
    return _frame(planes, like=frame)


def even(n: int) -> int:
    return max(2, n - n % 2)


def _black(full_range: bool) -> tuple[int, int, int]:
    return (0 if full_range else 16, 128, 128)


def _format(frame: av.VideoFrame) -> str:
    """yuv420p, or yuvj420p for frames in that (full-range) format."""
    return frame.format.name if frame.format.name == "yuvj420p" else FORMAT


def _planes(frame: av.VideoFrame) -> list[Image.Image]:
    if frame.format.name != _format(frame):
        frame = frame.reformat(format=FORMAT)
    sizes = [(frame.width, frame.height)] + [((frame.width + 1) // 2, (frame.height + 1) // 2)] * 2
    return [
        Image.frombuffer("L", size, bytes(plane), "raw", "L", plane.line_size, 1)
        for plane, size in zip(frame.planes, sizes, strict=True)
    ]


def _frame(planes: list[Image.Image], like: av.VideoFrame) -> av.VideoFrame:
    frame = av.VideoFrame(like.width, like.height, _format(like))
    frame.color_range = like.color_range
    for plane, image in zip(frame.planes, planes, strict=True):
        data = image.tobytes()
        if plane.line_size == image.width:
            plane.update(data + bytes(plane.buffer_size - len(data)))
            continue
        out = memoryview(plane)
        for row in range(image.height):
            at = row * plane.line_size
            out[at : at + image.width] = data[row * image.width : (row + 1) * image.width]
    return frame


class Transitions:
    """Applies the pieces' transitions to their frames, in output order.

    `take` returns the frame to encode at an output frame, or None while it holds the
    outgoing frames of a crossfade until the incoming piece's frames arrive to blend with.
    """

    def __init__(self, full_range: bool = False) -> None:
        self._full_range = full_range
        self._piece = None
        self._held: list[av.VideoFrame] = []  # the previous piece's outgoing frames
        self._holding: list[av.VideoFrame] = []  # this piece's, for the next one

    def take(self, piece, output: int, frame: av.VideoFrame) -> av.VideoFrame | None:
        if piece is not self._piece:
            self._piece = piece
            self._held, self._holding = self._holding, []
        at = output - piece.start  # frames into the piece
        if at < piece.blend_in:
            frame = blend(self._held[at], frame, (at + 1) / (piece.blend_in + 1))
        if at < piece.fade_in:
            frame = fade(frame, at / piece.fade_in, self._full_range)
        left = piece.frames - at  # frames from this one to the piece's end
        if left <= piece.fade_out:
            frame = fade(frame, (left - 1) / piece.fade_out, self._full_range)
        if left <= piece.blend_out:
            self._holding.append(frame)
            return None
        return frame
