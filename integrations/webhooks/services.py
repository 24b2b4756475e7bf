"""Every write of webhooks: endpoints, the outbox (events written inside the caller's transaction) and delivery.

Delivery is at least once: a delivery is claimed with a short lease (a conditional UPDATE), sent with no transaction
open, and its outcome written after. A worker that dies mid-send leaves the lease to expire and the sweeper sends
again, with the same webhook-id, so a receiver drops the duplicate.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import requests
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from companies.models import Company
from dialix.errors import DialixError
from integrations.http import make_session
from integrations.services import error_text
from integrations.webhooks.addresses import AddressRefused, check_destination, url_problem
from integrations.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from integrations.webhooks.signing import secret_new, signed_headers

logger = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 30
BACKOFF_MAX_SECONDS = 6 * 3600
# 30 s doubling to 6 h: about 13 tries over the day an integrator may need to notice and fix a receiver.
RETRY_WINDOW = timedelta(hours=24)
# An endpoint that has failed every try for this long is switched off (its owner sees why in the console).
DISABLE_AFTER_FAILING_FOR = timedelta(hours=24)
SEND_LEASE = timedelta(minutes=2)  # longer than one send (connect 5 s + read 15 s): no two workers send at once
SEND_TIMEOUT = (5.0, 15.0)
MAX_RESPONSE_NOTE = 200


class WebhookInvalid(DialixError):
    code, http_status = "invalid", 400


def _validated(*, url: str, events: Iterable[str]) -> tuple[str, list[str]]:
    details: dict[str, list[str]] = {}
    url = (url or "").strip()
    problem = url_problem(url)
    if problem:
        details["url"] = [problem]
    events = list(dict.fromkeys(events))
    unknown = [event for event in events if event not in WebhookEventType.values]
    if not events or unknown:
        details["events"] = [f"Choose one or more of {WebhookEventType.values}."]
    if details:
        raise WebhookInvalid(details=details)
    return url, events


def webhook_endpoint_create(
    *, company: Company, url: str, events: Iterable[str], description: str = "", is_active: bool = True, by=None
) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its signing secret (`whsec_...`). Show the secret once: only the console's owner can see it
    again by rotating it."""
    url, events = _validated(url=url, events=events)
    secret = secret_new()
    endpoint = WebhookEndpoint.objects.create(
        company=company,
        url=url,
        events=events,
        description=description.strip(),
        is_active=is_active,
        secret=secret,
        created_by=by if getattr(by, "pk", None) else None,
    )
    logger.info("webhook_endpoint_created", extra={"company_id": company.pk, "endpoint_id": endpoint.pk})
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(*, company: Company, endpoint_id: int, **changes: Any) -> WebhookEndpoint:
    """Changes url, events, description or is_active. Switching an endpoint on again forgets its failures."""
    endpoint = WebhookEndpoint.objects.for_company(company).select_for_update().get(pk=endpoint_id)
    unknown = set(changes) - {"url", "events", "description", "is_active"}
    if unknown:
        raise TypeError(f"cannot change {sorted(unknown)}")
    url, events = _validated(url=changes.get("url", endpoint.url), events=changes.get("events", endpoint.events))
    endpoint.url, endpoint.events = url, events
    endpoint.description = changes.get("description", endpoint.description).strip()
    if "is_active" in changes:
        if changes["is_active"] and not endpoint.is_active:
            endpoint.consecutive_failures, endpoint.failing_since = 0, None
            endpoint.disabled_at, endpoint.disabled_reason = None, ""
        endpoint.is_active = bool(changes["is_active"])
    endpoint.save()
    return endpoint


def webhook_endpoint_rotate_secret(*, company: Company, endpoint_id: int) -> tuple[WebhookEndpoint, str]:
    endpoint = WebhookEndpoint.objects.for_company(company).get(pk=endpoint_id)
    secret = secret_new()
    endpoint.secret = secret
    endpoint.save(update_fields=["secret", "updated_at"])
    logger.info("webhook_secret_rotated", extra={"company_id": company.pk, "endpoint_id": endpoint.pk})
    return endpoint, secret


