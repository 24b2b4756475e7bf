"""probe_audio and audio_sha256 over the committed fixtures (real files made by scripts/make_test_calls.py)."""

import hashlib
import io
import json
import struct
import tempfile
import zlib
from pathlib import Path

import av
import numpy as np
import pytest

from calls.audio import AudioInfo, AudioInvalid, AudioTruncated, audio_sha256, probe_audio

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CALLS = FIXTURES / "calls"
EDGE = FIXTURES / "audio-edge"
CALL_INDEX = json.loads((CALLS / "index.json").read_text(encoding="utf-8"))["calls"]
DURATION_TOLERANCE_SECONDS = 0.3


def ground_truth_seconds(call_id: str) -> float:
    return json.loads((CALLS / f"{call_id}.json").read_text(encoding="utf-8"))["duration_seconds"]


@pytest.mark.parametrize("call", CALL_INDEX, ids=lambda call: call["id"])
def test_probe_audio_reads_stereo_8k_mp3(call: dict) -> None:
    info = probe_audio(CALLS / call["files"]["stereo8k"])

    assert (info.channels, info.sample_rate, info.codec, info.container) == (2, 8000, "mp3", "mp3")
    assert info.duration_seconds == pytest.approx(ground_truth_seconds(call["id"]), abs=DURATION_TOLERANCE_SECONDS)


@pytest.mark.parametrize("call", CALL_INDEX, ids=lambda call: call["id"])
def test_probe_audio_reads_mono_8k_mp3(call: dict) -> None:
    info = probe_audio(CALLS / call["files"]["mono8k"])

    assert (info.channels, info.sample_rate, info.codec, info.container) == (1, 8000, "mp3", "mp3")
    assert info.duration_seconds == pytest.approx(ground_truth_seconds(call["id"]), abs=DURATION_TOLERANCE_SECONDS)


@pytest.mark.parametrize(
    "call", [call for call in CALL_INDEX if "stereo16k" in call["files"]], ids=lambda call: call["id"]
)
def test_probe_audio_reads_stereo_ogg_opus(call: dict) -> None:
    info = probe_audio(CALLS / call["files"]["stereo16k"])

    # encoded from 16 kHz, but Opus always decodes at 48 kHz and that is the rate the decoded audio has
    assert (info.channels, info.sample_rate, info.codec, info.container) == (2, 48000, "opus", "ogg")
    assert info.duration_seconds == pytest.approx(ground_truth_seconds(call["id"]), abs=DURATION_TOLERANCE_SECONDS)


def test_probe_audio_reads_file_object_and_restores_its_position() -> None:
    path = CALLS / "en-01-sale.stereo8k.mp3"
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as spooled:  # how recordings arrive from the PBX
        spooled.write(path.read_bytes())
        spooled.seek(0)

        info = probe_audio(spooled)

        assert spooled.tell() == 0
        assert info == probe_audio(str(path))


def test_probe_audio_accepts_silence_as_valid_audio() -> None:
    info = probe_audio(EDGE / "silence.mp3")

    assert info.channels == 1 and info.sample_rate == 8000
    assert info.duration_seconds == pytest.approx(20.0, abs=DURATION_TOLERANCE_SECONDS)


def test_probe_audio_accepts_tone_wav_as_valid_audio() -> None:
    assert probe_audio(EDGE / "tone.wav") == AudioInfo(
        duration_seconds=3.0, channels=1, sample_rate=8000, codec="pcm_s16le", container="wav"
    )


def test_probe_audio_rejects_html_named_mp3() -> None:
    with pytest.raises(AudioInvalid) as caught:
        probe_audio(EDGE / "not-audio.mp3")

    assert caught.value.reason == "not an audio file (Invalid data found when processing input)"


def test_probe_audio_rejects_mp3_cut_after_its_headers() -> None:
    with pytest.raises(AudioInvalid) as caught:
        probe_audio(EDGE / "truncated.mp3")

    assert caught.value.reason.startswith("not an audio file (")


def test_probe_audio_rejects_mp3_cut_short_after_some_audio(tmp_path: Path) -> None:
    # the Xing header still declares the full 43.6 s, but only ~1 s of frames arrived
    cut = tmp_path / "cut.mp3"
    cut.write_bytes((CALLS / "en-01-sale.mono8k.mp3").read_bytes()[:3000])

    with pytest.raises(AudioInvalid) as caught:
        probe_audio(cut)

    assert caught.value.reason.startswith("audio is truncated: ")
    assert "43.6 s its header declares" in caught.value.reason


