"""The audit trail (issue 16): each action a person or a token takes writes exactly one line, with the actor, the
address and the company; secrets never reach it; owners read their company's trail, filter it, export it, and
nobody edits it from the console."""

import csv
import io

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.urls import reverse
from rest_framework.test import APIClient

from calls.models import Call, CallStatus, Transcript, Utterance
from calls.tests.factories import CallFactory
from companies.audit import SAMPLE_EVERY, AuditEvent, audit_access
from companies.models import ApiToken, ApiTokenUsage, AuditEntry, Role
from companies.services import api_token_create
from integrations.models import PbxAccount
from integrations.models_crm import CrmConnection
from integrations.webhooks.models import WebhookEndpoint
from operators.tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(company, make_member):
    return make_member(company, Role.OWNER)


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


def _lines(event: str, **filters) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(event=event, **filters).order_by("id"))


def _call_with_text(company, **fields) -> Call:
    call = CallFactory(company=company, status=CallStatus.DONE, **fields)
    transcript = Transcript.objects.create(
        company=company, call=call, engine="ground-truth", language="en", speaker_method="channels", duration_ms=9000
    )
    Utterance.objects.create(
        company=company, call=call, transcript=transcript, speaker="operator", start_ms=0, end_ms=2000, text="hello"
    )
    Utterance.objects.create(
        company=company, call=call, transcript=transcript, speaker="customer", start_ms=2500, end_ms=4000, text="hi"
    )
    return call


