"""UzbekVoice speech-to-text against the fake UzbekVoice over real HTTP, uploading real fixture recordings."""

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
from integrations.stt.fake_uzbekvoice import DEFAULT_OFFSETS, FakeUzbekVoice
from integrations.stt.uzbekvoice import UzbekVoiceStt, poll_interval_for

CALL = Path(__file__).resolve().parents[2] / "fixtures" / "calls" / "uz-01-sale.mono8k.mp3"
CALL_MS = 34084  # the file's own length, as PyAV reads it


@pytest.fixture
def fake() -> Iterator[FakeUzbekVoice]:
    with FakeUzbekVoice() as server:
        yield server


def make_stt(fake: FakeUzbekVoice, **kwargs: Any) -> UzbekVoiceStt:
    kwargs.setdefault("api_key", fake.api_key)
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("max_wait", 5.0)
    kwargs.setdefault("submits_per_minute", 0)
    kwargs.setdefault("timeout", (2.0, 5.0))
    return UzbekVoiceStt(base_url=fake.base_url, **kwargs)


# --- successful tasks ------------------------------------------------------------------------------------------------


def test_recognise_submits_polls_until_success_and_returns_diarized_words(fake: FakeUzbekVoice) -> None:
    fake.pending_polls = 3

    recognition = make_stt(fake).recognise(CALL, language=None, languages=("uz", "ru"))

    assert [(w.speaker, w.start_ms, w.end_ms, w.text) for w in recognition.words] == [
        (str(speaker), round(start * 1000), round(end * 1000), word) for speaker, start, end, word in DEFAULT_OFFSETS
    ]
    assert {w.confidence for w in recognition.words} == {None}
    assert (recognition.language, recognition.duration_ms) == ("uz", CALL_MS)
    [submission] = fake.submissions()
    assert submission.headers["authorization"] == fake.api_key  # the raw key, no Bearer
    assert submission.fields == {
        "language": ["uz-ru"],
        "return_offsets": ["true"],
        "run_diarization": ["true"],
        "blocking": ["false"],
    }
    assert submission.files["file"].filename == CALL.name
    assert submission.files["file"].data == CALL.read_bytes()
    [task_id] = fake.tasks
    assert [poll.query["id"] for poll in fake.polls()] == [[task_id]] * 4  # three PENDING/PROCESSING, one SUCCESS
    assert {poll.headers["authorization"] for poll in fake.polls()} == {fake.api_key}


def test_engine_provides_speakers_and_hides_its_key(fake: FakeUzbekVoice) -> None:
    stt = make_stt(fake)

    assert (stt.name, stt.provides_speakers) == ("uzbekvoice", True)
    assert fake.api_key not in repr(stt)


def test_vendor_speaker_labels_are_kept_as_given(fake: FakeUzbekVoice) -> None:
    fake.set_offsets([("SPEAKER_01", 0.5, 0.9, "Alo"), ("SPEAKER_00", 1.2, 1.6, "Eshitaman"), (None, 2.0, 2.2, "ha")])

    words = make_stt(fake).recognise(CALL, language="uz", languages=("uz",)).words

    assert [(w.speaker, w.text) for w in words] == [("SPEAKER_01", "Alo"), ("SPEAKER_00", "Eshitaman"), (None, "ha")]


def test_offsets_in_milliseconds_are_recognised_by_the_file_length(fake: FakeUzbekVoice) -> None:
    fake.offsets_in_ms = True

    words = make_stt(fake).recognise(CALL, language="uz", languages=("uz",)).words

    assert (words[0].start_ms, words[-1].end_ms) == (420, 6300)


def test_forced_russian_is_sent_and_reported(fake: FakeUzbekVoice) -> None:
    recognition = make_stt(fake).recognise(CALL, language="ru", languages=("uz", "ru"))

    assert recognition.language == "ru"
    assert fake.submissions()[0].value("language") == "ru"


