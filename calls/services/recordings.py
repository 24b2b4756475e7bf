"""Recordings: fetched from the PBX or uploaded, checked to be audio, hashed and kept in the configured storage."""

from __future__ import annotations

import logging
import tempfile
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.db.models import Q
from django.utils import timezone

from calls.audio import AudioInvalid, AudioTruncated, audio_sha256, probe_audio
from calls.models import Call, CallSource, CallStatus, FailureCode
from calls.services.pipeline import call_mark_failed
from calls.services.retry import RECORDING, StepRetry
from calls.services.states import call_count_attempt, call_transition
from integrations.errors import PermanentIntegrationError, TransientIntegrationError
from integrations.limits import limit_mutex
from integrations.models import PbxAccount
from integrations.pbx.errors import RecordingMissing, RecordingNotAudio, RecordingTooLarge
from integrations.services import error_text, pbx_client_for

logger = logging.getLogger(__name__)

SPOOL_BYTES = 8 * 1024 * 1024  # recordings below this stay in memory while being checked
STEP = "task:fetch_recording"


class RecordingRejected(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(code, reason)  # both in args, so the error pickles (a worker's retry carries it)
        self.code, self.reason = code, reason

    def __str__(self) -> str:
        return self.reason


def recording_check(source: BinaryIO, *, max_bytes: int, talk_seconds: float | None = None) -> tuple[dict, str]:
    """Checks an audio file (size, decodes as audio to its end, as long as its header and the PBX's talk time say)
    and returns the recording fields and its sha256."""
    source.seek(0, 2)
    size = source.tell()
    if size > max_bytes:
        raise RecordingRejected(
            FailureCode.RECORDING_TOO_LARGE, f"The recording is {size} bytes; the limit is {max_bytes}."
        )
    if size == 0:
        raise RecordingRejected(FailureCode.RECORDING_INVALID, "The recording is empty (0 bytes).")
    source.seek(0)
    try:
        info = probe_audio(source, talk_seconds=talk_seconds)
    except AudioTruncated as exc:
        raise RecordingRejected(FailureCode.RECORDING_TRUNCATED, f"The recording is cut short: {exc.detail}.") from exc
    except AudioInvalid as exc:
        raise RecordingRejected(
            FailureCode.RECORDING_INVALID, f"The recording is not usable audio: {exc.reason}"
        ) from exc
    source.seek(0)
    sha = audio_sha256(source)
    source.seek(0)
    fields = {
        "recording_bytes": size,
        "recording_duration_seconds": round(info.duration_seconds, 3),
        "recording_channels": info.channels,
        "recording_sample_rate": info.sample_rate,
        "recording_codec": info.codec,
        "recording_sha256": sha,
    }
    return fields, sha


def call_store_recording(
    *, call: Call, source: BinaryIO, filename: str, fields: dict, by: str = "task:fetch_recording"
) -> Call:
    """Writes the checked audio to storage; moves the call NEW -> RECORDING_STORED once (a repeat changes nothing)."""
    if call.recording:
        return call
    call.recording.save(filename, File(source, name=filename), save=False)  # storage write: outside any transaction
    stored = call_transition(
        call_id=call.pk,
        to=CallStatus.RECORDING_STORED,
        expect={CallStatus.NEW, CallStatus.FAILED},
        by=by,
        where=Q(recording=""),
        fields={"recording": call.recording.name, "attempts": 0, "recording_stored_at": timezone.now(), **fields},
    )  # and the transcription is queued once this commits
    if not stored:  # another worker got there first: drop our copy, keep theirs
        call.recording.storage.delete(call.recording.name)
    call.refresh_from_db()
    return call


def call_fetch_recording(*, call_id: int) -> Call | None:
    """Downloads a PBX call's recording. Idempotent: a call that has its recording, or is not waiting for one, is left
    alone. Permanent problems end the call FAILED with the reason; transient ones raise for the task to retry."""
    call = Call.objects.select_related("company").filter(pk=call_id).first()
    if call is None or call.status != CallStatus.NEW or call.recording:
        return call
    account = PbxAccount.objects.filter(company_id=call.company_id).first()
    if account is None or not account.fetch_recordings:
        return call
    call_count_attempt(call_id=call.pk)
    call.attempts += 1
    try:
        return _fetch(call, account)
    except (TransientIntegrationError, StepRetry):
        raise  # the task retries with backoff and a fresh link
    except Exception as exc:  # the step's boundary: an unexpected error is recorded on the call, never left silent
        logger.exception(
            "call_fetch_recording_internal_error", extra={"company_id": call.company_id, "call_id": call_id}
        )
        call_mark_failed(
            call_id=call.pk,
            code=FailureCode.INTERNAL_ERROR,
            reason=f"{type(exc).__name__}: {exc}",
            from_status=CallStatus.NEW,
            by=STEP,
        )
        call.refresh_from_db()
        return call


def _fetch(call: Call, account: PbxAccount) -> Call:
    """One try: a fresh link from the API (links expire, spec §6), the download, the whole-file check, the store.
    Only the API saying there is no recording, a file over the limit or refused credentials end the call at once;
    a cut, garbled or non-audio answer is retried like any passing fault, and only the last try calls it final."""
    try:
        client = pbx_client_for(account)  # a stored account the client refuses is a permanent error below
        url = client.recording_url(call.pbx_call_id)
        if url is None:
            raise RecordingMissing(
                "The PBX has no recording for this call yet; it is asked again when the call is re-read."
            )
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as tmp:
            # One download at a time per tenant, across every worker (spec §8: serial per tenant); busy -> retry.
            with limit_mutex(f"pbx-download:{call.company_id}", what="this company's PBX downloads"):
                client.download_recording(url, tmp, max_bytes=settings.DIALIX_RECORDING_MAX_BYTES)
            fields, _ = recording_check(
                tmp,
                max_bytes=settings.DIALIX_RECORDING_MAX_BYTES,
                talk_seconds=call.talk_seconds if call.source != CallSource.UPLOAD else None,
            )
            ext = {"mp3": "mp3", "opus": "ogg", "vorbis": "ogg", "pcm_s16le": "wav", "pcm_mulaw": "wav"}.get(
                fields["recording_codec"], "audio"
            )
            return call_store_recording(call=call, source=tmp, filename=f"{call.pbx_call_id}.{ext}", fields=fields)
    except RecordingMissing as exc:
        _failed(call, FailureCode.RECORDING_MISSING, str(exc))
    except RecordingTooLarge as exc:
        _failed(call, FailureCode.RECORDING_TOO_LARGE, str(exc))
    except RecordingNotAudio as exc:  # a page instead of the file: a host's bad moment, unless it is all we ever get
        _retry_unless_last(call, RecordingRejected(FailureCode.RECORDING_INVALID, f"{exc}."))
    except RecordingRejected as exc:
        if exc.code in (FailureCode.RECORDING_INVALID, FailureCode.RECORDING_TRUNCATED):
            _retry_unless_last(call, exc)  # a cut or garbled download is usually whole the next time
        else:
            _failed(call, exc.code, exc.reason)
    except PermanentIntegrationError as exc:  # e.g. the PBX refused our credentials: retrying cannot help
        _failed(call, FailureCode.RECORDING_UNAVAILABLE, error_text(exc))
    call.refresh_from_db()
    return call


def _retry_unless_last(call: Call, rejected: RecordingRejected) -> None:
    """Raises StepRetry for the task to try again with a fresh link; on the policy's last try, fails the call with
    the rejection's own code and numbers (not the generic "gave up"), so a person reads what was wrong."""
    last = call.attempts > RECORDING.max_retries  # attempts counts this try; the task's tries are 1 + max_retries
    logger.warning(
        "call_fetch_recording_rejected",
        extra={
            "company_id": call.company_id,
            "call_id": call.pk,
            "failure_code": rejected.code,
            "reason": rejected.reason,
            "attempt": call.attempts,
            "final": last,
        },
    )
    if not last:
        raise StepRetry(rejected)
    _failed(call, rejected.code, f"{rejected.reason} (after {call.attempts} attempts)")


def _failed(call: Call, code: str, reason: str) -> None:
    call_mark_failed(call_id=call.pk, code=code, reason=reason, from_status=CallStatus.NEW, by=STEP)