def webhook_endpoint_delete(*, company: Company, endpoint_id: int) -> None:
    WebhookEndpoint.objects.for_company(company).get(pk=endpoint_id).delete()


def webhook_events_emit(*, company_id: int, event_type: str, data: Callable[[], dict[str, Any]]) -> list[int]:
    """Writes the event to the outbox of each of the company's active endpoints subscribed to it; the ids written.

    Call it inside the transaction of the change that causes the event: a rolled-back change leaves no event, and a
    committed one is delivered even if no worker runs now (the sweeper finds it). `data` is called only when some
    endpoint wants the event, so a company without webhooks pays one query."""
    if event_type not in WebhookEventType.values:
        raise ValueError(f"unknown webhook event {event_type!r}")
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(company_id=company_id, is_active=True).only("id", "events")
        if event_type in endpoint.events  # JSON containment is not portable to SQLite: filtered here
    ]
    if not endpoints:
        return []
    now = timezone.now()
    event_id = f"msg_{uuid.uuid4().hex}"
    company = Company.objects.values("id", "slug", "name").get(pk=company_id)
    body = json.dumps(
        {"id": event_id, "type": event_type, "timestamp": now.isoformat(), "company": company, "data": data()},
        separators=(",", ":"),
        default=str,
    )
    rows = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                company_id=company_id,
                endpoint_id=endpoint.pk,
                event_id=event_id,
                event_type=event_type,
                payload=body,
                next_attempt_at=now,
                retry_until=now + RETRY_WINDOW,
            )
            for endpoint in endpoints
        ]
    )
    ids = [row.pk for row in rows]
    transaction.on_commit(lambda: _queue(ids, company_id=company_id))
    return ids


def _queue(delivery_ids: list[int], *, company_id: int | None) -> None:
    from dialix.queueing import task_enqueue
    from integrations.tasks import webhook_deliver_task

    for delivery_id in delivery_ids:
        task_enqueue(webhook_deliver_task, delivery_id, company_id=company_id)


def backoff_seconds(attempt: int) -> int:
    """Wait after failed try number `attempt` (1-based): 30 s, 1 min, 2 min ... at most 6 h."""
    return min(BACKOFF_FIRST_SECONDS * 2 ** (attempt - 1), BACKOFF_MAX_SECONDS)


def _send(*, endpoint: WebhookEndpoint, delivery: WebhookDelivery, now) -> tuple[int | None, str]:
    """(status code, problem): no redirect is followed; a 3xx is a failure like any other non-2xx."""
    headers = signed_headers(
        secret=endpoint.secret, event_id=delivery.event_id, timestamp=int(now.timestamp()), body=delivery.payload
    )
    try:
        check_destination(endpoint.url)
        with make_session(retries_for_get=0, timeout=SEND_TIMEOUT) as session:
            session.trust_env = False  # an HTTP(S)_PROXY from the environment would bypass the address check
            response = session.post(
                endpoint.url, data=delivery.payload.encode(), headers=headers, allow_redirects=False, stream=True
            )
            response.close()  # the receiver's body is not read: a 2xx is all that counts
    except AddressRefused as exc:
        return None, str(exc)
    except requests.RequestException as exc:
        return None, error_text(exc)[:500]
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location", "")[:MAX_RESPONSE_NOTE]
        return response.status_code, f"Redirects are not followed (to {location or 'nowhere'})."
    if not 200 <= response.status_code < 300:
        return response.status_code, f"The receiver answered {response.status_code}."
    return response.status_code, ""


def webhook_deliver(*, delivery_id: int) -> str | None:
    """One try of a due delivery; its status after, or None when it is not due (delivered, given up, or another
    worker holds it). Idempotent: a delivered event is never sent again, except by a person's replay."""
    now = timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    claimed = WebhookDelivery.objects.filter(due, pk=delivery_id, status=DeliveryStatus.PENDING).update(
        next_attempt_at=now + SEND_LEASE
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            last_error="The endpoint is switched off.",
            updated_at=now,
        )
        return DeliveryStatus.FAILED
    started = time.monotonic()
    code, problem = _send(endpoint=endpoint, delivery=delivery, now=now)
    duration_ms = int((time.monotonic() - started) * 1000)
    return _record(delivery=delivery, code=code, problem=problem, duration_ms=duration_ms)


