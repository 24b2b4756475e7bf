"""The PBX push with its secret in a header (issue 16): a Bearer secret, or an HMAC signature of the body; the URL
form kept for PBXs that cannot send headers, and a secret in a URL never written to a log line."""

import hashlib
import hmac
import io
import json
import logging
import time

import pytest
from rest_framework.test import APIClient

from dialix.security_logging import RedactSecretsFilter
from integrations.services import pbx_push_secret_rotate, pbx_push_signing_key

pytestmark = pytest.mark.django_db
RINGING = {"uuid": "call-7", "event": "ringing"}  # acknowledged (202), nothing fetched from the PBX


def _signed(secret: str, body: bytes, *, at: int | None = None, key: str | None = None) -> str:
    key_id, signing_key = pbx_push_signing_key(raw=secret)
    t = str(at if at is not None else int(time.time()))
    digest = hmac.new((key or signing_key).encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},kid={key_id},v1={digest}"


def test_push_with_the_secret_as_a_bearer_header(pbx_account):
    secret = pbx_push_secret_rotate(account=pbx_account)
    response = APIClient().post("/api/v1/pbx/webhook/", RINGING, format="json", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 202 and response.json() == {
        "queued": False,
        "reason": "event 'ringing' is not a call end",
    }


def test_push_without_or_with_a_wrong_secret_is_401(pbx_account):
    pbx_push_secret_rotate(account=pbx_account)
    client = APIClient()
    assert client.post("/api/v1/pbx/webhook/", RINGING, format="json").status_code == 401
    wrong = client.post("/api/v1/pbx/webhook/", RINGING, format="json", HTTP_AUTHORIZATION="Bearer pbxhook_nope")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "not_authenticated"


def test_a_signed_push_is_accepted_without_the_secret_on_the_wire(pbx_account):
    secret = pbx_push_secret_rotate(account=pbx_account)
    body = json.dumps(RINGING).encode()
    response = APIClient().post(
        "/api/v1/pbx/webhook/", body, content_type="application/json", HTTP_X_DIALIX_SIGNATURE=_signed(secret, body)
    )
    assert response.status_code == 202, response.content


@pytest.mark.parametrize("tamper", ["body", "old", "key"])
def test_a_push_with_a_bad_signature_is_refused(pbx_account, tamper):
    secret = pbx_push_secret_rotate(account=pbx_account)
    body = json.dumps(RINGING).encode()
    signature = {
        "body": _signed(secret, json.dumps({**RINGING, "uuid": "other"}).encode()),  # signed another body
        "old": _signed(secret, body, at=int(time.time()) - 600),  # a replay from ten minutes ago
        "key": _signed(secret, body, key="guessed"),
    }[tamper]
    response = APIClient().post(
        "/api/v1/pbx/webhook/", body, content_type="application/json", HTTP_X_DIALIX_SIGNATURE=signature
    )
    assert response.status_code == 401


def test_the_url_form_still_works_and_the_old_secret_stops_after_a_rotation(pbx_account):
    old = pbx_push_secret_rotate(account=pbx_account)
    client = APIClient()
    assert client.post(f"/api/v1/pbx/webhook/{old}/", RINGING, format="json").status_code == 202
    new = pbx_push_secret_rotate(account=pbx_account)
    assert client.post(f"/api/v1/pbx/webhook/{old}/", RINGING, format="json").status_code == 404
    assert client.post("/api/v1/pbx/webhook/", RINGING, HTTP_AUTHORIZATION=f"Bearer {old}").status_code == 401
    assert client.post(f"/api/v1/pbx/webhook/{new}/", RINGING, format="json").status_code == 202


@pytest.fixture
def log_output():
    """What the production handler (settings.LOGGING's console, JSON) writes, captured."""
    handler = next(
        h for h in logging.getLogger().handlers if any(isinstance(f, RedactSecretsFilter) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def test_a_secret_in_the_url_is_never_logged(pbx_account, log_output):
    secret = pbx_push_secret_rotate(account=pbx_account)
    client = APIClient()
    client.post(f"/api/v1/pbx/webhook/{secret}x/", RINGING, format="json")  # wrong: Django logs "Not Found: <path>"
    logging.getLogger("django.server").info('"POST /api/v1/pbx/webhook/%s/ HTTP/1.1" 202 42', secret)  # runserver
    written = log_output.getvalue()
    assert "pbx/webhook/[redacted]" in written and "Not Found" in written
    assert secret not in written
