"""Fixtures shared by every app's tests. Tests run on the real PostgreSQL of this machine (make test starts it)."""

from collections.abc import Callable, Iterator

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from companies.models import ApiToken, Company, Membership, Role
from companies.services import api_token_create, member_create
from companies.tests.factories import CompanyFactory


@pytest.fixture
def company() -> Company:
    return CompanyFactory(name="Alpha Calls", slug="alpha")


@pytest.fixture
def other_company() -> Company:
    return CompanyFactory(name="Bravo Calls", slug="bravo")


@pytest.fixture
def make_member() -> Callable[..., Membership]:
    def make(company: Company, role: str = Role.SUPERVISOR, username: str | None = None) -> Membership:
        name = username or f"{role}-{company.slug}"
        return member_create(company=company, username=name, role=role, password="pw-123456")

    return make


@pytest.fixture
def supervisor(company, make_member) -> Membership:
    return make_member(company, Role.SUPERVISOR)


@pytest.fixture
def supervisor_client(client, supervisor):
    client.force_login(supervisor.user)
    return client


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def token_client(company) -> APIClient:
    """An API client authenticated with a fresh token of `company`."""
    token, raw = api_token_create(company=company, name="test")
    # Recently used: the first request does not spend a query on last_used_at, so query counts stay exact.
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.token = token
    return client


@pytest.fixture
def pbx_fake():
    """A fake OnlinePBX: a real HTTP server on 127.0.0.1 speaking the vendor's wire format."""
    from integrations.testing.onlinepbx import FakeOnlinePbx

    with FakeOnlinePbx(domain="pbx-alpha.onpbx.ru", auth_key="alpha-auth-key") as fake:
        yield fake


@pytest.fixture
def pbx_account(company, pbx_fake, settings):
    """The company's PBX account; the server's PBX host (not the account) points at the fake."""
    from integrations.models import PbxAccount
    from integrations.services import pbx_account_save

    settings.DIALIX_ONLINEPBX_BASE_URL = pbx_fake.base_url
    account = PbxAccount(company=company, domain=pbx_fake.domain, api_key="alpha-auth-key")
    return pbx_account_save(account=account)


@pytest.fixture
def eager_retries() -> Iterator[None]:
    """Eager tasks re-run a retry at once (ignoring its countdown), but only when errors do not propagate."""
    from celery import current_app

    current_app.conf.task_eager_propagates = False
    try:
        yield
    finally:
        current_app.conf.task_eager_propagates = True


@pytest.fixture(scope="session")
def offline_recogniser():
    """The real offline engine (Whisper base, int8, 2 threads) with its model and voice encoder loaded once per test
    session; engines built later in the same process reuse the loaded model."""
    from integrations.stt.speakers import get_voice_encoder
    from integrations.stt.whisper_local import WhisperLocal

    recogniser = WhisperLocal(cpu_threads=2)
    recogniser.model  # noqa: B018 - loads the model (once per process)
    get_voice_encoder()
    return recogniser
