"""Writing the analysis back into Bitrix24 (issue 14): exactly once per call and analysis version, whatever retries,
crashed workers, corrections or re-analyses happen; against the fake portal over real HTTP."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from calls.models import Call, CallStatus
from calls.models_crm import CrmWriteBack, WriteBackState
from calls.services.analysis import call_analyse, calls_reanalyse, item_result_override
from calls.services.crm import WriteBackWaiting, crm_link_company, crm_write_back_deliver, crm_write_back_queue
from calls.tasks_crm import crm_write_back_task
from calls.tests.crm_helpers import *  # noqa: F403 - the fixtures bitrix, crm_connection
from calls.tests.crm_helpers import wait_for
from calls.tests.factories import CallFactory, transcribed_call_from_fixture
from calls.tests.test_api import analysed_call
from checklists.demo import demo_checklists
from checklists.models import ItemResult
from integrations.crm.errors import CrmUnavailable
from integrations.models import CrmConnection

pytestmark = pytest.mark.django_db

PHONE = "+998901234567"


@pytest.fixture
def client_deal(bitrix):
    contact = bitrix.add_contact("Aziza", "Rahimova", phones=["+998 90 123 45 67"])
    deal = bitrix.add_deal("Python kursi", contact_id=contact, stage="PREPARATION")
    return contact, deal


def _linked_analysed_call(company, **fields) -> Call:
    call = analysed_call(company, customer_phone=PHONE, started_at=timezone.now() - dt.timedelta(hours=1), **fields)
    crm_link_company(company_id=company.pk)
    call.refresh_from_db()
    assert call.crm_link_state == "linked"
    return call


def _queue(call: Call) -> None:
    with transaction.atomic():  # as the analysis does, in its own transaction
        crm_write_back_queue(call_id=call.pk, company_id=call.company_id)


def test_the_result_is_written_once_on_the_open_deal_across_retries(company, bitrix, crm_connection, client_deal):
    _contact, deal = client_deal
    CrmConnection.objects.filter(pk=crm_connection.pk).update(write_language="en")
    call = _linked_analysed_call(company, auto_fail=True)
    ItemResult.objects.filter(call=call, version_item__criterion="Offers help").update(answer="not_met")
    _queue(call)

    assert crm_write_back_deliver(call_id=call.pk) == "written"
    assert crm_write_back_deliver(call_id=call.pk) == "done"
    crm_write_back_task.apply(args=[call.pk])  # a redelivered message

    assert len(bitrix.comments) == 1
    comment = next(iter(bitrix.comments.values()))
    assert (comment["ENTITY_TYPE"], str(comment["ENTITY_ID"])) == ("deal", deal)
    text = comment["COMMENT"]
    assert "80/100" in text and "Wanted a refund" in text and "- Offers help" in text
    assert f"/admin/calls/call/{call.pk}/change/" in text and text.startswith("Dialix")
    assert "Auto-fail: yes · Needs review: no" in text
    row = CrmWriteBack.objects.get(call=call)
    assert (row.state, row.written_version, row.version, row.written_id) == ("written", 1, 1, str(comment["ID"]))


def test_a_worker_that_died_after_the_write_leaves_no_second_comment(company, bitrix, crm_connection, client_deal):
    call = _linked_analysed_call(company)
    _queue(call)
    crm_write_back_deliver(call_id=call.pk)
    (comment_id,) = bitrix.comments
    # What a crash between the portal's answer and our save leaves: the version in flight, no id, the claim lapsed.
    CrmWriteBack.objects.filter(call=call).update(
        written_id="", written_version=0, in_flight_version=1, state=WriteBackState.PENDING,
        claim_until=timezone.now() - dt.timedelta(minutes=1),
    )  # fmt: skip

    assert crm_write_back_deliver(call_id=call.pk) == "written"

    assert list(bitrix.comments) == [comment_id]  # found by its marker and updated, not added again
    assert CrmWriteBack.objects.get(call=call).written_id == str(comment_id)
    assert "crm.timeline.comment.list" in bitrix.methods_called()


def test_a_timed_out_write_that_landed_is_not_written_twice(company, bitrix, crm_connection, client_deal):
    call = _linked_analysed_call(company)
    _queue(call)
    bitrix.timeout_sleep_seconds = 1.5  # longer than the client's 1 s read timeout: the portal does it, we never hear
    bitrix.fail_next(1, "timeout", method="batch")

    with pytest.raises(CrmUnavailable):
        crm_write_back_deliver(call_id=call.pk)
    wait_for(lambda: len(bitrix.comments) == 1)
    row = CrmWriteBack.objects.get(call=call)
    assert (row.in_flight_version, row.written_id, row.state) == (1, "", "pending")

    assert crm_write_back_deliver(call_id=call.pk) == "written"
    assert len(bitrix.comments) == 1


def test_a_5xx_on_the_write_is_retried_and_written_once(company, bitrix, crm_connection, client_deal):
    call = _linked_analysed_call(company)
    _queue(call)
    bitrix.fail_next(1, "http500", method="batch")
    with pytest.raises(CrmUnavailable):
        crm_write_back_deliver(call_id=call.pk)
    assert bitrix.comments == {}
    assert crm_write_back_deliver(call_id=call.pk) == "written"
    assert len(bitrix.comments) == 1


def test_two_workers_never_write_the_same_version(company, bitrix, crm_connection, client_deal):
    call = _linked_analysed_call(company)
    _queue(call)
    # Another worker holds the claim: this one goes away without sending anything.
    CrmWriteBack.objects.filter(call=call).update(claim_until=timezone.now() + dt.timedelta(minutes=5))
    sent = bitrix.http_requests()
    assert crm_write_back_deliver(call_id=call.pk) == "busy"
    assert bitrix.http_requests() == sent and bitrix.comments == {}


def test_a_supervisors_correction_updates_the_same_comment(company, bitrix, crm_connection, client_deal, supervisor):
    call = _linked_analysed_call(company)
    _queue(call)
    crm_write_back_deliver(call_id=call.pk)
    (comment_id,) = bitrix.comments
    assert "Offers help" not in bitrix.comments[comment_id]["COMMENT"]
    result = ItemResult.objects.get(call=call, version_item__criterion="Offers help")

    item_result_override(company=company, result_id=result.pk, answer="not_met", reason="no offer", by=supervisor.user)
    assert CrmWriteBack.objects.get(call=call).version == 2
    crm_write_back_deliver(call_id=call.pk)

    assert list(bitrix.comments) == [comment_id]
    assert "- Offers help" in bitrix.comments[comment_id]["COMMENT"]
    assert "50/100" in bitrix.comments[comment_id]["COMMENT"]  # the score recomputed with the correction
    row = CrmWriteBack.objects.get(call=call)
    assert (row.written_version, row.state) == (2, "written")


def test_a_reanalysis_updates_the_comment_of_the_first_analysis(
    company, bitrix, crm_connection, client_deal, django_capture_on_commit_callbacks
):
    company.name = "Dialix Market"
    company.save()
    demo_checklists(company)
    call = transcribed_call_from_fixture(company, "en-01-sale", customer_phone=PHONE)
    crm_link_company(company_id=company.pk)
    with django_capture_on_commit_callbacks(execute=True):  # the outbox row's task runs once the analysis commits
        call_analyse(call_id=call.pk)
    assert len(bitrix.comments) == 1
    (comment_id,) = bitrix.comments

    with django_capture_on_commit_callbacks(execute=True):
        calls_reanalyse(calls=Call.objects.filter(pk=call.pk))  # eager: analysed again, then written back
    assert Call.objects.get(pk=call.pk).status == CallStatus.DONE

    assert list(bitrix.comments) == [comment_id]
    row = CrmWriteBack.objects.get(call=call)
    assert (row.version, row.written_version, row.written_id) == (2, 2, str(comment_id))
    updates = [m for m in bitrix.methods_called() if m == "crm.timeline.comment.update"]
    assert len(updates) == 1


def test_an_activity_goes_on_the_client_when_the_deal_is_closed(company, bitrix, crm_connection, client_deal):
    contact, deal = client_deal
    bitrix.move_deal(deal, "WON")
    CrmConnection.objects.filter(pk=crm_connection.pk).update(write_back="activity", write_language="en")
    call = _linked_analysed_call(company, needs_review=True)
    _queue(call)

    assert crm_write_back_deliver(call_id=call.pk) == "written"

    assert bitrix.comments == {}
    (activity,) = bitrix.activities.values()
    assert (str(activity["OWNER_ID"]), str(activity["OWNER_TYPE_ID"])) == (contact, "3")  # the contact
    assert "Needs review: yes" in activity["DESCRIPTION"] and activity["SUBJECT"] == "Dialix: call scored 80/100"


def test_a_call_without_a_crm_match_writes_nothing(company, bitrix, crm_connection):
    call = analysed_call(company, customer_phone="+998909999999")
    crm_link_company(company_id=company.pk)
    _queue(call)
    assert crm_write_back_deliver(call_id=call.pk) == "skipped"
    assert bitrix.comments == {} and bitrix.activities == {}


def test_no_outbox_row_without_a_connection_that_writes_back(company, bitrix, crm_connection):
    CrmConnection.objects.filter(pk=crm_connection.pk).update(write_back="nothing")
    call = CallFactory(company=company)
    _queue(call)
    assert not CrmWriteBack.objects.filter(call=call).exists()


def test_a_call_not_linked_yet_is_written_once_it_is(company, bitrix, crm_connection, client_deal):
    call = analysed_call(company, customer_phone=PHONE)  # still waiting to be linked
    _queue(call)
    with pytest.raises(WriteBackWaiting):
        crm_write_back_deliver(call_id=call.pk)
    assert bitrix.comments == {}
    crm_link_company(company_id=company.pk)
    assert crm_write_back_deliver(call_id=call.pk) == "written"
    assert len(bitrix.comments) == 1
