"""The scheduled poll of Bitrix24 deals (issue 14): deals that moved to won or lost change their calls' outcome;
the cursor and a sync run are recorded; faults keep the cursor; against the fake portal over real HTTP."""

import datetime as dt

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from analytics.selectors_crm import crm_conversion
from calls.models import Call
from calls.services.crm import crm_link_company, crm_poll_connection, crm_schedule
from calls.tests.crm_helpers import *  # noqa: F403 - the fixtures bitrix, crm_connection
from calls.tests.factories import CallFactory
from integrations.models import CrmConnection, CrmSyncRun

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def linked(company, bitrix, crm_connection):
    """Three clients with an open deal each (one in funnel 7), and two calls on the first deal."""
    bitrix.add_funnel("7", "Kurslar")
    deals = {}
    for n, (funnel, stage) in enumerate([("0", "NEW"), ("0", "PREPARATION"), ("7", "MEETING")]):
        phone = f"+99890123450{n}"
        contact = bitrix.add_contact(f"Client {n}", phones=[phone])
        deals[n] = bitrix.add_deal(f"Deal {n}", contact_id=contact, funnel_id=funnel, stage=stage,
                                   at=NOW - dt.timedelta(days=3))  # fmt: skip
        CallFactory(company=company, customer_phone=phone, score=70.0, started_at=NOW - dt.timedelta(hours=n + 1))
    CallFactory(company=company, customer_phone="+998901234500", score=90.0, started_at=NOW - dt.timedelta(hours=5))
    crm_link_company(company_id=company.pk)
    assert set(Call.objects.for_company(company).values_list("crm_deal_semantic", flat=True)) == {"open"}
    return deals


def _outcomes(company) -> dict[str, tuple[str, str]]:
    rows = Call.objects.for_company(company).values_list("crm_deal_id", "crm_deal_semantic", "crm_deal_stage_name")
    return {deal: (semantic, stage) for deal, semantic, stage in rows}


def test_the_poll_picks_up_won_and_lost_deals_and_their_calls_change(company, bitrix, crm_connection, linked):
    first = crm_poll_connection(connection_id=crm_connection.pk)  # the first poll reads the last 30 days
    assert first.status == "succeeded" and first.calls_updated == 0  # nothing moved yet
    bitrix.move_deal(linked[0], "WON")
    bitrix.move_deal(linked[2], "LOSE")

    run = crm_poll_connection(connection_id=crm_connection.pk)

    assert run.status == "succeeded" and run.error == ""
    # Deal 1 is read again (its change is at the cursor, inside the overlap) but its call is not written; deal 0 has
    # two calls.
    assert (run.deals_read, run.calls_updated) == (3, 3)
    assert run.requests >= 1 and run.finished_at is not None
    assert _outcomes(company) == {
        linked[0]: ("won", "Deal won"),
        linked[1]: ("open", "Preparing documents"),
        linked[2]: ("lost", "Rad etildi"),  # funnel 7's own stage name
    }
    connection = CrmConnection.objects.get(pk=crm_connection.pk)
    moved_at = max(bitrix.deals[int(linked[0])]["DATE_MODIFY"], bitrix.deals[int(linked[2])]["DATE_MODIFY"])
    assert connection.deals_cursor == dt.datetime.fromisoformat(moved_at)
    assert connection.lease_until is None
    # The figures follow: deal 0 won (mean score 80), deal 2 lost (70).
    figures = crm_conversion(company=company, min_deals=1)
    assert (figures["won"], figures["lost"], figures["open_deals"]) == (1, 1, 1)
    assert [(b["deals"], b["won"]) for b in figures["bands"]] == [(0, 0), (0, 0), (2, 1), (0, 0)]


def test_a_poll_with_nothing_new_writes_nothing(company, bitrix, crm_connection, linked):
    bitrix.move_deal(linked[1], "WON")
    crm_poll_connection(connection_id=crm_connection.pk)
    again = crm_poll_connection(connection_id=crm_connection.pk)
    assert again.status == "succeeded" and again.calls_updated == 0


def test_the_poll_reads_every_page_of_fifty(company, bitrix, crm_connection, linked):
    for n in range(120):
        bitrix.add_deal(f"Bulk {n}", stage="NEW")
    bitrix.move_deal(linked[1], "LOSE")
    run = crm_poll_connection(connection_id=crm_connection.pk)
    assert run.deals_read == 123 and run.calls_updated == 1
    assert _outcomes(company)[linked[1]][0] == "lost"


def test_a_5xx_midway_keeps_the_cursor_and_the_next_poll_catches_up(company, bitrix, crm_connection, linked):
    crm_poll_connection(connection_id=crm_connection.pk)
    cursor = CrmConnection.objects.get(pk=crm_connection.pk).deals_cursor
    bitrix.move_deal(linked[0], "WON")
    bitrix.fail_next(5, "http500", method="crm.deal.list")

    run = crm_poll_connection(connection_id=crm_connection.pk)

    assert run.status == "failed" and "CrmUnavailable" in run.error
    connection = CrmConnection.objects.get(pk=crm_connection.pk)
    assert connection.deals_cursor == cursor and connection.stopped_at is None and connection.lease_until is None
    bitrix._faults.clear()
    assert crm_poll_connection(connection_id=crm_connection.pk).calls_updated == 2
    assert _outcomes(company)[linked[0]][0] == "won"


def test_a_403_on_the_poll_stops_the_connection(company, bitrix, crm_connection, linked):
    bitrix.fail_next(1, "403_scope")
    run = crm_poll_connection(connection_id=crm_connection.pk)
    assert run.status == "failed"
    connection = CrmConnection.objects.get(pk=crm_connection.pk)
    assert connection.stopped_at is not None and "scope" in connection.stopped_reason.lower()
    assert crm_poll_connection(connection_id=crm_connection.pk) is None  # stopped: not polled


def test_the_schedule_polls_a_due_connection_once_per_interval(company, bitrix, crm_connection, linked):
    assert PeriodicTask.objects.filter(name="crm-schedule", task="calls.tasks_crm.crm_schedule_task").exists()
    assert crm_schedule()["polls"] == 1  # eager: the poll runs here
    assert CrmSyncRun.objects.filter(connection=crm_connection, kind="poll").count() == 1
    assert crm_schedule()["polls"] == 0  # polled a moment ago; the interval is 15 minutes
    later = crm_schedule(now=timezone.now() + dt.timedelta(minutes=16))
    assert later["polls"] == 1
