"""Recording -> transcript: engine routing by language, utterance rows, timing metrics. One task per call."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from calls.metrics import compute_metrics
from calls.models import Call, CallStatus, Transcript, Utterance
from calls.services.pipeline import call_mark_failed
from integrations.errors import AuthFailed, IntegrationError, PermanentIntegrationError, TransientIntegrationError
from integrations.models import EngineSettings, PbxAccount, SttEngine
from integrations.stt.errors import AudioUndecodable, NoSpeech

logger = logging.getLogger(__name__)

# A call TRANSCRIBING for longer than the hard task limit was abandoned by a crashed worker: it may be claimed again.
STALE_AFTER = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
RETRANSCRIBABLE = [CallStatus.TRANSCRIBED, CallStatus.ANALYSING, CallStatus.DONE, CallStatus.FAILED]


class TranscriptionRetry(Exception):
    """The engine (and its fallback) had a passing problem: the task retries later."""


def _route(call: Call, requested: str | None) -> tuple[str | None, list[str]]:
    """The language to force (None = detect among the company's) and the engines to try, in order."""
    company = call.company
    languages = list(company.languages) or ["ru", "en"]
    language = call.language or (languages[0] if len(languages) == 1 else None)
    prefs = EngineSettings.objects.filter(company_id=company.pk).first()
    default = settings.DIALIX_STT_ENGINE
    if requested:
        engine = requested
    elif prefs is None:
        engine = default
    else:
        engine = getattr(prefs, f"engine_{language}", "") if language else prefs.engine_unknown
        engine = engine or default
    fallback = prefs.fallback_engine if prefs else SttEngine.OFFLINE
    engines = [engine] if engine == fallback else [engine, fallback]
    return language, engines


@contextmanager
def _local_copy(call: Call):
    """The recording as a local file (storage may be a bucket); removed afterwards."""
    suffix = Path(call.recording.name).suffix or ".audio"
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        with call.recording.open("rb") as source:
            shutil.copyfileobj(source, tmp, length=1024 * 1024)
        tmp.flush()
        yield Path(tmp.name)


def _claim(call_id: int) -> bool:
    now = timezone.now()
    return bool(
        Call.objects.filter(pk=call_id)
        .filter(
            Q(status=CallStatus.RECORDING_STORED) | Q(status=CallStatus.TRANSCRIBING, updated_at__lt=now - STALE_AFTER)
        )
        .update(status=CallStatus.TRANSCRIBING, attempts=F("attempts") + 1, updated_at=now)
    )


def call_transcribe(*, call_id: int, engine: str | None = None) -> Call | None:
    """Transcribes a call whose recording is stored. Idempotent: only a RECORDING_STORED call is taken (one worker
    wins the claim); the transcript and its utterances replace any earlier ones in one transaction."""
    if not _claim(call_id):
        return Call.objects.filter(pk=call_id).first()
    call = Call.objects.select_related("company").get(pk=call_id)
    from integrations.stt.pipeline import transcribe
    from integrations.stt.registry import get_recogniser

    language, engines = _route(call, engine)
    account = PbxAccount.objects.filter(company_id=call.company_id).only("operator_channel").first()
    notes: list[str] = []
    started = time.monotonic()
    result = None
    try:
        with _local_copy(call) as audio:
            for index, name in enumerate(engines):
                try:
                    result = transcribe(
                        audio,
                        recogniser=get_recogniser(name),
                        languages=list(call.company.languages) or ["ru", "en"],
                        language=language,
                        operator_channel=account.operator_channel if account else "left",
                        direction=call.direction,
                        operator_cues=[call.company.name],
                    )
                    break
                except (AudioUndecodable, NoSpeech):
                    raise
                except (TransientIntegrationError, AuthFailed) as exc:
                    # Down or not configured: try the fallback engine, and say so on the transcript.
                    notes.append(f"{name} unavailable ({type(exc).__name__}: {exc})")
                    if index == len(engines) - 1:
                        if isinstance(exc, TransientIntegrationError):
                            raise TranscriptionRetry(str(exc)) from exc
                        raise
    except AudioUndecodable as exc:
        call_mark_failed(call_id=call_id, code="stt_undecodable", reason=f"The recording cannot be decoded: {exc}")
        return _reload(call_id)
    except NoSpeech as exc:
        call_mark_failed(call_id=call_id, code="stt_no_speech", reason=f"No speech in the recording: {exc}")
        return _reload(call_id)
    except TranscriptionRetry:
        Call.objects.filter(pk=call_id, status=CallStatus.TRANSCRIBING).update(status=CallStatus.RECORDING_STORED)
        raise
    except (PermanentIntegrationError, IntegrationError) as exc:
        call_mark_failed(call_id=call_id, code="stt_failed", reason=f"{type(exc).__name__}: {exc}")
        return _reload(call_id)
    if not result.words:
        call_mark_failed(call_id=call_id, code="stt_no_speech", reason="The engine heard no words in the recording.")
        return _reload(call_id)
    _save_transcript(call, result, notes=[*notes, *result.notes], seconds=time.monotonic() - started)
    return _reload(call_id)


def _reload(call_id: int) -> Call:
    return Call.objects.get(pk=call_id)


def _save_transcript(call: Call, result, *, notes: list[str], seconds: float) -> None:
    metrics = compute_metrics(result.words, result.duration_ms)
    with transaction.atomic():
        Transcript.objects.filter(call=call).delete()  # cascades to the old utterances: replace, never append
        transcript = Transcript.objects.create(
            company_id=call.company_id,
            call=call,
            engine=result.engine,
            language=result.language,
            language_probability=result.language_probability,
            low_confidence=result.low_confidence,
            speaker_method=result.speaker_method,
            duration_ms=result.duration_ms,
            word_count=len(result.words),
            notes=notes,
            processing_seconds=round(seconds, 2),
        )
        Utterance.objects.bulk_create(
            [
                Utterance(
                    company_id=call.company_id,
                    call=call,
                    transcript=transcript,
                    speaker=turn.speaker,
                    start_ms=turn.start_ms,
                    end_ms=turn.end_ms,
                    text=turn.text,
                    confidence=turn.confidence,
                )
                for turn in result.turns
            ]
        )
        Call.objects.filter(pk=call.pk, status=CallStatus.TRANSCRIBING).update(
            status=CallStatus.TRANSCRIBED,
            language=result.language,
            failure_code="",
            failure_reason="",
            attempts=0,
            updated_at=timezone.now(),
            **metrics.as_fields(),
        )
        if settings.DIALIX_AUTO_ANALYSE:
            from calls.tasks import call_analyse_task, task_enqueue

            transaction.on_commit(lambda: task_enqueue(call_analyse_task, call.pk, company_id=call.company_id))
    logger.info(
        "call_transcribed",
        extra={
            "company_id": call.company_id,
            "call_id": call.pk,
            "engine": result.engine,
            "seconds": round(seconds, 1),
        },
    )


def calls_retranscribe(*, calls, engine: str | None = None) -> int:
    """Queues a new transcription of calls that have a recording (optionally with another engine); returns how many."""
    from calls.tasks import call_transcribe_task, task_enqueue

    ids = list(
        calls.filter(Q(status__in=RETRANSCRIBABLE) | Q(status=CallStatus.RECORDING_STORED))
        .exclude(recording="")
        .values_list("id", flat=True)
    )
    Call.objects.filter(pk__in=ids).exclude(status=CallStatus.TRANSCRIBING).update(
        status=CallStatus.RECORDING_STORED, failure_code="", failure_reason="", attempts=0, updated_at=timezone.now()
    )
    transaction.on_commit(lambda: [task_enqueue(call_transcribe_task, call_id, engine) for call_id in ids])
    return len(ids)
