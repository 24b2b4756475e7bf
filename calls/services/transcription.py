"""Recording -> transcript: engine routing by language, utterance rows, timing metrics. One task per call."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F

from calls.metrics import compute_metrics
from calls.models import Call, CallStatus, FailureCode, Transcript, Utterance
from calls.services.retry import StepRetry
from calls.services.states import call_transition, calls_transition, pipeline_next
from integrations.errors import AuthFailed, IntegrationError, TransientIntegrationError
from integrations.models import EngineSettings, PbxAccount, SttEngine
from integrations.stt.errors import AudioUndecodable, NoSpeech

logger = logging.getLogger(__name__)

RETRANSCRIBABLE = [CallStatus.TRANSCRIBED, CallStatus.DONE, CallStatus.FAILED]  # moved back to RECORDING_STORED
STEP = "task:transcribe"


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
    """RECORDING_STORED -> TRANSCRIBING and one more attempt: only one worker wins. A claim abandoned by a crashed
    worker is taken over when its message is redelivered (`_take_over_lost_claim`), else given back by the sweeper."""
    return call_transition(
        call_id=call_id,
        to=CallStatus.TRANSCRIBING,
        expect=CallStatus.RECORDING_STORED,
        by=STEP,
        fields={"attempts": F("attempts") + 1},
        queue_next=False,
    )


def _fail(call_id: int, code: str, reason: str) -> Call:
    call_transition(
        call_id=call_id, to=CallStatus.FAILED, expect=CallStatus.TRANSCRIBING, by=STEP, code=code, reason=reason
    )
    return _reload(call_id)


def _take_over_lost_claim(call_id: int) -> None:
    """TRANSCRIBING -> RECORDING_STORED for a redelivered message, so that `_claim` can take the call again. Safe
    even if the first worker still runs: only one of the two moves the call to TRANSCRIBED and writes a transcript."""
    call_transition(
        call_id=call_id,
        to=CallStatus.RECORDING_STORED,
        expect=CallStatus.TRANSCRIBING,
        by=STEP,
        reason="the worker transcribing it was lost before it finished; its message came back to another worker",
        queue_next=False,
    )


def call_transcribe(*, call_id: int, engine: str | None = None, redelivered: bool = False) -> Call | None:
    """Transcribes a call whose recording is stored. Idempotent: only a RECORDING_STORED call is taken (one worker
    wins the claim); the transcript and its utterances replace any earlier ones in one transaction. `redelivered`
    (the broker gave back the message of a worker that died mid-step) takes over that worker's claim first."""
    if redelivered:
        _take_over_lost_claim(call_id)
    if not _claim(call_id):
        return Call.objects.filter(pk=call_id).first()
    try:
        return _transcribe_claimed(call_id, engine)
    except StepRetry:
        raise
    except Exception as exc:  # the step's boundary: record it on the call, release the claim, keep the worker alive
        logger.exception("call_transcribe_internal_error", extra={"call_id": call_id})
        return _fail(call_id, FailureCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")


def _transcribe_claimed(call_id: int, engine: str | None) -> Call:
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
                        raise
    except AudioUndecodable as exc:
        return _fail(call_id, FailureCode.STT_UNDECODABLE, f"The recording cannot be decoded: {exc}")
    except NoSpeech as exc:
        return _fail(call_id, FailureCode.STT_NO_SPEECH, f"No speech in the recording: {exc}")
    except TransientIntegrationError as exc:
        call_transition(
            call_id=call_id,
            to=CallStatus.RECORDING_STORED,
            expect=CallStatus.TRANSCRIBING,
            by=STEP,
            reason=f"retried later: {type(exc).__name__}: {exc}",
            queue_next=False,  # the task's retry brings it back
        )
        raise StepRetry(exc) from exc
    except IntegrationError as exc:
        return _fail(call_id, FailureCode.STT_FAILED, f"{type(exc).__name__}: {exc}")
    if not result.words:
        return _fail(call_id, FailureCode.STT_NO_SPEECH, "The engine heard no words in the recording.")
    _save_transcript(call, result, notes=[*notes, *result.notes], seconds=time.monotonic() - started)
    return _reload(call_id)


def _reload(call_id: int) -> Call:
    return Call.objects.get(pk=call_id)


def _save_transcript(call: Call, result, *, notes: list[str], seconds: float) -> None:
    metrics = compute_metrics(result.words, result.duration_ms)
    with transaction.atomic():
        # The move comes first and holds the call's row: if someone moved the call meanwhile, nothing is written.
        if not call_transition(
            call_id=call.pk,
            to=CallStatus.TRANSCRIBED,
            expect=CallStatus.TRANSCRIBING,
            by=STEP,
            fields={"language": result.language, "attempts": 0, **metrics.as_fields()},
        ):  # and the analysis is queued once this commits
            return
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
    logger.info(
        "call_transcribed",
        extra={
            "company_id": call.company_id,
            "call_id": call.pk,
            "engine": result.engine,
            "seconds": round(seconds, 1),
        },
    )


def calls_retranscribe(*, calls, engine: str | None = None, by: str = "console") -> int:
    """Queues a new transcription of calls that have a recording (optionally with another engine); returns how many.
    Supervisors' corrections stay: the analysis that follows keeps them."""
    with_recording = calls.exclude(recording="")
    waiting = list(with_recording.filter(status=CallStatus.RECORDING_STORED).values("id", "company_id"))
    moved = calls_transition(
        call_ids=list(with_recording.filter(status__in=RETRANSCRIBABLE).values_list("id", flat=True)),
        to=CallStatus.RECORDING_STORED,
        expect=RETRANSCRIBABLE,
        by=by,
        reason="re-transcription asked for" + (f" with {engine}" if engine else ""),
        fields={"attempts": 0},
        engine=engine,
        requested=True,
    )
    for row in waiting:  # already waiting: queue it again (a lost message, or another engine)
        transaction.on_commit(
            lambda row=row: pipeline_next(
                call_id=row["id"],
                company_id=row["company_id"],
                status=CallStatus.RECORDING_STORED,
                engine=engine,
                requested=True,
            )
        )
    return len(moved) + len(waiting)