def test_probe_audio_rejects_mp3_cut_to_40_percent_whose_header_declares_the_whole_call() -> None:
    # Decoding only the first seconds accepted this file: 14 s of a 35 s call would have been transcribed and scored.
    audio = (CALLS / "en-02-complaint.stereo8k.mp3").read_bytes()

    with pytest.raises(AudioTruncated) as caught:
        probe_audio(io.BytesIO(audio[: len(audio) * 4 // 10]))

    assert caught.value.reason == "audio is truncated: decoded 14.0 s of the 35.1 s its header declares"


def test_probe_audio_finds_cut_ogg_only_against_the_pbx_talk_time() -> None:
    # An Ogg file's declared length comes from its last page, so a cut file declares what it holds.
    audio = (CALLS / "ru-01-sale.stereo16k.ogg").read_bytes()
    cut = audio[: len(audio) * 4 // 10]

    assert probe_audio(io.BytesIO(cut)).duration_seconds == pytest.approx(17.0, abs=0.1)
    with pytest.raises(AudioTruncated) as caught:
        probe_audio(io.BytesIO(cut), talk_seconds=44)

    assert caught.value.detail == "decoded 17.0 s of the 44.0 s the PBX reports"
    assert (round(caught.value.decoded_seconds, 1), caught.value.expected_seconds) == (17.0, 44)


@pytest.mark.parametrize(("talk_seconds", "whole"), [(40, True), (44, True), (46, True), (48, True), (50, False)])
def test_probe_audio_allows_a_recording_a_little_shorter_than_the_talk_time(talk_seconds: int, whole: bool) -> None:
    # 43.6 s of audio; short by more than max(3 s, 10 %) of the talk time means part of the call is missing
    path = CALLS / "en-01-sale.mono8k.mp3"
    if whole:
        assert probe_audio(path, talk_seconds=talk_seconds).duration_seconds == pytest.approx(43.6, abs=0.1)
    else:
        with pytest.raises(AudioTruncated, match=r"decoded 43\.6 s of the 50\.0 s the PBX reports"):
            probe_audio(path, talk_seconds=talk_seconds)


@pytest.mark.parametrize("name", ["en-01-sale.stereo8k.mp3", "ru-01-sale.stereo16k.ogg"])
def test_probe_audio_decodes_to_the_end_and_finds_garbage_in_the_middle(name: str) -> None:
    audio = bytearray((CALLS / name).read_bytes())
    start, end = len(audio) * 3 // 10, len(audio) * 7 // 10
    audio[start:end] = bytes(end - start)  # 40 % of the file zeroed, both ends intact

    with pytest.raises(AudioTruncated, match=r"decoded 2\d\.\d s of the 43\.6 s its header declares"):
        probe_audio(io.BytesIO(bytes(audio)))


def test_probe_audio_accepts_mp3_without_xing_header_whose_estimated_length_is_far_off() -> None:
    # 3 s of 8 kbps silence, then the 24 kbps call, no Xing/Info header: ffmpeg estimates the length from the first
    # frame's bitrate (~98 s). Comparing against that estimate would call a whole recording truncated.
    call = (CALLS / "en-01-sale.mono8k.mp3").read_bytes()
    first_frame = call.index(b"\xff", 10)  # after the ID3 tag: the Info frame, dropped with the tag
    audio_frames = call[call.index(call[first_frame : first_frame + 2], first_frame + 2) :]
    audio = _silence_mp3_without_xing(seconds=3.0) + audio_frames

    info = probe_audio(io.BytesIO(audio))

    assert info.duration_seconds == pytest.approx(3.0 + 43.6, abs=0.5)
    with pytest.raises(AudioTruncated, match="the PBX reports"):  # a cut copy is still caught by the talk time
        probe_audio(io.BytesIO(audio[: len(audio) * 4 // 10]), talk_seconds=47)


def test_probe_audio_rejects_wav_with_zero_samples() -> None:
    with pytest.raises(AudioInvalid) as caught:
        probe_audio(EDGE / "empty.wav")

    assert caught.value.reason == "audio has zero duration"


def test_probe_audio_rejects_file_without_audio_stream(tmp_path: Path) -> None:
    image = tmp_path / "recording.mp3"  # a 1x1 PNG that a misconfigured PBX could serve under a recording's name
    image.write_bytes(_png_1x1())

    with pytest.raises(AudioInvalid) as caught:
        probe_audio(image)

    assert caught.value.reason == "not an audio file (no audio stream)"


def test_probe_audio_raises_os_error_for_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe_audio(tmp_path / "gone.mp3")


def test_audio_sha256_matches_whole_file_digest_for_path_and_file_object() -> None:
    path = CALLS / "ru-01-sale.mono8k.mp3"
    expected = hashlib.sha256(path.read_bytes()).hexdigest()

    with path.open("rb") as file:
        file.seek(100)
        from_file = audio_sha256(file)
        position = file.tell()
        file.seek(0)
        from_start = audio_sha256(file)

    assert audio_sha256(path) == from_start == expected
    assert from_file == hashlib.sha256(path.read_bytes()[100:]).hexdigest()
    assert position == 100


def _silence_mp3_without_xing(*, seconds: float) -> bytes:
    out_buf = io.BytesIO()
    with av.open(out_buf, "w", format="mp3", options={"write_xing": "0", "id3v2_version": "0"}) as out:
        stream = out.add_stream("libmp3lame", rate=8000, layout="mono")
        stream.bit_rate = 8000
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, int(seconds * 8000)), dtype=np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return out_buf.getvalue()


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    pixels = zlib.compress(b"\x00\x00")  # filter byte + one black pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
