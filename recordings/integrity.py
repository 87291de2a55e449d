"""Size and SHA-256 checks of a fetched recording.

ARI's ``GET /recordings/stored/{name}/file`` gives the bytes and nothing to
check them against, so the size check comes from the file itself: a WAV file
states its own length twice (the RIFF chunk size and the ``data`` chunk
size), and Asterisk rewrites both when it closes the file, before it sends
``RecordingFinished``.  A body cut short in transit, or a file still being
written, disagrees with its header and is refused (the fetch is retried).
The SHA-256 computed over the received bytes is compared with the hash of
what was read back from disk after the atomic rename (see
:mod:`recordings.storage`), and is what the metadata keeps.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from recordings.errors import IntegrityMismatch


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What a checked recording is: its size, hash and, for WAV, its audio shape."""

    size_bytes: int
    sha256: str
    duration_s: float | None = None
    channels: int | None = None
    sample_rate: int | None = None
    bits_per_sample: int | None = None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def inspect_recording(name: str, fmt: str, data: bytes) -> AudioInfo:
    """Check ``data`` as a recording of format ``fmt``; raise :class:`IntegrityMismatch`.

    Every format must be non-empty; ``wav`` must also be a well-formed RIFF
    file whose declared sizes match the number of bytes received.
    """
    if not data:
        raise IntegrityMismatch(name, "size", "more than 0 bytes", 0)
    digest = sha256_hex(data)
    if fmt.lower() != "wav":
        return AudioInfo(size_bytes=len(data), sha256=digest)
    channels, rate, byte_rate, bits, data_size = _parse_wav(name, data)
    duration = data_size / byte_rate if byte_rate else None
    return AudioInfo(
        size_bytes=len(data),
        sha256=digest,
        duration_s=duration,
        channels=channels,
        sample_rate=rate,
        bits_per_sample=bits,
    )


def _parse_wav(name: str, data: bytes) -> tuple[int, int, int, int, int]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise IntegrityMismatch(name, "wav header", "RIFF/WAVE", data[:12].hex())
    (riff_size,) = struct.unpack_from("<I", data, 4)
    if riff_size + 8 != len(data):
        raise IntegrityMismatch(name, "size", riff_size + 8, len(data))
    fmt_chunk: tuple[int, int, int, int] | None = None
    data_size: int | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = offset + 8
        if body + size > len(data):
            raise IntegrityMismatch(name, f"{chunk_id!r} chunk size", size, len(data) - body)
        if chunk_id == b"fmt " and size >= 16:
            _audio_format, channels, rate, byte_rate, _align, bits = struct.unpack_from(
                "<HHIIHH", data, body
            )
            fmt_chunk = (channels, rate, byte_rate, bits)
        elif chunk_id == b"data":
            data_size = size
        offset = body + size + (size & 1)
    if fmt_chunk is None or data_size is None:
        raise IntegrityMismatch(name, "wav chunks", "fmt and data", "missing")
    channels, rate, byte_rate, bits = fmt_chunk
    return channels, rate, byte_rate, bits, data_size


def make_wav(pcm: bytes, *, sample_rate: int = 8000, channels: int = 1, bits: int = 16) -> bytes:
    """A PCM WAV file around ``pcm`` (16-bit mono 8 kHz by default, like Asterisk's ``wav``)."""
    block_align = channels * bits // 8
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm) + (len(pcm) & 1),
        b"WAVE",
        b"fmt ",
        16,
        1,
        channels,
        sample_rate,
        sample_rate * block_align,
        block_align,
        bits,
        b"data",
        len(pcm),
    )
    return header + pcm + (b"\x00" if len(pcm) & 1 else b"")
