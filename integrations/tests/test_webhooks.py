"""Outgoing webhooks: outbox written with the change, signed delivery (checked with the `standardwebhooks` package),
at-least-once retries de-duplicated by event id, no redirects, no private addresses, the console and the API."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from calls.models import CallStatus, FailureCode
from calls.services.states import call_transition
from calls.tests.factories import CallFactory
from companies.models import Role
from companies.services import api_token_create
from integrations.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from integrations.webhooks.services import (
    WebhookInvalid,
    webhook_deliver,
    webhook_delivery_replay,
    webhook_endpoint_create,
)

pytestmark = pytest.mark.django_db


class Receiver:
    """A receiver on 127.0.0.1 that answers `statuses` in turn (then 200), verifies each request with the
    standardwebhooks package and keeps the event ids it accepted, as a real integrator would."""

    def __init__(self, *, statuses=(), secret: str | None = None, redirect_to: str | None = None) -> None:
        self.statuses = list(statuses)
        self.secret = secret
        self.redirect_to = redirect_to
        self.requests: list[dict] = []
        self.accepted: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append({"path": self.path, "headers": headers, "body": body})
                if receiver.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", receiver.redirect_to)
                    self.end_headers()
                    return
                code = receiver.statuses.pop(0) if receiver.statuses else 200
                if code == 200:
                    Webhook(receiver.secret).verify(body, headers)  # raises on a bad signature: the test sees a 500
                    if headers["webhook-id"] not in receiver.accepted:
                        receiver.accepted.append(headers["webhook-id"])
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def allow_private(settings):
    settings.DIALIX_WEBHOOKS_ALLOW_PRIVATE = True


def _endpoint(company, url: str, events=("call.failed",)):
    return webhook_endpoint_create(company=company, url=url, events=list(events))


def _fail(call) -> bool:
    return call_transition(
        call_id=call.pk,
        to=CallStatus.FAILED,
        expect=CallStatus.NEW,
        by="test",
        code=FailureCode.values[0],
        queue_next=False,
    )


def _make_due() -> None:
    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now())


def test_failed_call_writes_the_event_to_the_outbox_with_the_change(company, allow_private):
    endpoint, _ = _endpoint(company, "http://127.0.0.1:9/hooks")
    _endpoint(company, "http://127.0.0.1:9/other", events=["call.analysed"])  # not subscribed to call.failed
    call = CallFactory(company=company, status=CallStatus.NEW)
    assert _fail(call)
    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint == endpoint and delivery.status == DeliveryStatus.PENDING
    body = json.loads(delivery.payload)
    assert body["type"] == "call.failed" and body["id"] == delivery.event_id
    assert body["company"]["slug"] == company.slug
    assert body["data"]["call"]["id"] == call.pk and body["data"]["call"]["status"] == "failed"
    from calls.serializers import CallOutputSerializer

    assert list(body["data"]["call"]) == CallOutputSerializer.Meta.fields  # the call as the API shows it


def test_rolled_back_change_leaves_no_event(company, allow_private):
    _endpoint(company, "http://127.0.0.1:9/hooks")
    call = CallFactory(company=company, status=CallStatus.NEW)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert _fail(call)
        raise RuntimeError("the caller's work fails after the move")
    call.refresh_from_db()
    assert call.status == CallStatus.NEW
    assert not WebhookDelivery.objects.exists()


def test_other_companies_endpoints_get_nothing(company, other_company, allow_private):
    _endpoint(other_company, "http://127.0.0.1:9/hooks")
    assert _fail(CallFactory(company=company, status=CallStatus.NEW))
    assert not WebhookDelivery.objects.exists()


def test_receiver_failing_three_times_gets_the_event_once_by_its_id(company, allow_private):
    with Receiver(statuses=[500, 503, 502]) as receiver:
        endpoint, secret = _endpoint(company, receiver.url)
        receiver.secret = secret
        assert _fail(CallFactory(company=company, status=CallStatus.NEW))
        delivery = WebhookDelivery.objects.get()
        outcomes = []
        for _ in range(4):
            outcomes.append(webhook_deliver(delivery_id=delivery.pk))
            _make_due()
        assert webhook_deliver(delivery_id=delivery.pk) is None  # delivered: never sent again
    assert outcomes == ["pending", "pending", "pending", "delivered"]
    assert len(receiver.requests) == 4
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {delivery.event_id}
    assert receiver.accepted == [delivery.event_id]
    delivery.refresh_from_db()
    assert delivery.attempts == 4 and delivery.last_status_code == 200
    assert [a.status_code for a in delivery.attempt_log.order_by("number")] == [500, 503, 502, 200]
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.last_success_at is not None


def test_retries_back_off_and_stop_after_a_day(company, allow_private):
    with Receiver(statuses=[500] * 3) as receiver:
        _endpoint(company, receiver.url)
        assert _fail(CallFactory(company=company, status=CallStatus.NEW))
        delivery = WebhookDelivery.objects.get()
        before = timezone.now()
        webhook_deliver(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        first_wait = (delivery.next_attempt_at - before).total_seconds()
        assert 25 <= first_wait <= 40  # the first wait: 30 s
        assert abs((delivery.retry_until - delivery.created_at) - timedelta(hours=24)) < timedelta(minutes=1)
        assert webhook_deliver(delivery_id=delivery.pk) is None  # not due yet: nothing sent
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        before = timezone.now()
        webhook_deliver(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        assert (delivery.next_attempt_at - before).total_seconds() > 1.5 * first_wait  # the wait grows
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now(), retry_until=timezone.now() + timedelta(seconds=10)
        )
        assert webhook_deliver(delivery_id=delivery.pk) == "failed"
    assert len(receiver.requests) == 3


def test_signature_is_verified_by_standardwebhooks(company, allow_private):
    with Receiver() as receiver:
        _, secret = _endpoint(company, receiver.url)
        assert secret.startswith("whsec_")
        receiver.secret = secret
        assert _fail(CallFactory(company=company, status=CallStatus.NEW))
        assert webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk) == "delivered"
    sent = receiver.requests[0]
    assert sent["headers"]["webhook-signature"].startswith("v1,")
    payload = Webhook(secret).verify(sent["body"], sent["headers"])
    assert payload["type"] == "call.failed"
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 32).verify(sent["body"], sent["headers"])


def test_redirecting_receiver_is_not_followed(company, allow_private):
    with Receiver() as target, Receiver(redirect_to=None) as receiver:
        receiver.redirect_to = target.url
        _endpoint(company, receiver.url)
        assert _fail(CallFactory(company=company, status=CallStatus.NEW))
        delivery = WebhookDelivery.objects.get()
        assert webhook_deliver(delivery_id=delivery.pk) == "pending"
    assert len(receiver.requests) == 1 and target.requests == []
    delivery.refresh_from_db()
    assert delivery.last_status_code == 302 and "Redirects are not followed" in delivery.last_error


def test_private_addresses_are_refused_without_the_setting(company, settings):
    settings.DIALIX_WEBHOOKS_ALLOW_PRIVATE = False
    for url in ["http://127.0.0.1/h", "http://169.254.169.254/latest", "http://10.0.0.5/h", "ftp://example.com/h"]:
        with pytest.raises(WebhookInvalid):
            _endpoint(company, url)
    with Receiver() as receiver:
        # A host name passes the form check; its address is checked before every send.
        endpoint, _ = _endpoint(company, receiver.url.replace("127.0.0.1", "localhost"))
        assert _fail(CallFactory(company=company, status=CallStatus.NEW))
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert webhook_deliver(delivery_id=delivery.pk) == "pending"
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert "private network" in delivery.last_error


def test_endpoint_failing_for_a_day_is_switched_off_and_the_owner_sees_why(client, company, make_member, allow_private):
    with Receiver(statuses=[500]) as receiver:
        endpoint, _ = _endpoint(company, receiver.url)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            failing_since=timezone.now() - timedelta(hours=25), consecutive_failures=12
        )
        assert _fail(CallFactory(company=company, status=CallStatus.NEW))
        webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk)
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "every delivery failed" in endpoint.disabled_reason
    # No new events for a switched-off endpoint, and a replay is refused until it is on again.
    assert _fail(CallFactory(company=company, status=CallStatus.NEW))
    assert WebhookDelivery.objects.count() == 1
    with pytest.raises(Exception, match="Switch the endpoint on"):
        webhook_delivery_replay(company=company, delivery_id=WebhookDelivery.objects.get().pk)
    owner = make_member(company, Role.OWNER)
    client.force_login(owner.user)
    page = client.get("/admin/integrations/webhookendpoint/").content.decode()
    assert "is off" in page and "every delivery failed" in page


def test_owner_adds_endpoint_in_console_and_sees_secret_once(client, company, make_member, allow_private):
    owner = make_member(company, Role.OWNER)
    client.force_login(owner.user)
    response = client.post(
        "/admin/integrations/webhookendpoint/add/",
        {"url": "http://127.0.0.1:9/hooks", "events": ["call.analysed", "call.reviewed"], "is_active": "on"},
        follow=True,
    )
    page = response.content.decode()
    endpoint = WebhookEndpoint.objects.for_company(company).get()
    assert endpoint.events == ["call.analysed", "call.reviewed"]
    assert endpoint.secret in page
    assert (
        endpoint.secret not in client.get(f"/admin/integrations/webhookendpoint/{endpoint.pk}/change/").content.decode()
    )


def test_delivery_log_and_replay_in_console(client, company, make_member, allow_private):
    with Receiver() as receiver:
        endpoint, secret = _endpoint(company, receiver.url)
        receiver.secret = secret
        assert _fail(CallFactory(company=company, status=CallStatus.NEW))
        delivery = WebhookDelivery.objects.get()
        webhook_deliver(delivery_id=delivery.pk)
        owner = make_member(company, Role.OWNER)
        client.force_login(owner.user)
        log = client.get(f"/admin/integrations/webhookdelivery/?endpoint__id__exact={endpoint.pk}").content.decode()
        assert "call.failed" in log and "Delivered" in log
        client.post(
            "/admin/integrations/webhookdelivery/",
            {"action": "replay", "_selected_action": [delivery.pk]},
        )
        webhook_deliver(delivery_id=delivery.pk)  # on commit the task ran eagerly or the sweeper picks it up
    assert [r["headers"]["webhook-id"] for r in receiver.requests] == [delivery.event_id, delivery.event_id]


def test_api_creates_endpoint_with_secret_once_and_lists_it(company, allow_private):
    from rest_framework.test import APIClient

    _, raw = api_token_create(company=company, name="hooks", scope="write")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api.post(
        "/api/v1/webhooks/", {"url": "http://127.0.0.1:9/h", "events": ["call.analysed"]}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["secret"].startswith("whsec_")
    listed = api.get("/api/v1/webhooks/").json()["results"]
    assert [e["url"] for e in listed] == ["http://127.0.0.1:9/h"] and "secret" not in listed[0]
    bad = api.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/h", "events": ["call.nope"]}, format="json")
    assert bad.status_code == 400 and "events" in bad.json()["error"]["details"]
    pk = listed[0]["id"]
    assert api.patch(f"/api/v1/webhooks/{pk}/", {"is_active": False}, format="json").json()["is_active"] is False
    assert api.get(f"/api/v1/webhooks/{pk}/deliveries/").json()["results"] == []
    assert api.delete(f"/api/v1/webhooks/{pk}/").status_code == 204
