"""Clips checked and kept: a recorded prompt must be a WAV or MP3 file both Twilio and Somleng play,
of a prompt's length, and loud enough (neither whispered nor distorted), before the line plays it
to callers. Read with soundfile (libsndfile, pinned in requirements.txt).

Loudness is the active speech level: the mean power of the 20 ms frames that are not silence
(the idea of ITU-T P.56, simplified), in dB relative to full scale; and clipping is the share of
samples at full scale. https://www.twilio.com/docs/voice/twiml/play#supported-audio-file-types
"""
from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy
import soundfile

from hotline.voice.catalogue import CLIP_TYPES

MAX_BYTES = 2 * 1024 * 1024
"""The largest clip taken (a 30 s prompt is about 0.5 MB as 8 kHz WAV)."""

MIN_SECONDS, MAX_SECONDS = 0.3, 30.0
"""A prompt's shortest and longest length (a digit is short; a tip is the longest text)."""

MIN_RATE = 8000
"""Telephone quality: anything below is not worth playing."""

FORMATS = {"WAV": ".wav", "MP3": ".mp3"}
"""What the platforms play, and the extension a clip of it is kept under."""

WAV_SUBTYPES = ("PCM_U8", "PCM_S8", "PCM_16", "PCM_24", "PCM_32", "ULAW", "ALAW", "FLOAT")
"""WAV encodings Twilio plays (uncompressed PCM, and the telephone codecs)."""

SILENCE_DB = -50.0
"""A 20 ms frame quieter than this is silence (left out of the speech level)."""

QUIETEST_DB, LOUDEST_DB = -35.0, -6.0
"""The speech level a clip must have: quieter is hard to hear on a phone; louder distorts."""

CLIPPED_SHARE = 0.001
"""More than this share of samples at full scale: the recording is distorted."""

FRAME_SECONDS = 0.02


class ClipRefused(ValueError):
    """A clip that the line will not play; the message says why in words for the recorder."""


@dataclass(frozen=True)
class Checked:
    """A clip that passed: its format, length and loudness."""

    extension: str
    seconds: float
    level_db: float
    rate: int


def check(data: bytes) -> Checked:
    """Check a clip's format, length and loudness; ClipRefused naming the problem."""
    if len(data) > MAX_BYTES:
        raise ClipRefused(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        info = soundfile.info(io.BytesIO(data))
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float64", always_2d=True)
    except (RuntimeError, TypeError, ValueError, soundfile.LibsndfileError):
        raise ClipRefused("not an audio file the line can read (record it as WAV or MP3)") from None
    if info.format not in FORMATS:
        raise ClipRefused(f"a {info.format} file: give a WAV or MP3 file")
    if info.format == "WAV" and info.subtype not in WAV_SUBTYPES:
        raise ClipRefused(f"a WAV file encoded as {info.subtype}: save it as 16-bit PCM")
    if rate < MIN_RATE:
        raise ClipRefused(f"recorded at {rate} Hz: at least {MIN_RATE} Hz is needed")
    seconds = len(samples) / rate
    if seconds < MIN_SECONDS:
        raise ClipRefused(f"{seconds:.1f} s long: too short to be a prompt")
    if seconds > MAX_SECONDS:
        raise ClipRefused(f"{seconds:.1f} s long: a prompt is at most {MAX_SECONDS:.0f} s")
    mono = samples.mean(axis=1)
    if numpy.mean(numpy.abs(samples) >= 0.999) > CLIPPED_SHARE:
        raise ClipRefused("distorted (too loud: the sound hits the limit): record it a little further from the phone")
    level = speech_level(mono, rate)
    if level is None:
        raise ClipRefused("silent: nothing was heard")
    if level < QUIETEST_DB:
        raise ClipRefused(f"too quiet ({level:.0f} dB): speak closer to the phone, or louder")
    if level > LOUDEST_DB:
        raise ClipRefused(f"too loud ({level:.0f} dB): speak a little further from the phone")
    return Checked(FORMATS[info.format], seconds, level, rate)


def speech_level(mono, rate: int) -> float | None:
    """The active level in dBFS: the mean power of the frames louder than SILENCE_DB (None: all silent)."""
    size = max(1, int(rate * FRAME_SECONDS))
    frames = len(mono) // size
    if frames == 0:
        return None
    power = numpy.mean(mono[:frames * size].reshape(frames, size) ** 2, axis=1)
    floor = 10 ** (SILENCE_DB / 10)
    active = power[power > floor]
    if not len(active):
        return None
    return float(10 * numpy.log10(numpy.mean(active)))


def store(voice_dir: str | Path, lang: str, clip: str, data: bytes, checked: Checked) -> Path:
    """Keep a checked clip as `<voice_dir>/<lang>/<clip><ext>`, replacing any earlier one (written
    whole, then renamed: the platform never fetches half a file)."""
    target = Path(voice_dir) / lang / f"{clip}{checked.extension}"
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=checked.extension)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    for ext in CLIP_TYPES:  # an older clip of the same text in the other format would shadow or confuse
        if ext != checked.extension:
            (target.parent / f"{clip}{ext}").unlink(missing_ok=True)
    return target
