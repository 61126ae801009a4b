"""Joining compatible clips by copying their compressed packets, without re-encoding."""

from collections.abc import Callable, Sequence
from fractions import Fraction

from .reading import open_video
from .sources import Source
from .writing import AtomicMp4


def remux(sources: Sequence[Source], target: AtomicMp4, report: Callable[[float], None]) -> None:
    """Append the packets of `sources` (which share one copy_key) to `target`, in order.

    Each clip's timestamps are shifted by the total duration of the clips before it.
    """
    with open_video(sources[0].path) as (container, video):
        out_video = target.container.add_stream_from_template(video)
        out_audio = (
            target.container.add_stream_from_template(container.streams.audio[0])
            if sources[0].has_audio
            else None
        )

    total = sum(source.duration for source in sources)
    offset = Fraction(0)
    audio_end = None  # output time, in audio ticks, at which the audio written so far ends
    for source in sources:
        report(float(offset / total))
        end = offset + source.duration
        with open_video(source.path) as (container, video):
            audio = container.streams.audio[0] if out_audio else None
            video_shift = round((offset - source.start) / video.time_base)
            if audio:
                audio_shift = round((offset - source.start) / audio.time_base)
                clip_end = round(end / audio.time_base)
            for packet in container.demux([s for s in (video, audio) if s]):
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                if packet.stream_index == video.index:
                    packet.pts += video_shift
                    packet.dts += video_shift
                    packet.stream = out_video
                else:
                    start = packet.pts + audio_shift
                    # AAC frames can't be cut without re-encoding, so drop the ones that would
                    # overlap audio already written (the encoder priming at the start of each
                    # clip) or run past the clip's picture; each clip's sound then stays in
                    # sync with its picture instead of drifting by a frame per seam.
                    if (audio_end is not None and start < audio_end) or (
                        start + packet.duration > clip_end
                    ):
                        continue
                    audio_end = start + packet.duration
                    packet.pts = start
                    packet.dts += audio_shift
                    packet.stream = out_audio
                target.mux(packet)
        offset = end
