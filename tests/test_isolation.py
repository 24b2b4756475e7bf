"""Walks every URL of the URLconf as company A and proves company B's rows never show (see tests/isolation.py)."""

import json
from collections.abc import Callable

import pytest
from django.db import models
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import ExportJob
from calls.models import AlertDelivery, AlertRule, Call, CallEvent, CoachingNote, Transcript, Utterance
from calls.models_crm import CrmWriteBack
from calls.tests.factories import CallFactory
from checklists.models import (
    CallAnalysis,
    Checklist,
    ChecklistItem,
    ChecklistSection,
    ChecklistVersion,
    ItemResult,
    Scorecard,
    VersionItem,
)
from checklists.services import checklist_publish
from checklists.tests.factories import ChecklistFactory
from companies.audit import audit_access
from companies.models import ApiToken, ApiTokenUsage, AuditEntry, Company, Membership, Role
from companies.services import api_token_create, member_create
from companies.tests.factories import CompanyFactory
from integrations.models import CrmConnection, CrmSyncRun, EngineSettings, PbxAccount, SyncKind, SyncRun, SyncStatus
from integrations.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from operators.models import Operator
from operators.tests.factories import OperatorFactory
from tests.isolation import MARKER_A, MARKER_B, TenantData, expand, iter_routes, tenant_models

# One builder per tenant-owned model: (company, marker) -> object whose rendered fields contain the marker.
BUILDERS: dict[type[models.Model], Callable[[Company, str], models.Model]] = {
    ExportJob: lambda c, m: ExportJob.objects.create(
        company=c, table="calls", format="csv", params={"period": "30d"}, status="failed", error=f"{m} export"
    ),
    ApiToken: lambda c, m: api_token_create(company=c, name=f"{m} token")[0],
    Operator: lambda c, m: OperatorFactory(company=c, name=f"{m} operator"),
    Call: lambda c, m: CallFactory(
        company=c,
        pbx_call_id=f"{m}-call",
        operator__name=f"{m} agent",
        crm_link_state="linked",
        crm_client_name=f"{m} client",
        crm_deal_id="7",
        crm_deal_title=f"{m} deal",
        crm_deal_semantic="won",
    ),
    CrmWriteBack: lambda c, m: CrmWriteBack.objects.create(
        company=c, call=Call.objects.get(company=c), written_id="99", last_error=f"{m} refused"
    ),
    Checklist: lambda c, m: ChecklistFactory(company=c, name=f"{m} checklist"),
    PbxAccount: lambda c, m: PbxAccount.objects.create(company=c, domain=f"{m}.onpbx.ru", api_key=f"{m}-key"),
    SyncRun: lambda c, m: SyncRun.objects.create(
        company=c,
        account=PbxAccount.objects.get(company=c),
        kind=SyncKind.SCHEDULED,
        status=SyncStatus.FAILED,
        started_at=timezone.now(),
        error=f"PbxUnavailable: {m} timed out",
    ),
    EngineSettings: lambda c, m: EngineSettings.objects.create(company=c, engine_uz="uzbekvoice"),
    CrmConnection: lambda c, m: CrmConnection.objects.create(
        company=c, webhook_url=f"https://{m.lower()}.bitrix24.kz/rest/1/{m.lower()}code/", last_error=f"{m} refused"
    ),
    CrmSyncRun: lambda c, m: CrmSyncRun.objects.create(
        company=c,
        connection=CrmConnection.objects.get(company=c),
        kind="poll",
        status="failed",
        started_at=timezone.now(),
        error=f"CrmUnavailable: {m} timed out",
    ),
    Transcript: lambda c, m: Transcript.objects.create(
        company=c, call=Call.objects.get(company=c), engine=f"{m}-engine", language="ru", speaker_method="channels"
    ),
    Utterance: lambda c, m: Utterance.objects.create(
        company=c,
        call=Call.objects.get(company=c),
        transcript=Transcript.objects.get(company=c),
        speaker="operator",
        start_ms=0,
        end_ms=1000,
        text=f"{m} said hello",
    ),
    ChecklistSection: lambda c, m: ChecklistSection.objects.create(
        company=c, checklist=Checklist.objects.get(company=c), title=f"{m} section"
    ),
    ChecklistItem: lambda c, m: ChecklistItem.objects.create(
        company=c,
        checklist=Checklist.objects.get(company=c),
        section=ChecklistSection.objects.get(company=c),
        criterion=f"{m} greets the customer",
        example_phrases="hello",
    ),
    ChecklistVersion: lambda c, m: checklist_publish(checklist=Checklist.objects.get(company=c)),
    VersionItem: lambda c, m: VersionItem.objects.get(company=c),
    CallAnalysis: lambda c, m: CallAnalysis.objects.create(
        company=c,
        call=Call.objects.get(company=c),
        engine="offline:rules-v1",
        summary=f"{m} wanted a refund",
        customer_sentiment="negative",
        operator_sentiment="neutral",
        outcome="not_resolved",
    ),
    Scorecard: lambda c, m: Scorecard.objects.create(
        company=c, call=Call.objects.get(company=c), version=ChecklistVersion.objects.get(company=c), score=50
    ),
    ItemResult: lambda c, m: ItemResult.objects.create(
        company=c,
        scorecard=Scorecard.objects.get(company=c),
        call=Call.objects.get(company=c),
        version_item=VersionItem.objects.get(company=c),
        answer="met",
        evidence_quote=f"{m} hello there",
        source="rules",
    ),
    Membership: lambda c, m: member_create(company=c, username=f"{m}-analyst", role=Role.ANALYST),
    CoachingNote: lambda c, m: CoachingNote.objects.create(
        company=c,
        call=Call.objects.get(company=c),
        operator=Operator.objects.filter(company=c).first(),
        at_ms=5000,
        text=f"{m} greet the customer first",
    ),
    CallEvent: lambda c, m: CallEvent.objects.create(
        company=c,
        call=Call.objects.get(company=c),
        to_status="failed",
        code="internal_error",
        reason=f"{m} broke",
        actor="sweeper",
    ),
    WebhookEndpoint: lambda c, m: WebhookEndpoint.objects.create(
        company=c, url=f"https://crm.example.com/{m}/hooks", description=f"{m} CRM", events=["call.analysed"]
    ),
    WebhookDelivery: lambda c, m: WebhookDelivery.objects.create(
        company=c,
        endpoint=WebhookEndpoint.objects.get(company=c),
        event_id=f"msg_{m}",
        event_type="call.analysed",
        payload=json.dumps({"id": f"msg_{m}"}),
        last_error=f"{m} answered 500",
    ),
    AlertRule: lambda c, m: AlertRule.objects.create(
        company=c, name=f"{m} rule", trigger="phrase", phrases=f"{m} competitor", channel="email", email_to="a@b.uz"
    ),
    AlertDelivery: lambda c, m: AlertDelivery.objects.create(
        company=c,
        rule=AlertRule.objects.get(company=c),
        call=Call.objects.get(company=c),
        reason=f"{m} said",
        status="failed",
        last_error=f"{m} chat not found",
    ),
    WebhookAttempt: lambda c, m: WebhookAttempt.objects.create(
        company=c, delivery=WebhookDelivery.objects.get(company=c), number=1, status_code=500, error=f"{m} failed"
    ),
    # The audit trail (issue 16): a line of the company's own, and a token's sampled usage.
    AuditEntry: lambda c, m: audit_access(None, None, "export_downloaded", {"export": f"{m} export"}, company=c),
    ApiTokenUsage: lambda c, m: ApiTokenUsage.objects.create(
        company=c, token=ApiToken.objects.filter(company=c).first(), endpoint=f"GET {m}/", day=timezone.localdate()
    ),
}

