"""H.264 bitstream details that splicing needs: avcC records, NAL units, parameter-set ids.

Copied packets refer to their clip's SPS/PPS by id; packets encoded here refer to ours.
One avcC record can carry both pairs as long as their ids differ, which is what lets a
copied GOP and a re-encoded one share one MP4 track without in-band parameter sets.
"""

import struct
from dataclasses import dataclass

from .errors import MediaError

SPS, PPS, IDR = 7, 8, 5

# profile_idc to the name libx264 takes, for the 8-bit 4:2:0 profiles splicing supports.
X264_PROFILES = {66: "baseline", 77: "main", 100: "high"}


@dataclass(frozen=True)
class AvcConfig:
    """An AVCDecoderConfigurationRecord (the 'avcC' box)."""

    profile: int
    compatibility: int
    level: int
    length_size: int  # bytes in each NAL unit's length prefix
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    rest: bytes  # the High-profile extension (chroma format, bit depths), kept verbatim

    @classmethod
    def parse(cls, data: bytes) -> "AvcConfig":
        try:
            if data[0] != 1:
                raise ValueError("not an avcC record")
            at = 6
            sps, at = _parameter_sets(data, at, data[5] & 0x1F)
            pps, at = _parameter_sets(data, at + 1, data[at])
        except (IndexError, ValueError, struct.error) as exc:
            raise MediaError(f"The clip's H.264 configuration is malformed ({exc}).") from exc
        return cls(
            profile=data[1],
            compatibility=data[2],
            level=data[3],
            length_size=(data[4] & 3) + 1,
            sps=tuple(sps),
            pps=tuple(pps),
            rest=bytes(data[at:]),
        )

    def with_parameter_sets(self, sps: list[bytes], pps: list[bytes]) -> "AvcConfig":
        """This record with more parameter sets; their ids must not clash with ours."""
        return AvcConfig(
            self.profile,
            self.compatibility,
            self.level,
            self.length_size,
            self.sps + tuple(sps),
            self.pps + tuple(pps),
            self.rest,
        )

    def to_bytes(self) -> bytes:
        out = bytearray(
            [1, self.profile, self.compatibility, self.level, 0xFC | (self.length_size - 1)]
        )
        out.append(0xE0 | len(self.sps))
        for unit in self.sps:
            out += struct.pack(">H", len(unit)) + unit
        out.append(len(self.pps))
        for unit in self.pps:
            out += struct.pack(">H", len(unit)) + unit
        return bytes(out + self.rest)

    def ids_in_use(self) -> set[int]:
        """SPS and PPS ids of this record (x264 gives its PPS the SPS's id)."""
        return {sps_id(unit) for unit in self.sps} | {pps_id(unit) for unit in self.pps}


def _parameter_sets(data: bytes, at: int, count: int) -> tuple[list[bytes], int]:
    units = []
    for _ in range(count):
        (size,) = struct.unpack_from(">H", data, at)
        units.append(bytes(data[at + 2 : at + 2 + size]))
        if len(units[-1]) != size:
            raise ValueError("truncated parameter set")
        at += 2 + size
    return units, at


def nal_units(data: bytes, length_size: int) -> list[bytes]:
    """The NAL units of a length-prefixed (MP4) access unit."""
    units, at = [], 0
    while at + length_size <= len(data):
        size = int.from_bytes(data[at : at + length_size], "big")
        at += length_size
        units.append(data[at : at + size])
        at += size
    return units


def is_idr(data: bytes, length_size: int) -> bool:
    """Whether a length-prefixed access unit is an IDR picture: decodable on its own, and
    nothing after it refers to anything before it (a plain I-frame guarantees neither)."""
    return any(unit and unit[0] & 0x1F == IDR for unit in nal_units(data, length_size))


def annexb_units(data: bytes) -> list[bytes]:
    """The NAL units of a start-code (Annex B) stream, as encoders hand them out."""
    starts = []
    at = data.find(b"\x00\x00\x01")
    while at >= 0:
        starts.append(at + 3)
        at = data.find(b"\x00\x00\x01", at + 3)
    units = []
    for n, start in enumerate(starts):
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(data)
        unit = data[start:end]
        if n + 1 < len(starts):
            unit = unit.rstrip(b"\x00")  # a four-byte start code's leading zero
        units.append(unit)
    return units


def to_length_prefixed(data: bytes, length_size: int) -> bytes:
    """An encoder's Annex B access unit in MP4 form, without in-band parameter sets."""
    out = bytearray()
    for unit in annexb_units(data):
        if unit and unit[0] & 0x1F not in (SPS, PPS):
            out += len(unit).to_bytes(length_size, "big") + unit
    return bytes(out)


def sps_id(unit: bytes) -> int:
    """seq_parameter_set_id: after the NAL header, profile, constraint flags and level."""
    return _Bits(unit[4:]).ue()


def pps_id(unit: bytes) -> int:
    return _Bits(unit[1:]).ue()


class _Bits:
    """Exp-Golomb reading over a NAL payload, skipping emulation prevention bytes."""

    def __init__(self, payload: bytes) -> None:
        self._data = payload.replace(b"\x00\x00\x03", b"\x00\x00")
        self._at = 0

    def bit(self) -> int:
        byte = self._data[self._at >> 3]
        value = byte >> (7 - (self._at & 7)) & 1
        self._at += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while not self.bit():
            zeros += 1
            if zeros > 31:
                raise MediaError("The clip's H.264 parameter sets are malformed.")
        value = 1
        for _ in range(zeros):
            value = value << 1 | self.bit()
        return value - 1
