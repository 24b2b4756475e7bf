"""Calls that arrive as audio files: uploaded in the console or posted to the API."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction

from calls.models import Call, CallSource
from calls.phones import normalise_phone
from calls.services.crm import crm_link_queue
from calls.services.recordings import RecordingRejected, call_store_recording, recording_check
from calls.services.states import call_events_created
from calls.signals import figures_changed
from companies.models import Company
from dialix.errors import DialixError
from operators.models import Operator

logger = logging.getLogger(__name__)


class UploadRejected(DialixError):
    code, http_status = "invalid", 400
    default_message = "Invalid input."


class UploadConflict(DialixError):
    code, http_status = "conflict", 409
    default_message = "A call with this external id already has a different recording."


# An external id becomes part of the call's identity and of its recording's file name: a safe charset only.
EXTERNAL_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
EXTERNAL_ID_HELP = "Up to 128 letters, digits and . _ : - (no spaces, slashes or other characters)."


def external_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be an external id, or None when it can (empty means: none given)."""
    if value == "":
        return None
    if not EXTERNAL_ID_PATTERN.fullmatch(value) or value.strip(".") == "":
        return f"Not a valid external id. {EXTERNAL_ID_HELP}"
    return None


@dataclass(frozen=True)
class UploadResult:
    call: Call
    created: bool

    @property
    def duplicate(self) -> bool:
        """The same external id, or the same audio, was uploaded before: this is that call, not a new one."""
        return not self.created


def call_upload(
    *,
    company: Company,
    audio: BinaryIO,
    filename: str,
    direction: str,
    started_at: datetime,
    external_id: str = "",
    operator: Operator | None = None,
    customer_phone: str = "",
) -> UploadResult:
    """Stores an uploaded call with its recording. Idempotent: the same external id, or without one the same audio,
    gives the same call (metadata updated), never a second one."""
    problem = external_id_problem(external_id)
    if problem is not None:
        raise UploadRejected(details={"external_id": [problem]})
    if operator is not None and operator.company_id != company.pk:
        raise UploadRejected(details={"operator": ["Unknown operator."]})
    try:
        fields, sha = recording_check(audio, max_bytes=settings.DIALIX_UPLOAD_MAX_BYTES)
    except RecordingRejected as exc:
        raise UploadRejected(exc.reason, details={"audio": [exc.reason]}) from exc

    pbx_call_id = external_id or f"upload-{sha[:40]}"
    values = {
        "operator_id": operator.pk if operator else None,
        "direction": direction,
        "customer_phone_raw": customer_phone,
        "customer_phone": normalise_phone(customer_phone),
        "started_at": started_at,
        "duration_seconds": round(fields["recording_duration_seconds"]),
        "talk_seconds": round(fields["recording_duration_seconds"]),
    }
    try:
        with transaction.atomic():
            call, created = Call.objects.for_company(company).get_or_create(
                company=company,
                pbx_call_id=pbx_call_id,
                defaults={**values, "source": CallSource.UPLOAD},  # a new call starts NEW (the model's default)
            )
            if created:
                call_events_created(company_id=company.pk, calls=[(call.pk, call.status)], by="upload")
                crm_link_queue(company_id=company.pk)  # its CRM client (#14), once committed
                figures_changed(company_id=company.pk, points=[(call.operator_id, call.started_at)])
    except IntegrityError:  # the same file uploaded twice at the same moment: the other request created it
        call, created = Call.objects.for_company(company).get(pbx_call_id=pbx_call_id), False
    if not created:
        if call.recording_sha256 and call.recording_sha256 != sha:
            raise UploadConflict(details={"external_id": [f"Call {pbx_call_id} already has another recording."]})
        changed = [name for name, value in values.items() if getattr(call, name) != value]
        if changed:
            before = (call.operator_id, call.started_at)
            for name in changed:
                setattr(call, name, values[name])
            call.save(update_fields=[*changed, "updated_at"])
            figures_changed(company_id=company.pk, points=[before, (call.operator_id, call.started_at)])
    if not call.recording:
        # Only the extension of the client's file name is used, and only its letters and digits.
        ext = re.sub(r"[^a-z0-9]", "", filename.rsplit(".", 1)[-1].lower())[:5] if "." in filename else ""
        try:
            call = call_store_recording(
                call=call, source=audio, filename=f"call.{ext or 'audio'}", fields=fields, by="upload"
            )
        except Exception:
            if created:  # no call without its recording: the client's retry starts clean
                Call.objects.filter(pk=call.pk, recording="").delete()
            raise
    logger.info("call_uploaded", extra={"company_id": company.pk, "call_id": call.pk, "is_new": created})
    return UploadResult(call=call, created=created)