# Pages that never show tenant rows and answer the same to everyone (checked for the marker all the same).
ADMIN_CHANGE_SUFFIXES = ("/change/", "/delete/", "/history/")


def _build(company: Company, marker: str) -> TenantData:
    data = TenantData(company=company)
    for model in tenant_models():
        data.objects[model] = [BUILDERS[model](company, marker)]
    return data


@pytest.fixture
def tenants(db):
    alpha = _build(CompanyFactory(name=f"{MARKER_A} Company", slug="alpha"), MARKER_A)
    bravo = _build(CompanyFactory(name=f"{MARKER_B} Company", slug="bravo"), MARKER_B)
    return alpha, bravo


def test_every_tenant_model_has_an_isolation_builder():
    missing = [m.__name__ for m in tenant_models() if m not in BUILDERS]
    assert not missing, f"add builders for {missing} to tests/test_isolation.py so the harness covers them"


def _clients(alpha: TenantData) -> dict[str, object]:
    from django.test import Client

    clients: dict[str, object] = {}
    for role in (Role.OWNER, Role.SUPERVISOR, Role.ANALYST):
        member = member_create(company=alpha.company, username=f"iso-{role}", role=role, password="pw-123456")
        client = Client()
        client.force_login(member.user)
        clients[role] = client
    _, raw = api_token_create(company=alpha.company, name="iso")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    clients["token"] = api
    return clients


def test_company_a_never_sees_company_b_anywhere(tenants):
    alpha, bravo = tenants
    clients = _clients(alpha)
    routes = list(iter_routes())
    checked = 0
    leaks: list[str] = []
    changelists_seen_with_own_rows: set[str] = set()

    for route in routes:
        for path in expand(route, bravo):
            who = ["token", Role.SUPERVISOR] if route.is_api else [Role.OWNER, Role.SUPERVISOR, Role.ANALYST]
            for name in who:
                response = clients[name].get(path)
                checked += 1
                raw = b"".join(response.streaming_content) if response.streaming else response.content  # CSV exports
                body = raw.decode(errors="replace")
                if response.status_code == 200 and MARKER_B in body:
                    leaks.append(f"{name} GET {path} -> 200 with company B's data")
                if route.model_admin and path.endswith(ADMIN_CHANGE_SUFFIXES) and response.status_code == 200:
                    leaks.append(f"{name} GET {path} -> 200 for company B's object")
                if response.status_code >= 500:
                    leaks.append(f"{name} GET {path} -> {response.status_code}")
                if (
                    route.model_admin
                    and not route.params
                    and response.status_code == 200
                    and route.model_admin.model in alpha.objects
                    and MARKER_A in body
                ):
                    changelists_seen_with_own_rows.add(route.model_admin.model.__name__)

    assert not leaks, "tenant leaks:\n" + "\n".join(leaks)
    # The walk really saw data: each tenant model's changelist showed company A's own row to someone.
    expected = {m.__name__ for m in alpha.objects if any(r.model_admin and r.model_admin.model is m for r in routes)}
    assert changelists_seen_with_own_rows == expected
    assert checked > 100


def test_superuser_sees_every_company_in_the_console(tenants, admin_client):
    response = admin_client.get("/admin/operators/operator/")
    body = response.content.decode()
    assert MARKER_A in body and MARKER_B in body


def test_api_detail_of_other_company_is_404_with_json_body(tenants):
    alpha, bravo = tenants
    clients = _clients(alpha)
    for url in (f"/api/v1/operators/{bravo.ids(Operator)[0]}/", f"/api/v1/calls/{bravo.ids(Call)[0]}/"):
        response = clients["token"].get(url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    own = clients["token"].get(f"/api/v1/operators/{alpha.ids(Operator)[0]}/")
    assert own.status_code == 200 and MARKER_A in own.json()["name"]
