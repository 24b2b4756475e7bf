"""Checks that a recording is decodable audio and reads its basic facts, before it is stored or transcribed."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import av
from av.audio.stream import AudioStream
from av.container import InputContainer

# Every file is decoded to its end, frame by frame (one frame of samples in memory at a time, whatever the length), so
# a file cut short or garbled in the middle is rejected at ingest, not in the STT worker or, worse, scored on 13 s of a
# 33 s call. Measured (2-core dev box, PyAV 18 / ffmpeg 5.1 mp3 decoder) on 8 kHz stereo 16 kbps MP3, as the PBX
# serves it: a 3-minute file (360 KB) decodes in ~25 ms, a 20-minute one (2.4 MB) in ~150 ms (~0.1 s and ~0.5 s with
# the 2 cores shared by a dozen busy processes), and the process's peak RSS is the same for both (~39 MB, +0.6 MB from
# 3 to 20 minutes): noise next to the download, nothing next to transcription.
# Headers round the duration; a bigger gap between a header's length and what decodes means the download was cut
# short. (A length ffmpeg only estimates from the bitrate is not compared: see _ESTIMATED_LENGTH_FORMATS.)
TRUNCATION_TOLERANCE_SECONDS = 0.5
# Against the PBX's talk time (answer to hang-up, whole seconds): the recording starts when the call is bridged, so
# ring time is not in either, but the PBX rounds to the second and starts recording a moment after the answer, and a
# PBX may trim silence at the ends. A real recording is within a second or two of the talk time; one that is short
# by more than max(3 s, 10 %) lost part of the call. (A longer recording is fine: some PBXs record the ringing too.)
TALK_TIME_TOLERANCE_SECONDS = 3.0
TALK_TIME_TOLERANCE_SHARE = 0.10
# A mid-file packet the decoder rejects is skipped (as ffmpeg does) and its audio is missing from the decoded total;
# a file where more than this share of packets fails is not a recording with a glitch but garbage.
MAX_BAD_PACKET_SHARE = 0.05
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


class AudioTruncated(AudioInvalid):
    """Decodes as audio, but less of it than the header declares or the PBX says was talked: the file was cut short."""

    def __init__(self, *, decoded_seconds: float, expected_seconds: float, according_to: str) -> None:
        self.detail = f"decoded {decoded_seconds:.1f} s of the {expected_seconds:.1f} s {according_to}"
        super().__init__(f"audio is truncated: {self.detail}")
        self.decoded_seconds, self.expected_seconds = decoded_seconds, expected_seconds


def probe_audio(source: str | os.PathLike[str] | BinaryIO, *, talk_seconds: float | None = None) -> AudioInfo:
    """Opens the first audio stream and decodes it to the end (streamed: memory does not grow with the length).

    The decoded duration must match the header's and, when ``talk_seconds`` is given (the PBX's talk time), must not
    fall short of it by more than the tolerance above; otherwise AudioTruncated. A file object is read from its
    current position and put back there afterwards. Raises AudioInvalid with a readable reason; a missing or
    unreadable path raises OSError, since that is not a property of the audio.
    """
    with _restored_position(source):
        exact_header = _header_length_is_exact(source)
        try:
            container = av.open(os.fspath(source) if isinstance(source, str | os.PathLike) else source, mode="r")
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            raise
        except av.FFmpegError as exc:
            raise AudioInvalid(f"not an audio file ({_error_text(exc)})") from exc
        with container:
            return _probe_container(container, talk_seconds=talk_seconds, exact_header=exact_header)


def audio_sha256(source: str | os.PathLike[str] | BinaryIO) -> str:
    """Hex sha256 of the file's bytes; a file object is hashed from its current position and put back there."""
    digest = hashlib.sha256()
    with _restored_position(source), _opened(source) as file:
        while chunk := file.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _probe_container(container: InputContainer, *, talk_seconds: float | None, exact_header: bool) -> AudioInfo:
    if not container.streams.audio:
        raise AudioInvalid("not an audio file (no audio stream)")
    stream = container.streams.audio[0]
    declared = _declared_seconds(container, stream)
    estimated = container.format.name.split(",")[0] in _ESTIMATED_LENGTH_FORMATS and not exact_header
    decoded = _decode_seconds(container, stream)

    if decoded == 0 and not declared:
        raise AudioInvalid("audio has zero duration")
    if decoded == 0:
        raise AudioInvalid("audio could not be decoded: no audio frames in the file")
    # The PBX's figure first: it is the call's length a person knows, and it holds when the header was written
    # for the cut file (Ogg, MP3 without a Xing header: their declared duration is estimated from what arrived).
    if talk_seconds and decoded < talk_time_floor(talk_seconds):
        raise AudioTruncated(decoded_seconds=decoded, expected_seconds=talk_seconds, according_to="the PBX reports")
    if declared and not estimated and declared - decoded > TRUNCATION_TOLERANCE_SECONDS:
        raise AudioTruncated(decoded_seconds=decoded, expected_seconds=declared, according_to="its header declares")
    return AudioInfo(
        duration_seconds=decoded,  # the sample count is exact, headers are not
        channels=stream.codec_context.layout.nb_channels,
        sample_rate=stream.codec_context.sample_rate,
        codec=stream.codec_context.codec.canonical_name,
        container=container.format.name.split(",")[0],
    )


