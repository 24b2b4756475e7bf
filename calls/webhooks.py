"""Which changes of a call are webhook events, and the call as an event shows it (issue 13). Called inside the
transaction of the change, so the outbox row commits or rolls back with it."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from calls.models import Call, CallStatus
from integrations.webhooks.models import WebhookEventType
from integrations.webhooks.services import webhook_events_emit

# The pipeline moves that are events. TRANSCRIBED is an event only when it comes from TRANSCRIBING: the other ways in
# (re-analyse, a released analysis claim) bring no new transcript.
_TRANSITION_EVENTS: dict[str, tuple[str, frozenset[str] | None]] = {
    CallStatus.TRANSCRIBED: (WebhookEventType.CALL_TRANSCRIBED, frozenset({CallStatus.TRANSCRIBING})),
    CallStatus.DONE: (WebhookEventType.CALL_ANALYSED, None),
    CallStatus.FAILED: (WebhookEventType.CALL_FAILED, None),
}


class WebhookCallSerializer(serializers.ModelSerializer):
    """The call in an event: small and stable; the API's call detail (`url`) has the rest."""

    state = serializers.CharField(source="status")
    url = serializers.SerializerMethodField()

    class Meta:
        model = Call
        fields = [
            "id",
            "url",
            "state",
            "failure_code",
            "started_at",
            "direction",
            "duration_seconds",
            "score",
            "auto_fail",
            "needs_review",
            "review_state",
        ]

    def get_url(self, call: Call) -> str:
        return f"/api/v1/calls/{call.pk}/"


def _call_data(call_id: int) -> dict[str, Any]:
    return {"call": WebhookCallSerializer(Call.objects.get(pk=call_id)).data}


def call_event_emit(*, company_id: int, call_id: int, event_type: str) -> None:
    webhook_events_emit(company_id=company_id, event_type=event_type, data=lambda: _call_data(call_id))


def events_for_transition(*, company_id: int, call_id: int, from_status: str, to: str) -> None:
    event = _TRANSITION_EVENTS.get(to)
    if event is None:
        return
    event_type, sources = event
    if sources is None or from_status in sources:
        call_event_emit(company_id=company_id, call_id=call_id, event_type=event_type)
