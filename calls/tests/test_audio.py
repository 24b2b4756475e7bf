"""probe_audio and audio_sha256 over the committed fixtures (real files made by scripts/make_test_calls.py)."""

import hashlib
import json
import struct
import tempfile
import zlib
from pathlib import Path

import pytest

from calls.audio import AudioInfo, AudioInvalid, audio_sha256, probe_audio

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


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    pixels = zlib.compress(b"\x00\x00")  # filter byte + one black pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