def test_a_mixed_call_heard_in_cyrillic_is_reported_as_russian(fake: FakeUzbekVoice) -> None:
    fake.set_offsets([(0, 0.4, 0.9, "Здравствуйте,"), (0, 0.9, 1.5, "компания"), (1, 2.0, 2.6, "Dialix")])

    assert make_stt(fake).recognise(CALL, language=None, languages=("uz", "ru")).language == "ru"


def test_english_is_dropped_from_the_allowed_languages(fake: FakeUzbekVoice) -> None:
    make_stt(fake).recognise(CALL, language=None, languages=("uz", "en"))

    assert fake.submissions()[0].value("language") == "uz"


@pytest.mark.parametrize(("language", "languages"), [("en", ("uz", "ru", "en")), (None, ("en",))])
def test_english_only_calls_fail_permanently_without_a_request(
    fake: FakeUzbekVoice, language: str | None, languages: tuple[str, ...]
) -> None:
    with pytest.raises(PermanentIntegrationError, match="only Uzbek and Russian"):
        make_stt(fake).recognise(CALL, language=language, languages=languages)

    assert fake.requests == []


# --- task failures ---------------------------------------------------------------------------------------------------


def test_a_failed_task_raises_a_permanent_error_with_the_vendor_message(fake: FakeUzbekVoice) -> None:
    fake.outcome = "failed"
    fake.failure_message = "Audio is too noisy to transcribe"

    with pytest.raises(PermanentIntegrationError, match="Audio is too noisy to transcribe") as caught:
        make_stt(fake).recognise(CALL, language="uz", languages=("uz",))

    assert not isinstance(caught.value, TransientIntegrationError)
    assert len(fake.polls()) == 3


def test_a_task_that_never_finishes_raises_transient_after_max_wait(fake: FakeUzbekVoice) -> None:
    fake.pending_polls = 10**6

    with pytest.raises(TransientIntegrationError, match=r"did not finish task .* within 0.3 s"):
        make_stt(fake, poll_interval=0.05, max_wait=0.3).recognise(CALL, language="uz", languages=("uz",))

    assert 3 <= len(fake.polls()) <= 8


def test_an_unknown_task_is_a_permanent_error(fake: FakeUzbekVoice) -> None:
    fake.fail_next(1, "http404", path_contains="/tasks")

    with pytest.raises(PermanentIntegrationError, match="does not know task"):
        make_stt(fake).recognise(CALL, language="uz", languages=("uz",))


def test_a_gateway_error_while_polling_is_retried_by_the_transport(fake: FakeUzbekVoice) -> None:
    fake.fail_next(1, "http503", path_contains="/tasks")

    assert len(make_stt(fake).recognise(CALL, language="uz", languages=("uz",)).words) == len(DEFAULT_OFFSETS)


# --- HTTP failures ---------------------------------------------------------------------------------------------------


def test_http429_raises_rate_limited_with_retry_after_and_the_next_call_succeeds(fake: FakeUzbekVoice) -> None:
    fake.fail_next(1, "http429", path_contains="/stt")
    stt = make_stt(fake)

    with pytest.raises(RateLimited) as caught:
        stt.recognise(CALL, language="uz", languages=("uz",))
    assert caught.value.retry_after == 7.0
    assert fake.polls() == []

    assert len(stt.recognise(CALL, language="uz", languages=("uz",)).words) == len(DEFAULT_OFFSETS)
    assert len(fake.submissions()) == 2


def test_the_client_side_submission_limit_answers_rate_limited_without_a_request(fake: FakeUzbekVoice) -> None:
    stt = make_stt(fake, submits_per_minute=2)
    stt.recognise(CALL, language="uz", languages=("uz",))
    stt.recognise(CALL, language="uz", languages=("uz",))

    with pytest.raises(RateLimited, match="client-side limit of 2") as caught:
        stt.recognise(CALL, language="uz", languages=("uz",))

    assert caught.value.retry_after is not None and 55 < caught.value.retry_after <= 60
    assert len(fake.submissions()) == 2


