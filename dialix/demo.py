"""Demo data for `make demo`, above the apps (it uses all of them): one company with operators, one login per role,
checklists and a PBX account. Idempotent: safe to run again."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from companies.models import ApiToken, Company, Membership, Role
from companies.services import api_token_create, api_token_revoke, company_create, member_create
from operators.models import Operator

DEMO_SLUG = "dialix-market"
DEMO_PASSWORD = "dialix-demo-2026"  # noqa: S105 - printed on screen for the local demo only
DEMO_OPERATORS = [
    ("101", "Dilnoza Karimova"),
    ("102", "Jasur Tursunov"),
    ("103", "Malika Yusupova"),
    ("104", "Sardor Rakhimov"),
    ("105", "Anna Petrova"),
]
DEMO_PEOPLE = [("owner", Role.OWNER), ("supervisor", Role.SUPERVISOR), ("analyst", Role.ANALYST)]


@dataclass(frozen=True)
class DemoLogins:
    company: Company
    logins: list[tuple[str, str, str]]  # username, password, role
    api_token: str


DEMO_PBX_DOMAIN = "pbx-demo.onpbx.ru"
DEMO_PBX_AUTH_KEY = "demo-auth-key"  # the fake PBX's key; not a real credential


@transaction.atomic
def demo_seed(*, pbx_base_url: str | None = None, crm_webhook_url: str | None = None) -> DemoLogins:
    company = Company.objects.filter(slug=DEMO_SLUG).first() or company_create(
        name="Dialix Market (demo)", slug=DEMO_SLUG, languages=["uz", "ru", "en"]
    )
    for extension, name in DEMO_OPERATORS:
        Operator.objects.update_or_create(company=company, pbx_extension=extension, defaults={"name": name})
    logins = []
    users = get_user_model().objects
    for username, role in DEMO_PEOPLE:
        user = users.filter(username=username).first()
        if user is None:
            member_create(company=company, username=username, role=role, password=DEMO_PASSWORD)
        else:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            Membership.objects.update_or_create(user=user, defaults={"company": company, "role": role})
        logins.append((username, DEMO_PASSWORD, role))
    if pbx_base_url:
        _demo_pbx_account(company, pbx_base_url)
    if crm_webhook_url:
        _demo_crm_connection(company, crm_webhook_url)
    from checklists.demo import demo_checklists

    demo_checklists(company)
    # Only a hash is stored, so each run revokes the previous demo token and prints a fresh one.
    for old in ApiToken.objects.for_company(company).filter(name="Demo integration", revoked_at__isnull=True):
        api_token_revoke(company=company, token_id=old.pk)
    _, raw = api_token_create(company=company, name="Demo integration")
    return DemoLogins(company=company, logins=logins, api_token=raw)


def _demo_pbx_account(company: Company, base_url: str) -> None:
    from integrations.models import PbxAccount
    from integrations.services import pbx_account_save

    account = PbxAccount.objects.for_company(company).first() or PbxAccount(company=company)
    # scripts/demo.sh points the server's PBX host (DIALIX_ONLINEPBX_BASE_URL) at the fake; any other URL is a
    # per-account override, which must be on DIALIX_PBX_BASE_URL_ALLOWLIST (full_clean says so otherwise).
    same_host = base_url.rstrip("/") == settings.DIALIX_ONLINEPBX_BASE_URL.rstrip("/")
    account.domain, account.api_key = DEMO_PBX_DOMAIN, DEMO_PBX_AUTH_KEY
    account.api_base_url = "" if same_host else base_url
    account.sync_interval_minutes = 1  # the demo should show new calls arriving within a minute
    account.backfill_days = 3
    pbx_account_save(account=account)


def _demo_crm_connection(company: Company, webhook_url: str) -> None:
    """The demo company's Bitrix24: the fake portal of scripts/demo.sh (integrations.testing.bitrix24), whose
    contacts and deals carry the fake PBX's numbers; polled every minute so deals closing show up while you watch."""
    from integrations.models import CrmConnection
    from integrations.services_crm import crm_connection_save

    connection = CrmConnection.objects.for_company(company).first() or CrmConnection(company=company)
    connection.webhook_url = webhook_url
    connection.poll_interval_minutes = 1
    connection.write_language = "uz"
    crm_connection_save(connection=connection)
