"""Linking calls to their Bitrix24 client and deal (issue 14), against the fake portal over real HTTP."""

import datetime as dt

import pytest
from django.utils import timezone

from calls.models import Call, CrmLinkState
from calls.services.crm import crm_link_company, crm_schedule
from calls.services.sync import pbx_sync_company
from calls.tests.crm_helpers import *  # noqa: F403 - the fixtures bitrix, crm_connection
from calls.tests.factories import CallFactory
from integrations.crm.errors import CrmUnavailable
from integrations.models import CrmConnection, CrmSyncRun, PbxAccount

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _call(company, phone: str = "", raw: str = "", minutes: int = 10) -> Call:
    return CallFactory(
        company=company,
        customer_phone=phone,
        customer_phone_raw=raw or phone,
        started_at=NOW - dt.timedelta(minutes=minutes),
    )


def test_every_written_form_of_a_number_links_to_its_client(company, bitrix, crm_connection):
    # The portal holds each number as somebody typed it; the calls hold E.164 (or only the PBX's raw digits).
    forms = {
        "+998901110001": "+998 90 111 00 01",
        "+998901110002": "998901110002",
        "+998901110003": "901110003",
        "+998901110004": "+998 (90) 111-00-04",
        "+998901110005": "+998901110005",
    }
    contacts = {phone: bitrix.add_contact("Aziza", f"N{phone[-1]}", phones=[typed]) for phone, typed in forms.items()}
    company_id = bitrix.add_company("Orzu LLC", phones=["+998 71 200 50 60"])
    lead_id = bitrix.add_lead("Website form", name="Bekzod", phones=["998935550101"])
    calls = {phone: _call(company, phone) for phone in forms}
    raw_only = _call(company, "", raw="90 111 00 01")  # no E.164 stored: the raw digits are asked for
    firm = _call(company, "+998712005060")
    lead = _call(company, "+998935550101")
    unknown = _call(company, "+998909999999")
    no_number = _call(company, "")

    result = crm_link_company(company_id=company.pk)

    assert (result.linked, result.no_match, result.failed) == (8, 2, 0)
    for phone, call in calls.items():
        call.refresh_from_db()
        assert (call.crm_link_state, call.crm_entity_kind, call.crm_entity_id) == ("linked", "contact", contacts[phone])
        assert call.crm_client_name == f"Aziza N{phone[-1]}"
        assert call.crm_url == f"{bitrix.portal_url}/crm/contact/details/{contacts[phone]}/"
    raw_only.refresh_from_db()
    assert raw_only.crm_entity_id == contacts["+998901110001"]
    firm.refresh_from_db()
    assert (firm.crm_entity_kind, firm.crm_entity_id, firm.crm_client_name) == ("company", company_id, "Orzu LLC")
    lead.refresh_from_db()
    assert (lead.crm_entity_kind, lead.crm_entity_id) == ("lead", lead_id)
    for call in (unknown, no_number):
        call.refresh_from_db()
        assert call.crm_link_state == CrmLinkState.NO_MATCH and call.crm_entity_id == ""
    # Ten calls, a handful of requests: the lookups travel in batches.
    assert result.requests <= 4, bitrix.methods_called()


def test_the_open_deal_wins_else_the_deal_created_nearest_the_call(company, bitrix, crm_connection):
    bitrix.add_funnel("7", "Kurslar")
    aziza = bitrix.add_contact("Aziza", "Rahimova", phones=["+998901234567"])
    bitrix.add_deal("Old course", contact_id=aziza, stage="WON", at=NOW - dt.timedelta(days=40))
    open_deal = bitrix.add_deal("Python kursi", contact_id=aziza, funnel_id="7", stage="MEETING",
                                at=NOW - dt.timedelta(days=20))  # fmt: skip
    bekzod = bitrix.add_contact("Bekzod", phones=["+998907654321"])
    bitrix.add_deal("Far", contact_id=bekzod, stage="LOSE", at=NOW - dt.timedelta(days=60))
    near = bitrix.add_deal("Near", contact_id=bekzod, stage="WON", at=NOW - dt.timedelta(days=2))
    nilufar = bitrix.add_contact("Nilufar", phones=["+998931112233"])
    general = bitrix.add_deal("General funnel", contact_id=nilufar, stage="NEW", at=NOW - dt.timedelta(days=1))
    first, second, third = (_call(company, p) for p in ("+998901234567", "+998907654321", "+998931112233"))

    crm_link_company(company_id=company.pk)

    first.refresh_from_db()
    assert (first.crm_deal_id, first.crm_deal_title, first.crm_deal_semantic) == (open_deal, "Python kursi", "open")
    assert (first.crm_deal_funnel_name, first.crm_deal_stage_name) == ("Kurslar", "Uchrashuv")
    assert first.crm_url == f"{bitrix.portal_url}/crm/deal/details/{open_deal}/"
    second.refresh_from_db()
    assert (second.crm_deal_id, second.crm_deal_semantic, second.crm_deal_stage_name) == (near, "won", "Deal won")
    # The deal stage NEW of the general funnel is "New deal", never the lead stage NEW ("Unassigned").
    third.refresh_from_db()
    assert (third.crm_deal_id, third.crm_deal_stage_name) == (general, "New deal")
    assert CrmConnection.objects.get(pk=crm_connection.pk).stages_refreshed_at is not None
    assert CrmSyncRun.objects.filter(connection=crm_connection, kind="stages", status="succeeded").count() == 1


