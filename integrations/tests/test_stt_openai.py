"""OpenAI speech-to-text against the fake OpenAI over real HTTP, uploading the real fixture recordings (no mocks)."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integrations.errors import (
    AuthFailed,
    BadResponse,
    PermanentIntegrationError,
    RateLimited,
    TransientIntegrationError,
)
from integrations.stt.errors import AudioUndecodable, NoSpeech
from integrations.stt.fake_openai import FakeOpenAI, words_from_turns
from integrations.stt.openai_stt import AudioTooLarge, OpenAIStt, parse_reset_duration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CALL = FIXTURES / "calls" / "en-01-sale.mono8k.mp3"
TRUTH = json.loads((FIXTURES / "calls" / "en-01-sale.json").read_text())
NOT_AUDIO = FIXTURES / "audio-edge" / "not-audio.mp3"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        server.set_transcription(words_from_turns(TRUTH["turns"]), language="english", duration=43.57)
        yield server


def make_stt(fake: FakeOpenAI, **kwargs: Any) -> OpenAIStt:
    kwargs.setdefault("api_key", fake.api_key)
    kwargs.setdefault("timeout", 5.0)
    return OpenAIStt(base_url=fake.base_url, model="whisper-1", **kwargs)


# --- successful answers ----------------------------------------------------------------------------------------------


def test_recognise_uploads_the_recording_and_returns_timed_words(fake: FakeOpenAI) -> None:
    recognition = make_stt(fake).recognise(CALL, language="en", languages=("en",))

    expected = words_from_turns(TRUTH["turns"])
    assert [w.text for w in recognition.words] == [text for _, _, text in expected]  # stripped of the fake's space
    assert (recognition.words[0].start_ms, recognition.words[0].end_ms) == (400, round(expected[0][1] * 1000))
    assert recognition.words[-1].end_ms == round(TRUTH["turns"][-1]["end"] * 1000)
    assert {(w.confidence, w.speaker) for w in recognition.words} == {(None, None)}
    assert (recognition.language, recognition.language_probability, recognition.duration_ms) == ("en", None, 43570)
    [request] = fake.transcription_requests()
    assert request.headers["authorization"] == f"Bearer {fake.api_key}"
    assert request.files["file"].filename == CALL.name
    assert request.files["file"].content_type == "audio/mpeg"
    assert request.files["file"].data == CALL.read_bytes()
    assert request.fields == {
        "model": ["whisper-1"],
        "language": ["en"],
        "response_format": ["verbose_json"],
        "timestamp_granularities[]": ["word", "segment"],
    }


def test_engine_name_carries_the_model_and_has_no_speakers(fake: FakeOpenAI) -> None:
    stt = make_stt(fake)

    assert stt.name == "openai:whisper-1"
    assert stt.provides_speakers is False
    assert fake.api_key not in repr(stt)


def test_detected_language_comes_back_as_an_iso_code(fake: FakeOpenAI) -> None:
    recognition = make_stt(fake).recognise(CALL, language=None, languages=("en", "ru"))

    assert recognition.language == "en"
    [request] = fake.transcription_requests()
    assert "language" not in request.fields  # the service detects


def test_a_single_allowed_language_is_forced_in_one_request(fake: FakeOpenAI) -> None:
    recognition = make_stt(fake).recognise(CALL, language=None, languages=("ru",))

    assert recognition.language == "ru"
    assert [r.value("language") for r in fake.transcription_requests()] == ["ru"]


def test_a_detected_language_outside_the_allowed_ones_is_requested_again_as_uzbek(fake: FakeOpenAI) -> None:
    fake.language = "turkish"  # what Whisper makes of Uzbek speech

    recognition = make_stt(fake).recognise(CALL, language=None, languages=("uz", "ru"))

    assert recognition.language == "uz"
    assert [r.value("language") for r in fake.transcription_requests()] == [None, "uz"]


def test_a_misheard_slavic_language_is_requested_again_as_russian(fake: FakeOpenAI) -> None:
    fake.language = "ukrainian"

    recognition = make_stt(fake).recognise(CALL, language=None, languages=("uz", "ru"))

    assert recognition.language == "ru"
    assert [r.value("language") for r in fake.transcription_requests()] == [None, "ru"]


def test_words_inside_segments_whisper_marks_as_silence_mean_no_speech(fake: FakeOpenAI) -> None:
    fake.set_transcription([(0.0, 1.2, "Thank"), (1.2, 1.9, "you.")], language="english", duration=20.0, silent=True)

    with pytest.raises(NoSpeech):
        make_stt(fake).recognise(CALL, language="en", languages=("en",))


def test_azure_api_version_adds_the_query_and_the_api_key_header(fake: FakeOpenAI) -> None:
    make_stt(fake, api_version="2024-06-01").recognise(CALL, language="en", languages=("en",))

    [request] = fake.transcription_requests()
    assert request.query["api-version"] == ["2024-06-01"]
    assert request.headers["api-key"] == fake.api_key


# --- upload size ---------------------------------------------------------------------------------------------------


def test_a_recording_over_the_upload_limit_is_sent_compressed_as_opus(fake: FakeOpenAI) -> None:
    limit = CALL.stat().st_size - 10_000

    recognition = make_stt(fake, max_upload_bytes=limit).recognise(CALL, language="en", languages=("en",))

    assert len(recognition.words) > 50
    [request] = fake.transcription_requests()
    upload = request.files["file"]
    assert (upload.filename, upload.content_type) == ("en-01-sale.mono8k.ogg", "audio/ogg")
    assert upload.data.startswith(b"OggS") and len(upload.data) <= limit


def test_a_recording_too_large_even_compressed_fails_permanently_without_a_request(fake: FakeOpenAI) -> None:
    with pytest.raises(AudioTooLarge, match="over OpenAI's .* upload limit"):
        make_stt(fake, max_upload_bytes=10_000).recognise(CALL, language="en", languages=("en",))

    assert fake.transcription_requests() == []


def test_http413_raises_audio_too_large(fake: FakeOpenAI) -> None:
    fake.fail_next(1, "too_large")

    with pytest.raises(AudioTooLarge):
        make_stt(fake).recognise(CALL, language="en", languages=("en",))


# --- failures --------------------------------------------------------------------------------------------------------


def test_http429_raises_rate_limited_with_retry_after_and_the_next_call_succeeds(fake: FakeOpenAI) -> None:
    fake.fail_next(1, "http429")
    stt = make_stt(fake)

    with pytest.raises(RateLimited) as caught:
        stt.recognise(CALL, language="en", languages=("en",))
    assert caught.value.retry_after == 7.0
    assert len(fake.transcription_requests()) == 1  # the SDK does not retry on its own

    assert len(stt.recognise(CALL, language="en", languages=("en",)).words) > 50


def test_http429_without_retry_after_waits_for_the_exhausted_limit_to_reset(fake: FakeOpenAI) -> None:
    fake.retry_after = None
    fake.fail_next(1, "http429")

    with pytest.raises(RateLimited) as caught:
        make_stt(fake).recognise(CALL, language="en", languages=("en",))

    assert caught.value.retry_after == pytest.approx(1.2)


def test_insufficient_quota_is_permanent_not_a_rate_limit(fake: FakeOpenAI) -> None:
    fake.fail_next(1, "insufficient_quota")

    with pytest.raises(PermanentIntegrationError, match="out of credits") as caught:
        make_stt(fake).recognise(CALL, language="en", languages=("en",))

    assert not isinstance(caught.value, RateLimited)


@pytest.mark.parametrize("mode", ["http500", "http503"])
def test_server_errors_are_transient_and_not_resent(fake: FakeOpenAI, mode: str) -> None:
    fake.fail_next(1, mode)

    with pytest.raises(TransientIntegrationError, match="HTTP 50"):
        make_stt(fake).recognise(CALL, language="en", languages=("en",))

    assert len(fake.transcription_requests()) == 1


def test_timeout_is_transient(fake: FakeOpenAI) -> None:
    fake.timeout_sleep_seconds = 1.5
    fake.fail_next(1, "timeout")
    started = time.monotonic()

    with pytest.raises(TransientIntegrationError, match="did not answer .* within 0.5 s"):
        make_stt(fake, timeout=0.5).recognise(CALL, language="en", languages=("en",))

    assert time.monotonic() - started < 1.4
    assert len(fake.transcription_requests()) == 1


def test_unreachable_server_is_transient() -> None:
    with FakeOpenAI() as server:
        base_url, key = server.base_url, server.api_key  # the port is free again once the fake stops

    with pytest.raises(TransientIntegrationError, match="Cannot connect"):
        OpenAIStt(api_key=key, base_url=base_url, model="whisper-1", timeout=2).recognise(
            CALL, language="en", languages=("en",)
        )


def test_a_wrong_key_raises_auth_failed_without_the_key(fake: FakeOpenAI) -> None:
    stt = make_stt(fake, api_key="sk-wrong-secret-123")

    with pytest.raises(AuthFailed, match="OpenAI rejected the API key") as caught:
        stt.recognise(CALL, language="en", languages=("en",))

    assert "sk-wrong" not in str(caught.value)
    assert len(fake.transcription_requests()) == 1  # not retried
    fake.fail_next(1, "bad_key")
    with pytest.raises(AuthFailed):
        make_stt(fake).recognise(CALL, language="en", languages=("en",))


def test_a_missing_key_raises_auth_failed_before_any_request(fake: FakeOpenAI) -> None:
    with pytest.raises(AuthFailed, match="OPENAI_API_KEY"):
        make_stt(fake, api_key="").recognise(CALL, language="en", languages=("en",))

    assert fake.requests == []


def test_a_non_json_answer_raises_bad_response_quoting_it(fake: FakeOpenAI) -> None:
    fake.fail_next(1, "garbage")

    with pytest.raises(BadResponse, match="with HTTP 200 and something that is not JSON$"):
        make_stt(fake).recognise(CALL, language="en", languages=("en",))


def test_an_answer_without_words_raises_bad_response(fake: FakeOpenAI) -> None:
    fake.fail_next(1, "schema")

    with pytest.raises(BadResponse, match="without word timestamps"):
        make_stt(fake).recognise(CALL, language="en", languages=("en",))


def test_a_file_that_is_not_audio_raises_audio_undecodable(fake: FakeOpenAI) -> None:
    with pytest.raises(AudioUndecodable, match="could not be decoded"):
        make_stt(fake).recognise(NOT_AUDIO, language="en", languages=("en",))

    fake.fail_next(1, "invalid_audio")
    with pytest.raises(AudioUndecodable):
        make_stt(fake).recognise(CALL, language="en", languages=("en",))


def test_a_model_without_word_timestamps_is_a_permanent_error_not_bad_audio(fake: FakeOpenAI) -> None:
    stt = OpenAIStt(api_key=fake.api_key, base_url=fake.base_url, model="gpt-4o-transcribe", timeout=5)

    with pytest.raises(PermanentIntegrationError, match="not compatible with model") as caught:
        stt.recognise(CALL, language="en", languages=("en",))

    assert not isinstance(caught.value, AudioUndecodable)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1m7.5s", 67.5), ("1h2m", 3720.0), ("soon", None), ("", None)],
)
def test_rate_limit_reset_durations_parse_to_seconds(value: str, seconds: float | None) -> None:
    assert parse_reset_duration(value) == (pytest.approx(seconds) if seconds is not None else None)
