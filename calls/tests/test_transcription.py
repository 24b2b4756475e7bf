"""The transcription step on the real offline engine (model loaded once per session) and on a fake OpenAI server."""

import json
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from calls.models import Call, CallStatus, Transcript, Utterance
from calls.services.transcription import call_transcribe, calls_retranscribe
from calls.tests.factories import CallFactory
from integrations.models import EngineSettings
from integrations.stt.fake_openai import FakeOpenAI, words_from_turns

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _stored_call(company, path: Path, **fields) -> Call:
    call = CallFactory(company=company, status=CallStatus.RECORDING_STORED, direction="inbound", **fields)
    call.recording.save(path.name, ContentFile(path.read_bytes()), save=True)
    return call


@pytest.fixture
def english(company):
    company.languages = ["en"]  # one language: forced, not detected
    company.save()
    return company


def test_stereo_call_becomes_operator_and_customer_turns_with_metrics(english, offline_recogniser):
    truth = json.loads((FIXTURES / "calls" / "en-01-sale.json").read_text())
    call = call_transcribe(call_id=_stored_call(english, FIXTURES / "calls" / "en-01-sale.stereo8k.mp3").pk)
    assert call.status == CallStatus.TRANSCRIBED, call.failure_reason
    transcript = Transcript.objects.get(call=call)
    assert (transcript.language, transcript.speaker_method, transcript.low_confidence) == ("en", "channels", False)
    turns = list(Utterance.objects.filter(call=call).order_by("start_ms"))
    assert [t.speaker for t in turns] == [t["speaker"] for t in truth["turns"]]  # channel split: every turn right
    assert abs(turns[0].start_ms / 1000 - truth["turns"][0]["start"]) < 0.5
    expected_operator = sum(t["end"] - t["start"] for t in truth["turns"] if t["speaker"] == "operator")
    assert call.operator_talk_seconds == pytest.approx(expected_operator, rel=0.2)
    assert 0 < call.talk_ratio < 1 and call.operator_words_per_minute > 60 and call.language == "en"


def test_transcribing_again_replaces_the_transcript_never_appends(english, offline_recogniser):
    call = call_transcribe(call_id=_stored_call(english, FIXTURES / "calls" / "en-04-information.stereo8k.mp3").pk)
    first_count = Utterance.objects.filter(call=call).count()
    assert call_transcribe(call_id=call.pk).status == CallStatus.TRANSCRIBED  # not RECORDING_STORED: a no-op
    assert calls_retranscribe(calls=Call.objects.filter(pk=call.pk)) == 1
    call_transcribe(call_id=call.pk)
    assert Transcript.objects.filter(call=call).count() == 1
    assert Utterance.objects.filter(call=call).count() == first_count


@pytest.mark.parametrize(
    ("fixture", "code"),
    [("audio-edge/silence.mp3", "stt_no_speech"), ("audio-edge/not-audio.mp3", "stt_undecodable")],
)
def test_silent_or_broken_audio_fails_with_reason_and_keeps_call_and_recording(
    english, offline_recogniser, fixture, code
):
    call = call_transcribe(call_id=_stored_call(english, FIXTURES / fixture).pk)
    assert (call.status, call.failure_code) == (CallStatus.FAILED, code)
    assert call.failure_reason and call.recording and call.recording.storage.exists(call.recording.name)
    assert not Transcript.objects.filter(call=call).exists()


def test_uzbek_from_the_offline_engine_is_marked_low_confidence(company, offline_recogniser):
    company.languages = ["uz"]
    company.save()
    call = call_transcribe(call_id=_stored_call(company, FIXTURES / "calls" / "uz-02-complaint.stereo8k.mp3").pk)
    transcript = Transcript.objects.get(call=call)
    assert (transcript.language, transcript.low_confidence) == ("uz", True)


def test_language_routes_to_the_company_engine(english, settings):
    truth = json.loads((FIXTURES / "calls" / "en-03-callback.json").read_text())
    EngineSettings.objects.create(company=english, engine_en="openai")
    with FakeOpenAI() as fake:
        fake.set_transcription(words_from_turns(truth["turns"]), language="english")
        settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = fake.api_key, fake.base_url
        call = call_transcribe(call_id=_stored_call(english, FIXTURES / "calls" / "en-03-callback.stereo8k.mp3").pk)
        assert len(fake.requests_to("/v1/audio/transcriptions")) == 2  # one per channel
    transcript = Transcript.objects.get(call=call)
    assert transcript.engine.startswith("openai") and transcript.speaker_method == "channels"


def test_engine_down_falls_back_to_offline_and_says_so(english, settings, offline_recogniser):
    EngineSettings.objects.create(company=english, engine_en="openai", fallback_engine="offline")
    settings.OPENAI_API_KEY = ""  # not configured
    call = call_transcribe(call_id=_stored_call(english, FIXTURES / "calls" / "en-02-complaint.stereo8k.mp3").pk)
    transcript = Transcript.objects.get(call=call)
    assert transcript.engine.startswith("offline")
    assert any("openai unavailable" in note for note in transcript.notes)
