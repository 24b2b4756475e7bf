"""Throttles (issue 16): wrong API tokens per address, uploads per company, PBX pushes (wrong secrets per address,
pushes per account). Every refusal is 429 with Retry-After in the header and in the JSON error body."""

import itertools
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from companies.services import api_token_create
from integrations.services import pbx_push_secret_rotate

pytestmark = pytest.mark.django_db
GOOD = Path(__file__).resolve().parents[1] / "fixtures" / "calls" / "en-01-sale.stereo8k.mp3"
_addresses = (f"10.77.{a}.{b}" for a, b in itertools.product(range(256), range(1, 255)))


@pytest.fixture
def address() -> str:
    """An address of this test's own: the counters live in the shared cache, across tests."""
    return next(_addresses)


@pytest.fixture
def production_limits(settings):
    settings.DIALIX_TOKEN_FAILURES_PER_MINUTE = 30
    settings.DIALIX_PUSH_FAILURES_PER_MINUTE = 30


def _assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 60
    body = response.json()["error"]
    assert body["code"] == "throttled" and body["details"]["retry_after"] == pytest.approx(wait, abs=1)


def test_the_31st_wrong_token_from_one_address_in_a_minute_is_429(production_limits, address, company):
    client = APIClient(REMOTE_ADDR=address)
    for n in range(30):
        response = client.get("/api/v1/calls/", HTTP_AUTHORIZATION=f"Bearer dlx_wrong{n}")
        assert response.status_code == 401, (n, response.content)
    _assert_throttled(client.get("/api/v1/calls/", HTTP_AUTHORIZATION="Bearer dlx_wrong31"))

    # While throttled, even the right token from that address waits: guessing gains nothing. Elsewhere it works.
    _, raw = api_token_create(company=company, name="integration")
    _assert_throttled(client.get("/api/v1/calls/", HTTP_AUTHORIZATION=f"Bearer {raw}"))
    other = APIClient(REMOTE_ADDR=next(_addresses))
    assert other.get("/api/v1/calls/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_right_tokens_are_not_counted_as_failures(production_limits, address, company):
    _, raw = api_token_create(company=company, name="integration")
    client = APIClient(REMOTE_ADDR=address)
    for _ in range(35):
        assert client.get("/api/v1/operators/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def _upload(client: APIClient, external_id: str):
    data = {"direction": "inbound", "started_at": "2026-11-20T10:00:00+05:00", "external_id": external_id}
    data["audio"] = SimpleUploadedFile(GOOD.name, GOOD.read_bytes(), content_type="audio/mpeg")
    return client.post("/api/v1/calls/", data, format="multipart")


def test_uploads_are_limited_per_company(settings, company, other_company):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**rates, "upload": "2/minute"}}
    clients = []
    for name in ("first", "second"):  # two tokens of one company share the company's budget
        _, raw = api_token_create(company=company, name=name, scope="write")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        clients.append(client)
    assert _upload(clients[0], "u-1").status_code == 202
    assert _upload(clients[1], "u-2").status_code == 202
    _assert_throttled(_upload(clients[0], "u-3"))
    assert clients[1].get("/api/v1/calls/").status_code == 200  # reading is not an upload

    _, raw = api_token_create(company=other_company, name="theirs", scope="write")
    theirs = APIClient()
    theirs.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert _upload(theirs, "u-1").status_code == 202  # another company's budget is its own


def test_wrong_push_secrets_from_one_address_are_throttled(production_limits, address, pbx_account):
    client = APIClient(REMOTE_ADDR=address)
    for n in range(15):
        assert client.post(f"/api/v1/pbx/webhook/pbxhook_wrong{n}/", {"uuid": "x"}).status_code == 404
        assert (
            client.post(
                "/api/v1/pbx/webhook/", {"uuid": "x"}, HTTP_AUTHORIZATION=f"Bearer pbxhook_wrong{n}"
            ).status_code
            == 401
        )
    secret = pbx_push_secret_rotate(account=pbx_account)
    _assert_throttled(client.post("/api/v1/pbx/webhook/", {"uuid": "x"}, HTTP_AUTHORIZATION=f"Bearer {secret}"))


def test_pushes_are_limited_per_account(settings, pbx_account):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**rates, "pbx_push": "3/minute"}}
    secret = pbx_push_secret_rotate(account=pbx_account)
    client = APIClient()
    ringing = {"uuid": "call-1", "event": "ringing"}  # acknowledged, nothing fetched
    for _ in range(3):
        response = client.post("/api/v1/pbx/webhook/", ringing, HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert response.status_code == 202, response.content
    _assert_throttled(client.post("/api/v1/pbx/webhook/", ringing, HTTP_AUTHORIZATION=f"Bearer {secret}"))