def talk_time_floor(talk_seconds: float) -> float:
    """The shortest recording that still holds a call the PBX says was talked for talk_seconds."""
    return talk_seconds - max(TALK_TIME_TOLERANCE_SECONDS, TALK_TIME_TOLERANCE_SHARE * talk_seconds)


# Formats whose length ffmpeg estimates from the first frame's bitrate and the file size, unless (MP3) a Xing, Info or
# VBRI header counts the frames: a VBR file that starts with silence "declares" far more than it holds, and a cut
# CBR file declares just what arrived. Such an estimate is not compared; the PBX's talk time still is.
_ESTIMATED_LENGTH_FORMATS = frozenset({"mp3", "aac"})
_MP3_LENGTH_TAGS = (b"Xing", b"Info", b"VBRI")


def _header_length_is_exact(source: str | os.PathLike[str] | BinaryIO) -> bool:
    """Whether an MP3's first frame carries a frame count (read from the start, past an ID3v2 tag)."""
    try:
        with _restored_position(source), _opened(source) as file:
            head = file.read(10)
            if head[:3] == b"ID3" and len(head) == 10:  # ID3v2: a syncsafe size, then the audio frames
                file.seek((head[6] << 21 | head[7] << 14 | head[8] << 7 | head[9]) + 10 - len(head), os.SEEK_CUR)
                head = b""
            head += file.read(4096)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except OSError:
        return False
    return any(tag in head for tag in _MP3_LENGTH_TAGS)


def _declared_seconds(container: InputContainer, stream: AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def _decode_seconds(container: InputContainer, stream: AudioStream) -> float:
    """Decodes the whole stream, one packet at a time (each frame is dropped once counted); returns the seconds of
    audio decoded. A packet the decoder rejects is skipped; too many of them and the file is garbage."""
    samples_by_rate: dict[int, int] = {}
    packets = bad = 0
    last_error: av.FFmpegError | None = None
    demuxed = container.demux(stream)
    while True:
        try:
            packet = next(demuxed)
        except StopIteration:
            break
        except av.FFmpegError as exc:  # the container itself is broken past this point: what came before counts
            if not samples_by_rate:
                raise AudioInvalid(f"audio could not be decoded: {_error_text(exc)}") from exc
            break
        packets += 1
        try:
            frames = packet.decode()  # the final empty packet flushes the decoder
        except av.FFmpegError as exc:
            bad += 1
            last_error = exc
            continue
        for frame in frames:
            samples_by_rate[frame.sample_rate] = samples_by_rate.get(frame.sample_rate, 0) + frame.samples
    if last_error is not None and (not samples_by_rate or bad > MAX_BAD_PACKET_SHARE * packets):
        raise AudioInvalid(
            f"audio could not be decoded: {bad} of {packets} packets are broken ({_error_text(last_error)})"
        )
    return sum(samples / rate for rate, samples in samples_by_rate.items())


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