@pytest.mark.parametrize("path", ["/stt", "/tasks"])
def test_http500_is_transient(fake: FakeUzbekVoice, path: str) -> None:
    fake.fail_next(1, "http500", path_contains=path)

    with pytest.raises(TransientIntegrationError, match="HTTP 500"):
        make_stt(fake).recognise(CALL, language="uz", languages=("uz",))

    assert len(fake.submissions()) == 1  # the upload is never sent twice by the client


def test_submit_timeout_is_transient(fake: FakeUzbekVoice) -> None:
    fake.timeout_sleep_seconds = 1.5
    fake.fail_next(1, "timeout", path_contains="/stt")

    with pytest.raises(TransientIntegrationError, match="did not answer the upload in time"):
        make_stt(fake, timeout=(2.0, 0.5)).recognise(CALL, language="uz", languages=("uz",))

    assert len(fake.submissions()) == 1


def test_unreachable_service_is_transient() -> None:
    with FakeUzbekVoice() as server:
        base_url, key = server.base_url, server.api_key

    with pytest.raises(TransientIntegrationError, match="Cannot connect"):
        UzbekVoiceStt(api_key=key, base_url=base_url, submits_per_minute=0, timeout=(1.0, 2.0)).recognise(
            CALL, language="uz", languages=("uz",)
        )


def test_a_wrong_key_raises_auth_failed_without_the_key_and_is_not_retried(fake: FakeUzbekVoice) -> None:
    with pytest.raises(AuthFailed, match="UzbekVoice rejected the API key") as caught:
        make_stt(fake, api_key="wrong-key-0000:secret-1111").recognise(CALL, language="uz", languages=("uz",))

    assert "wrong-key-0000" not in str(caught.value) and "secret-1111" not in str(caught.value)
    assert len(fake.requests) == 1
    fake.fail_next(1, "bad_key", path_contains="/tasks")
    with pytest.raises(AuthFailed):
        make_stt(fake).recognise(CALL, language="uz", languages=("uz",))


def test_a_missing_key_raises_auth_failed_before_any_request(fake: FakeUzbekVoice) -> None:
    with pytest.raises(AuthFailed, match="UZBEKVOICE_API_KEY"):
        make_stt(fake, api_key="").recognise(CALL, language="uz", languages=("uz",))

    assert fake.requests == []


def test_low_balance_is_a_permanent_error(fake: FakeUzbekVoice) -> None:
    fake.fail_next(1, "http402", path_contains="/stt")

    with pytest.raises(PermanentIntegrationError, match="balance is too low"):
        make_stt(fake).recognise(CALL, language="uz", languages=("uz",))


@pytest.mark.parametrize("path", ["/stt", "/tasks"])
def test_a_non_json_answer_raises_bad_response_quoting_it(fake: FakeUzbekVoice, path: str) -> None:
    fake.fail_next(1, "garbage", path_contains=path)

    with pytest.raises(BadResponse, match="with HTTP 200 and something that is not JSON$"):
        make_stt(fake).recognise(CALL, language="uz", languages=("uz",))


def test_a_submit_answer_without_a_task_id_raises_bad_response(fake: FakeUzbekVoice) -> None:
    fake.fail_next(1, "schema", path_contains="/stt")

    with pytest.raises(BadResponse, match="without a task id"):
        make_stt(fake).recognise(CALL, language="uz", languages=("uz",))


def test_a_result_without_word_offsets_raises_bad_response(fake: FakeUzbekVoice) -> None:
    fake.pending_polls = 0
    fake.fail_next(1, "schema", path_contains="/tasks")

    with pytest.raises(BadResponse, match="no word offsets"):
        make_stt(fake).recognise(CALL, language="uz", languages=("uz",))


@pytest.mark.parametrize(
    ("minutes", "seconds"), [(None, 10.0), (3, 5.0), (7, 10.0), (12, 20.0), (18, 30.0), (25, 45.0)]
)
def test_default_poll_interval_follows_the_audio_length(minutes: int | None, seconds: float) -> None:
    assert poll_interval_for(None if minutes is None else minutes * 60) == seconds