@transaction.atomic
def _record(*, delivery: WebhookDelivery, code: int | None, problem: str, duration_ms: int) -> str:
    now = timezone.now()
    number = delivery.attempts + 1
    ok = not problem
    WebhookAttempt.objects.create(
        company_id=delivery.company_id,
        delivery=delivery,
        number=number,
        status_code=code,
        error=problem,
        duration_ms=duration_ms,
        is_success=ok,
    )
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    log = {"company_id": delivery.company_id, "endpoint_id": endpoint.pk, "delivery_id": delivery.pk}
    if ok:
        status, next_at = DeliveryStatus.DELIVERED, None
        endpoint.consecutive_failures, endpoint.failing_since, endpoint.last_success_at = 0, None, now
        endpoint.save(update_fields=["consecutive_failures", "failing_since", "last_success_at", "updated_at"])
        logger.info("webhook_delivered", extra={**log, "attempt": number})
    else:
        next_at = now + timedelta(seconds=backoff_seconds(number))
        gave_up = delivery.retry_until is not None and next_at > delivery.retry_until
        status, next_at = (DeliveryStatus.FAILED, None) if gave_up else (DeliveryStatus.PENDING, next_at)
        endpoint.consecutive_failures = F("consecutive_failures") + 1
        endpoint.failing_since = endpoint.failing_since or now
        fields = ["consecutive_failures", "failing_since", "updated_at"]
        if endpoint.is_active and endpoint.failing_since <= now - DISABLE_AFTER_FAILING_FOR:
            endpoint.is_active, endpoint.disabled_at = False, now
            endpoint.disabled_reason = (
                f"Switched off {now:%Y-%m-%d %H:%M} UTC: every delivery failed since "
                f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC; last: {problem}"
            )[:300]
            fields += ["is_active", "disabled_at", "disabled_reason"]
            logger.warning("webhook_endpoint_disabled", extra=log)
        endpoint.save(update_fields=fields)
        logger.warning(
            "webhook_attempt_failed", extra={**log, "attempt": number, "status_code": code, "gave_up": gave_up}
        )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        attempts=number,
        next_attempt_at=next_at,
        last_status_code=code,
        last_error=problem,
        delivered_at=now if ok else None,
        updated_at=now,
    )
    return status


def webhook_deliveries_due(*, limit: int = 500) -> list[int]:
    """Ids of pending deliveries whose time has come (new, a retry's, or an expired lease): the sweeper's work."""
    now = timezone.now()
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def webhook_deliveries_queue_due() -> int:
    ids = webhook_deliveries_due()
    _queue(ids, company_id=None)
    return len(ids)


class ReplayRefused(DialixError):
    code, http_status = "replay_refused", 409


def webhook_delivery_replay(*, company: Company, delivery_id: int) -> WebhookDelivery:
    """Sends the event again, with the same id and body (a receiver that has it drops it), and a fresh day of
    retries. Refused while its endpoint is switched off."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.for_company(company)
            .select_for_update()
            .select_related("endpoint")
            .get(pk=delivery_id)
        )
        if not delivery.endpoint.is_active:
            raise ReplayRefused("Switch the endpoint on before replaying its events.")
        now = timezone.now()
        delivery.status, delivery.next_attempt_at, delivery.retry_until = (
            DeliveryStatus.PENDING,
            now,
            now + RETRY_WINDOW,
        )
        delivery.save(update_fields=["status", "next_attempt_at", "retry_until", "updated_at"])
        transaction.on_commit(lambda: _queue([delivery.pk], company_id=company.pk))
    logger.info("webhook_replayed", extra={"company_id": company.pk, "delivery_id": delivery.pk})
    return delivery