def test_a_change_in_the_console_is_one_line_with_who_what_and_from_where(company, owner, owner_client):
    operator = OperatorFactory(company=company, name="Aziza", pbx_extension="101")
    AuditEntry.objects.all().delete()
    url = reverse("admin:operators_operator_change", args=[operator.pk])
    form = owner_client.get(url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(name="Aziza K.", is_active="on")
    response = owner_client.post(url, data, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 302, response.content.decode()[:2000]

    [line] = _lines("operator_changed")
    assert line.company_id == company.pk and line.actor_id == owner.user_id and line.actor_label == owner.user.username
    assert line.remote_addr == "203.0.113.7"
    assert line.changes["name"] == ["Aziza", "Aziza K."]
    assert AuditEntry.objects.filter(company=company).count() == 1  # nothing else was written for the one save


def test_secrets_never_reach_the_trail(company):
    account = PbxAccount.objects.create(company=company, domain="alpha.onpbx.ru", api_key="pbx-key-SECRET-1")
    account.api_key = "pbx-key-SECRET-2"
    account.save()
    crm = CrmConnection.objects.create(company=company, webhook_url="https://alpha.bitrix24.kz/rest/1/hooksecret123/")
    crm.webhook_url = "https://alpha.bitrix24.kz/rest/1/hooksecret456/"
    crm.save()
    endpoint = WebhookEndpoint.objects.create(
        company=company, url="https://hooks.example.test/x", secret="whsec_TOPSECRET"
    )

    dump = str(list(AuditEntry.objects.values("changes", "serialized_data", "additional_data", "object_repr")))
    for secret in ("SECRET-1", "SECRET-2", "hooksecret123", "hooksecret456", "whsec_TOPSECRET"):
        assert secret not in dump
    [changed] = _lines("crmconnection_changed")
    assert set(changed.changes) == {"webhook_url"}  # the change is visible, its value is not
    assert _lines("pbxaccount_changed") == []  # only the encrypted key changed: nothing to show
    assert _lines("webhookendpoint_created", object_pk=str(endpoint.pk))


def test_token_created_used_and_revoked_in_the_console_are_one_line_each(company, owner_client):
    response = owner_client.post(reverse("admin:companies_apitoken_add"), {"name": "BI export", "scope": "read"})
    assert response.status_code == 302
    token = ApiToken.objects.get(company=company, name="BI export")
    [created] = _lines("token_created")
    assert created.object_pk == str(token.pk) and created.company_id == company.pk
    assert "key_hash" not in (created.changes or {})

    changelist = reverse("admin:companies_apitoken_changelist")
    owner_client.post(changelist, {"action": "revoke", "_selected_action": [token.pk], "index": "0"})
    [revoked] = _lines("token_revoked")
    assert revoked.object_pk == str(token.pk) and revoked.actor_label.startswith("owner-")
    assert len(_lines("token_created")) == 1


def test_playing_a_recording_is_one_line_however_many_ranges_and_a_download_another(company, owner, owner_client):
    call = CallFactory(company=company, status=CallStatus.DONE)
    call.recording.save("a.wav", ContentFile(b"RIFF" + b"\0" * 4000), save=True)
    url = reverse("call_pages:recording", args=[call.pk])
    for first in (0, 1000, 2000, 0):  # a play, two seeks, a replay
        assert owner_client.get(url, HTTP_RANGE=f"bytes={first}-").status_code == 206
    assert owner_client.get(url).status_code == 200
    [played] = _lines("recording_played")
    [downloaded] = _lines("recording_downloaded")
    assert played.object_pk == downloaded.object_pk == str(call.pk)
    assert played.actor_id == owner.user_id and played.company_id == company.pk
    assert played.content_type == ContentType.objects.get_for_model(Call)


def test_opening_a_transcript_in_the_console_and_the_api_is_one_line_each(company, owner_client, token_client):
    call = _call_with_text(company)
    page = reverse("admin:calls_call_change", args=[call.pk])
    assert owner_client.get(page).status_code == 200
    assert owner_client.get(page).status_code == 200  # reloaded after a correction: the same opening
    assert token_client.get(f"/api/v1/calls/{call.pk}/transcript/").status_code == 200
    assert token_client.get(f"/api/v1/calls/{call.pk}/utterances/").status_code == 200
    console, api = _lines("transcript_opened")
    assert console.actor_label.startswith("owner-") and console.additional_data == {"via": "call page"}
    assert api.actor_label == f"token:{token_client.token.prefix}" and api.actor_id is None


def test_console_actions_are_one_line_per_call(company, owner_client):
    call = _call_with_text(company)
    changelist = reverse("admin:calls_call_changelist")
    owner_client.post(changelist, {"action": "reanalyse", "_selected_action": [call.pk], "index": "0"})
    owner_client.post(changelist, {"action": "retranscribe", "_selected_action": [call.pk], "index": "0"})
    owner_client.post(reverse("admin:calls_call_swap_speakers", args=[call.pk]))
    assert [line.object_pk for line in _lines("call_reanalysed")] == [str(call.pk)]
    assert [line.object_pk for line in _lines("call_retranscribed")] == [str(call.pk)]
    assert [line.object_pk for line in _lines("speakers_swapped")] == [str(call.pk)]


def test_rotating_a_webhook_secret_shows_it_once_and_logs_one_line_without_it(company, owner_client):
    endpoint = WebhookEndpoint.objects.create(company=company, url="https://hooks.example.test/x", secret="whsec_old")
    changelist = reverse("admin:integrations_webhookendpoint_changelist")
    response = owner_client.post(
        changelist, {"action": "rotate_secret", "_selected_action": [endpoint.pk], "index": "0"}, follow=True
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != "whsec_old" and endpoint.secret in response.content.decode()
    [line] = _lines("webhook_secret_rotated")
    assert line.object_pk == str(endpoint.pk) and endpoint.secret not in str(line.additional_data)


def test_api_token_use_is_counted_per_endpoint_and_day_sampled(company):
    token, raw = api_token_create(company=company, name="bi")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for _ in range(SAMPLE_EVERY + 1):
        assert client.get("/api/v1/calls/").status_code == 200
    assert client.get("/api/v1/operators/").status_code == 200
    usage = {row.endpoint: row.count for row in ApiTokenUsage.objects.filter(token=token)}
    # The first request wrote last_used_at and flushed its count; the next SAMPLE_EVERY were written at once.
    assert usage == {"GET api/v1/calls/": SAMPLE_EVERY + 1}
    assert AuditEntry.objects.filter(event="", company=company).count() == 0


def test_export_helper_writes_one_line_for_the_company(company, owner, rf):
    request = rf.get("/dashboard/export/", REMOTE_ADDR="198.51.100.4")
    request.user = owner.user
    line = audit_access(request, None, AuditEvent.EXPORT_DOWNLOADED, {"format": "csv", "rows": 12}, company=company)
    assert line.company_id == company.pk and line.event == "export_downloaded" and line.remote_addr == "198.51.100.4"
    assert line.additional_data == {"format": "csv", "rows": 12} and line.actor_id == owner.user_id


def test_owners_read_their_trail_only_and_nobody_edits_it(
    company, other_company, owner, owner_client, make_member, client, django_assert_num_queries
):
    mine = [OperatorFactory(company=company, name=f"Mine {n}") for n in range(3)]
    theirs = OperatorFactory(company=other_company, name="ZZBRAVO operator")
    changelist = reverse("admin:companies_auditentry_changelist")
    owner_client.get(changelist)  # the session's first request
    # 1 session, 2 user, 3 membership with company, 4 the paginator's count, 5-6 the sidebar's permissions (user and
    # group), 7 the page of lines with their content types joined, 8-9 the date hierarchy's range and days. The same
    # for 3 lines or 300: nothing is read per line.
    with django_assert_num_queries(9):
        page = owner_client.get(changelist)
    body = page.content.decode()
    assert page.status_code == 200 and all(operator.name in body for operator in mine)
    assert "ZZBRAVO" not in body

    line = AuditEntry.objects.filter(company=company).first()
    other_line = AuditEntry.objects.get(object_pk=str(theirs.pk), content_type__model="operator")
    assert owner_client.get(reverse("admin:companies_auditentry_change", args=[other_line.pk])).status_code == 302
    assert owner_client.get(reverse("admin:companies_auditentry_change", args=[line.pk])).status_code == 200
    assert owner_client.post(reverse("admin:companies_auditentry_delete", args=[line.pk])).status_code == 403
    assert owner_client.get(reverse("admin:companies_auditentry_add")).status_code == 403
    change = owner_client.post(reverse("admin:companies_auditentry_change", args=[line.pk]), {"event": "x"})
    assert change.status_code == 403 and AuditEntry.objects.get(pk=line.pk).event == line.event

    supervisor = make_member(company, Role.SUPERVISOR)
    client.force_login(supervisor.user)
    assert client.get(changelist).status_code == 403


def test_the_trail_downloads_as_csv_with_the_filters_and_the_download_is_audited(company, owner_client):
    OperatorFactory(company=company, name="=HYPERLINK(evil)")
    call = _call_with_text(company)
    audit_access(None, call, AuditEvent.TRANSCRIPT_OPENED, {"via": "api"}, actor_label="token:abc")
    url = reverse("admin:companies_auditentry_export") + "?event=transcript_opened"
    response = owner_client.get(url)
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["timestamp", "company", "actor", "event"]
    assert [row[3] for row in rows[1:]] == ["transcript_opened"] and rows[1][2] == "token:abc"
    everything = b"".join(owner_client.get(reverse("admin:companies_auditentry_export")).streaming_content).decode()
    assert "'=HYPERLINK(evil)" in everything  # a spreadsheet shows it, never runs it
    assert len(_lines("audit_exported")) == 2


def test_an_audit_line_keeps_the_address_a_caller_cannot_forge(company, owner, owner_client, settings):
    # No trusted proxy: a caller's own X-Forwarded-For is not where the request came from.
    settings.DIALIX_TRUSTED_PROXY_COUNT = 0
    operator = OperatorFactory(company=company, name="Aziza", pbx_extension="101")
    AuditEntry.objects.all().delete()
    url = reverse("admin:operators_operator_change", args=[operator.pk])
    form = owner_client.get(url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(name="Aziza K.", is_active="on")
    owner_client.post(url, data, REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="1.2.3.4")

    [line] = _lines("operator_changed")
    assert line.remote_addr == "203.0.113.7"
