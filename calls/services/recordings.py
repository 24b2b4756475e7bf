"""Recordings: fetched from the PBX or uploaded, checked to be audio, hashed and kept in the configured storage."""

from __future__ import annotations

import logging
import tempfile
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from calls.audio import AudioInvalid, audio_sha256, probe_audio
from calls.models import Call, CallStatus
from calls.services.pipeline import call_count_attempt, call_mark_failed, call_recording_stored
from integrations.errors import PermanentIntegrationError
from integrations.models import PbxAccount
from integrations.pbx.errors import RecordingMissing, RecordingTooLarge
from integrations.services import error_text, pbx_client_for

logger = logging.getLogger(__name__)

SPOOL_BYTES = 8 * 1024 * 1024  # recordings below this stay in memory while being checked


class RecordingRejected(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def recording_check(source: BinaryIO, *, max_bytes: int) -> tuple[dict, str]:
    """Checks an audio file (size, decodes as audio) and returns the recording fields and its sha256."""
    source.seek(0, 2)
    size = source.tell()
    if size > max_bytes:
        raise RecordingRejected("recording_too_large", f"The recording is {size} bytes; the limit is {max_bytes}.")
    if size == 0:
        raise RecordingRejected("recording_invalid", "The recording is empty (0 bytes).")
    source.seek(0)
    try:
        info = probe_audio(source)
    except AudioInvalid as exc:
        raise RecordingRejected("recording_invalid", f"The recording is not usable audio: {exc.reason}") from exc
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


def call_store_recording(*, call: Call, source: BinaryIO, filename: str, fields: dict) -> Call:
    """Writes the checked audio to storage; moves the call NEW -> RECORDING_STORED once (a repeat changes nothing)."""
    if call.recording:
        return call
    call.recording.save(filename, File(source, name=filename), save=False)  # storage write: outside any transaction
    stored = Call.objects.filter(pk=call.pk, status__in=[CallStatus.NEW, CallStatus.FAILED]).update(
        recording=call.recording.name,
        status=CallStatus.RECORDING_STORED,
        failure_code="",
        failure_reason="",
        attempts=0,
        recording_stored_at=timezone.now(),
        updated_at=timezone.now(),
        **fields,
    )
    if not stored:  # another worker got there first: drop our copy, keep theirs
        call.recording.storage.delete(call.recording.name)
        call.refresh_from_db()
        return call
    call.refresh_from_db()
    transaction.on_commit(lambda: call_recording_stored(call=call))
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
    try:
        client = pbx_client_for(account)  # a stored account the client refuses is a permanent error below
        url = client.recording_url(call.pbx_call_id)
        if url is None:
            raise RecordingMissing(
                "The PBX has no recording for this call yet; it is asked again when the call is re-read."
            )
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as tmp:
            client.download_recording(url, tmp, max_bytes=settings.DIALIX_RECORDING_MAX_BYTES)
            fields, _ = recording_check(tmp, max_bytes=settings.DIALIX_RECORDING_MAX_BYTES)
            ext = {"mp3": "mp3", "opus": "ogg", "vorbis": "ogg", "pcm_s16le": "wav", "pcm_mulaw": "wav"}.get(
                fields["recording_codec"], "audio"
            )
            return call_store_recording(call=call, source=tmp, filename=f"{call.pbx_call_id}.{ext}", fields=fields)
    except RecordingMissing as exc:
        call_mark_failed(call_id=call.pk, code="recording_missing", reason=str(exc), from_status=CallStatus.NEW)
    except RecordingTooLarge as exc:
        call_mark_failed(call_id=call.pk, code="recording_too_large", reason=str(exc), from_status=CallStatus.NEW)
    except RecordingRejected as exc:
        call_mark_failed(call_id=call.pk, code=exc.code, reason=exc.reason, from_status=CallStatus.NEW)
    except PermanentIntegrationError as exc:  # e.g. the PBX refused our credentials: retrying cannot help
        call_mark_failed(
            call_id=call.pk, code="recording_unavailable", reason=error_text(exc), from_status=CallStatus.NEW
        )
    call.refresh_from_db()
    return call