def test_linking_twice_sends_nothing_the_second_time(company, bitrix, crm_connection):
    bitrix.add_contact("Aziza", phones=["+998901234567"])
    call = _call(company, "+998901234567")
    crm_link_company(company_id=company.pk)
    sent = bitrix.http_requests()
    again = crm_link_company(company_id=company.pk)
    assert (again.linked, again.no_match, again.requests) == (0, 0, 0)
    assert bitrix.http_requests() == sent
    call.refresh_from_db()
    assert call.crm_link_state == CrmLinkState.LINKED


@pytest.mark.parametrize("fault", ["http500", "garbage", "html500"])
def test_a_5xx_or_garbage_answer_keeps_the_calls_waiting_for_the_retry(company, bitrix, crm_connection, fault):
    bitrix.add_contact("Aziza", phones=["+998901234567"])
    call = _call(company, "+998901234567")
    bitrix.fail_next(5, fault)

    with pytest.raises(CrmUnavailable):
        crm_link_company(company_id=company.pk)

    call.refresh_from_db()
    assert call.crm_link_state == CrmLinkState.PENDING  # nothing lost, nothing recorded as "no match"
    assert CrmConnection.objects.get(pk=crm_connection.pk).last_error
    bitrix._faults.clear()  # the portal is back
    assert crm_link_company(company_id=company.pk).linked == 1
    call.refresh_from_db()
    assert call.crm_link_state == CrmLinkState.LINKED


def test_a_401_stops_the_connection_with_the_reason_and_sends_nothing_more(company, bitrix, crm_connection):
    bitrix.add_contact("Aziza", phones=["+998901234567"])
    call = _call(company, "+998901234567")
    bitrix.fail_next(1, "401")

    result = crm_link_company(company_id=company.pk)

    connection = CrmConnection.objects.get(pk=crm_connection.pk)
    assert connection.stopped_at is not None and result.stopped
    assert "webhook" in connection.stopped_reason.lower()  # what to fix, in words
    call.refresh_from_db()
    assert call.crm_link_state == CrmLinkState.PENDING
    sent = bitrix.http_requests()
    assert crm_link_company(company_id=company.pk).linked == 0
    assert crm_schedule() == {"polls": 0, "links": 0, "write_backs": 0}  # a stopped portal is not asked either
    assert bitrix.http_requests() == sent


def test_calls_stored_by_the_pbx_sync_are_linked_after_it(company, bitrix, crm_connection, pbx_fake, pbx_account):
    PbxAccount.objects.filter(pk=pbx_account.pk).update(fetch_recordings=False, backfill_days=1)
    bitrix.add_contact("Aziza", "Rahimova", phones=["+998 90 123 45 67"])
    pbx_fake.add_call(uuid="uuid-0", customer_phone="998901234567", started_at=NOW - dt.timedelta(minutes=30))
    pbx_fake.add_call(uuid="uuid-1", customer_phone="998901230000", started_at=NOW - dt.timedelta(minutes=20))

    run = pbx_sync_company(company_id=company.pk, until=NOW)

    assert run.created == 2
    rows = dict(Call.objects.for_company(company).values_list("pbx_call_id", "crm_link_state"))
    assert rows == {"uuid-0": "linked", "uuid-1": "no_match"}  # eager: the crm task ran at the sync's end
    assert Call.objects.get(pbx_call_id="uuid-0").crm_client_name == "Aziza Rahimova"


def test_the_crm_tasks_run_on_the_crm_queue(settings):
    from dialix.celery import app

    for name in ("crm_link_company_task", "crm_write_back_task", "crm_poll_connection_task", "crm_schedule_task"):
        route = app.amqp.router.route({}, f"calls.tasks_crm.{name}", args=(1,))
        assert route["queue"].name == f"{settings.DIALIX_TASK_QUEUE_PREFIX}crm"
