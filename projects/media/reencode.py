"""Joining pieces by decoding them and encoding one uniform H.264/AAC stream."""

from collections.abc import Callable, Iterator
from contextlib import suppress
from fractions import Fraction

import av
from av.video.frame import PictureType
from av.video.reformatter import ColorRange

from .pictures import Transitions, even, fit
from .plan import Placed
from .reading import no_frames, open_video
from .soundtrack import alongside
from .writing import AtomicMp4

FPS = 24  # when the clips' rates differ
# veryfast at CRF 19 looks the same as the default preset on generated footage for a
# fraction of the CPU, which matters on the small servers exports run on.
X264_OPTIONS = {"preset": "veryfast", "crf": "19"}


def reencode(
    placed: list[Placed],
    target: AtomicMp4,
    report: Callable[[float], None],
    normalize: bool = False,
) -> None:
    """Encode the pieces one after another into `target` at the first clip's size.

    Frames are letterboxed to fit; there is an AAC track if any clip has sound, silent
    during the clips without.
    """
    first = placed[0].source
    width, height = even(first.width), even(first.height)
    stream = target.container.add_stream("libx264", rate=placed[0].rate, options=dict(X264_OPTIONS))
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    # Pixels are brought to limited range but not converted between colour matrices, so the
    # result is tagged as the first clip is; generated clips all share one.
    codec = stream.codec_context
    codec.colorspace, codec.color_primaries, codec.color_trc = first.colors
    codec.color_range = ColorRange.MPEG
    # Frame threads, as FFmpeg's command line has them: PyAV's default of slice threads
    # stalls while the decoder's threads share the cores.
    codec.thread_type = "FRAME"
    with alongside(target, placed, normalize):
        _picture(placed, target, stream, width, height, report)


def _picture(placed: list[Placed], target: AtomicMp4, stream, width, height, report) -> None:
    transitions = Transitions()
    total = placed[-1].end
    for piece in placed:
        frames = _frames(piece)
        shown = None  # the source frame on screen, as (display index, frame)
        for output in range(piece.start, piece.end):
            wanted = piece.source_frame(output)
            while shown is None or shown[0] < wanted:
                following = next(frames, None)
                if following is None:  # fewer frames than the index said: hold the last
                    break
                shown = following
            if shown is None:
                raise no_frames(piece.source.path)
            picture = transitions.take(piece, output, fit(shown[1], width, height))
            if picture is not None:
                _emit(target, stream, picture, output / piece.rate)
            report(output / total)
        frames.close()
    target.encode(stream)


def _frames(piece: Placed) -> Iterator[tuple[int, av.VideoFrame]]:
    """The piece's frames with their display indices, from its first to its last."""
    index = piece.source.index
    with open_video(piece.source.path) as (container, video):
        if piece.first > 0:
            # A clip that can't seek is decoded from the start; earlier frames are skipped.
            with suppress(av.FFmpegError):
                container.seek(index.pts[piece.first], stream=video)
        rank = -1
        for frame in container.decode(video):
            found = index.rank(frame.pts)
            rank = rank + 1 if found is None else found
            if rank < piece.first:
                continue
            if rank > piece.last:
                return
            yield rank, frame


def _emit(target: AtomicMp4, stream, frame: av.VideoFrame, time: Fraction) -> None:
    frame.time_base = 1 / stream.average_rate
    frame.pts = round(time / frame.time_base)
    # Decoded frames carry their source picture type, which libx264 would obey.
    frame.pict_type = PictureType.NONE
    target.encode(stream, frame)
