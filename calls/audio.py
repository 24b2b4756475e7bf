"""Checks that a recording is decodable audio and reads its basic facts, before it is stored or transcribed."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import av
from av.audio.stream import AudioStream
from av.container import InputContainer

DECODE_CHECK_SECONDS = 2.0  # decoded up front, so a cut or garbage file is rejected at ingest, not in the STT worker
# Headers round or estimate the duration (an MP3 without a Xing header is estimated from its bitrate); a bigger gap
# between what the header declares and what decodes means the download was cut short.
TRUNCATION_TOLERANCE_SECONDS = 0.5
HASH_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class AudioInfo:
    duration_seconds: float
    channels: int
    sample_rate: int  # of the decoded audio: Opus always decodes at 48000 Hz, whatever rate it was encoded from
    codec: str  # ffmpeg's codec name: "mp3", "opus", "pcm_s16le", "pcm_mulaw", "gsm_ms" ...
    container: str  # ffmpeg's demuxer name (first alias): "mp3", "ogg", "wav", "mov" ...


class AudioInvalid(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def probe_audio(source: str | os.PathLike[str] | BinaryIO) -> AudioInfo:
    """Opens the first audio stream and decodes its first seconds (the whole file only when no duration is declared).

    A file object is read from its current position and put back there afterwards. Raises AudioInvalid with a
    readable reason; a missing or unreadable path raises OSError, since that is not a property of the audio.
    """
    with _restored_position(source):
        try:
            container = av.open(os.fspath(source) if isinstance(source, str | os.PathLike) else source, mode="r")
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            raise
        except av.FFmpegError as exc:
            raise AudioInvalid(f"not an audio file ({_error_text(exc)})") from exc
        with container:
            return _probe_container(container)


def audio_sha256(source: str | os.PathLike[str] | BinaryIO) -> str:
    """Hex sha256 of the file's bytes; a file object is hashed from its current position and put back there."""
    digest = hashlib.sha256()
    with _restored_position(source), _opened(source) as file:
        while chunk := file.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _probe_container(container: InputContainer) -> AudioInfo:
    if not container.streams.audio:
        raise AudioInvalid("not an audio file (no audio stream)")
    stream = container.streams.audio[0]
    declared = _declared_seconds(container, stream)
    try:
        decoded, at_end = _decode_seconds(container, stream, DECODE_CHECK_SECONDS if declared else math.inf)
    except av.FFmpegError as exc:
        raise AudioInvalid(f"audio could not be decoded: {_error_text(exc)}") from exc

    if at_end and decoded == 0 and not declared:
        raise AudioInvalid("audio has zero duration")
    if decoded == 0:
        raise AudioInvalid("audio could not be decoded: no audio frames in the file")
    if at_end and declared and declared - decoded > TRUNCATION_TOLERANCE_SECONDS:
        raise AudioInvalid(f"audio is truncated: {decoded:.1f} s decodes of the {declared:.1f} s its header declares")
    duration = decoded if at_end else declared  # fully decoded: the sample count is exact, headers are not
    if not duration or duration <= 0:
        raise AudioInvalid("audio has zero duration")
    return AudioInfo(
        duration_seconds=duration,
        channels=stream.codec_context.layout.nb_channels,
        sample_rate=stream.codec_context.sample_rate,
        codec=stream.codec_context.codec.canonical_name,
        container=container.format.name.split(",")[0],
    )


def _declared_seconds(container: InputContainer, stream: AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def _decode_seconds(container: InputContainer, stream: AudioStream, limit_seconds: float) -> tuple[float, bool]:
    """Decodes until limit_seconds of audio or the end of the file; returns (seconds decoded, reached the end)."""
    seconds = 0.0
    for packet in container.demux(stream):
        for frame in packet.decode():  # the final empty packet flushes the decoder
            seconds += frame.samples / frame.sample_rate
        if seconds >= limit_seconds:
            return seconds, False
    return seconds, True


def _error_text(exc: av.FFmpegError) -> str:
    return exc.strerror or str(exc)


@contextmanager
def _opened(source: str | os.PathLike[str] | BinaryIO) -> Iterator[BinaryIO]:
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as file:
            yield file
    else:
        yield source


@contextmanager
def _restored_position(source: str | os.PathLike[str] | BinaryIO) -> Iterator[None]:
    if isinstance(source, str | os.PathLike):
        yield
        return
    start = source.tell()
    try:
        yield
    finally:
        source.seek(start)
