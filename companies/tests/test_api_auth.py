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
