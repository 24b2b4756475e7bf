"""Which changes of a call are webhook events, and the call as an event shows it (issue 13). Called inside the
transaction of the change, so the outbox row commits or rolls back with it."""

from __future__ import annotations

from typing import Any

from calls.models import Call, CallStatus
from calls.serializers import CallOutputSerializer
from integrations.webhooks.models import WebhookEventType
from integrations.webhooks.services import webhook_events_emit

# The pipeline moves that are events. TRANSCRIBED is an event only when it comes from TRANSCRIBING: the other ways in
# (re-analyse, a released analysis claim) bring no new transcript.
_TRANSITION_EVENTS: dict[str, tuple[str, frozenset[str] | None]] = {
    CallStatus.TRANSCRIBED: (WebhookEventType.CALL_TRANSCRIBED, frozenset({CallStatus.TRANSCRIBING})),
    CallStatus.DONE: (WebhookEventType.CALL_ANALYSED, None),
    CallStatus.FAILED: (WebhookEventType.CALL_FAILED, None),
}


def _call_data(call_id: int) -> dict[str, Any]:
    # The call exactly as GET /api/v1/calls/<id>/ shows it, so a receiver needs no second request and no second shape.
    call = Call.objects.select_related("operator", "transcript", "reviewed_by").get(pk=call_id)
    return {"call": CallOutputSerializer(call).data}


def call_event_emit(*, company_id: int, call_id: int, event_type: str) -> None:
    webhook_events_emit(company_id=company_id, event_type=event_type, data=lambda: _call_data(call_id))


def events_for_transition(*, company_id: int, call_id: int, from_status: str, to: str) -> None:
    event = _TRANSITION_EVENTS.get(to)
    if event is None:
        return
    event_type, sources = event
    if sources is None or from_status in sources:
        call_event_emit(company_id=company_id, call_id=call_id, event_type=event_type)
