import pytest

from companies.services import api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db


def _assert_401(response):
    assert response.status_code == 401
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details"}
    assert response["WWW-Authenticate"].startswith("Bearer")
    return body


def test_missing_token_is_401_json(api_client):
    body = _assert_401(api_client.get("/api/v1/calls/"))
    assert body["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("header", ["Bearer dlx_wrong", "Bearer nonsense", "Bearer", "Token a b"])
def test_bad_token_is_401_json(api_client, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    _assert_401(api_client.get("/api/v1/calls/"))


def test_revoked_token_is_401(api_client, company):
    token, raw = api_token_create(company=company, name="old")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get("/api/v1/company/").status_code == 200
    api_token_revoke(company=company, token_id=token.pk)
    assert _assert_401(api_client.get("/api/v1/company/"))["error"]["code"] == "authentication_failed"


def test_token_of_inactive_company_is_401(api_client, company):
    _, raw = api_token_create(company=company, name="t")
    company.is_active = False
    company.save()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    _assert_401(api_client.get("/api/v1/company/"))


def test_valid_token_acts_for_its_company_and_records_use(token_client, company):
    response = token_client.get("/api/v1/company/")
    assert response.status_code == 200
    assert response.json()["slug"] == company.slug
    token_client.token.refresh_from_db()
    assert token_client.token.last_used_at is not None


def test_logged_in_member_can_use_the_api_with_session(client, supervisor):
    client.force_login(supervisor.user)
    assert client.get("/api/v1/company/").json()["name"] == supervisor.company.name


def test_unknown_api_url_answers_json_404(token_client):
    response = token_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_schema_and_docs_are_served(token_client, client):
    assert "/api/v1/calls/" in token_client.get("/api/schema/").content.decode()
    assert client.get("/api/docs/").status_code == 200


def _client_for(company, **kwargs):
    from rest_framework.test import APIClient

    token, raw = api_token_create(company=company, name="scoped", **kwargs)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.token = token
    return client


def test_expired_token_is_401(company):
    from datetime import timedelta

    from django.utils import timezone

    from companies.models import ApiToken

    client = _client_for(company, expires_at=timezone.now() + timedelta(hours=1))
    assert client.get("/api/v1/company/").status_code == 200
    ApiToken.objects.filter(pk=client.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _assert_401(client.get("/api/v1/company/"))["error"]["code"] == "authentication_failed"


def test_token_cannot_be_made_already_expired(company):
    from datetime import timedelta

    from django.utils import timezone

    from companies.services import TokenInvalid

    with pytest.raises(TokenInvalid) as caught:
        api_token_create(company=company, name="x", expires_at=timezone.now() - timedelta(minutes=1))
    assert "expires_at" in caught.value.details


def test_read_token_reads_but_cannot_upload_a_call(company):
    reader = _client_for(company, scope="read")
    assert reader.get("/api/v1/calls/").status_code == 200
    response = reader.post("/api/v1/calls/", {}, format="multipart")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "read-only" in response.json()["error"]["message"]
    # A write token gets past the permission to the input check.
    writer = _client_for(company, scope="write")
    assert writer.post("/api/v1/calls/", {}, format="multipart").status_code == 400


def _write_routes():
    """Every API route whose view accepts a method that changes something, with that method."""
    from rest_framework.views import APIView

    from tests.isolation import iter_routes

    for route in iter_routes():
        view_class = getattr(route.callback, "view_class", None) or getattr(route.callback, "cls", None)
        if not route.is_api or view_class is None or not issubclass(view_class, APIView):
            continue
        if "AllowAny" in {p.__name__ for p in view_class.permission_classes}:
            continue  # the PBX push: no token at all, authenticated by the secret in its URL
        for method in ("post", "put", "patch", "delete"):
            if hasattr(view_class, method):
                yield route, method


def test_read_token_is_refused_on_every_action(company):
    import re

    reader = _client_for(company, scope="read")
    tried = 0
    for route, method in _write_routes():
        path = "/" + re.sub(r"\(\?P<[^>]+>[^)]*\)", "999999", route.regex).replace("\\", "")
        response = getattr(reader, method)(path, {}, format="json")
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json()["error"]["code"] == "permission_denied"
        tried += 1
    assert tried >= 2  # at least the call upload and the webhook endpoints


def test_the_31st_request_in_a_minute_is_429_with_retry_after(company, settings):
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {"api_token": "30/minute"}
    settings.REST_FRAMEWORK = rest
    client = _client_for(company, scope="read")
    other = _client_for(company, scope="read")
    for _ in range(30):
        assert client.get("/api/v1/company/").status_code == 200
    response = client.get("/api/v1/company/")
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert 0 < error["details"]["retry_after"] <= 60
    assert int(response["Retry-After"]) == error["details"]["retry_after"]
    # The limit is per token: another token of the same company is not slowed down.
    assert other.get("/api/v1/company/").status_code == 200
