"""Recordings on disk: 16-bit mono 8 kHz PCM WAV, as Asterisk writes a bridge recording."""

from __future__ import annotations

import math
import wave
from array import array
from functools import cache
from pathlib import Path

RATE = 8000


@cache
def _one_second() -> bytes:
    """A quiet 425 Hz tone (the Chinese ring-back frequency), one second long."""
    samples = array("h", (int(900 * math.sin(2 * math.pi * 425 * i / RATE)) for i in range(RATE)))
    return samples.tobytes()


def audio(seconds: float) -> bytes:
    """``seconds`` of audio frames (little-endian 16-bit samples)."""
    frames = max(0, int(seconds * RATE))
    block = _one_second()
    whole, rest = divmod(frames, RATE)
    return block * whole + block[: rest * 2]


def write_wav(path: Path, seconds: float, *, append: bool = False) -> None:
    """Write (or extend, with ``append``) a recording of ``seconds`` seconds."""
    previous = b""
    if append and path.exists():
        with wave.open(str(path), "rb") as old:
            previous = old.readframes(old.getnframes())
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(previous + audio(seconds))


def wav_seconds(path: Path) -> float:
    """The length of a WAV file in seconds (0 if it cannot be read)."""
    try:
        with wave.open(str(path), "rb") as recording:
            return recording.getnframes() / float(recording.getframerate())
    except (OSError, wave.Error, EOFError):
        return 0.0
