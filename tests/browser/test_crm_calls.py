"""The CRM on the console (issue 14), from a supervisor's side: a call page shows the Bitrix24 client and deal
(funnel, stage, won) with a link to open it in the portal; the calls list shows the client in its CRM column and is
filtered down to the calls of won deals, then of one stage."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from calls.services.crm import crm_link_company
from calls.tests.crm_helpers import *  # noqa: F403 - the fixtures bitrix, crm_connection
from calls.tests.factories import CallFactory
from tests.browser.helpers import login

pytestmark = pytest.mark.browser


@pytest.fixture
def linked_calls(shop, scored_call, bitrix, crm_connection):
    """The scored call belongs to Aziza's won course deal; another call to Bekzod's lost one."""
    bitrix.add_funnel("7", "Kurslar")
    aziza = bitrix.add_contact("Aziza", "Rahimova", phones=[scored_call.customer_phone.replace("+", "")])
    won = bitrix.add_deal("Python kursi", contact_id=aziza, funnel_id="7", stage="MEETING")
    bitrix.move_deal(won, "WON")
    bekzod = bitrix.add_contact("Bekzod", "Aliev", phones=["+998 93 555 01 01"])
    lost = bitrix.add_deal("Buyurtma #4411", contact_id=bekzod, stage="PREPARATION")
    bitrix.move_deal(lost, "LOSE")
    other = CallFactory(company=shop, customer_phone="+998935550101", started_at=timezone.now() - dt.timedelta(hours=2))
    assert crm_link_company(company_id=shop.pk).linked == 2
    return scored_call, other, won


def test_a_supervisor_sees_the_client_and_deal_and_filters_the_list_by_won(
    page, live_server, supervisor, linked_calls, bitrix
):
    scored, other, won = linked_calls
    login(page, live_server, supervisor)

    page.goto(f"{live_server.url}{reverse('admin:calls_call_change', args=[scored.pk])}")
    expect(page.get_by_test_id("crm-client")).to_have_text("Aziza Rahimova")
    deal = page.get_by_test_id("crm-deal")
    expect(deal).to_contain_text("Python kursi")
    expect(deal).to_contain_text("Kurslar / Sotildi")  # the funnel's own stage name
    expect(page.get_by_test_id("crm-deal-outcome")).to_have_text("Won")
    link = deal.get_by_role("link", name="Python kursi")
    expect(link).to_have_attribute("href", f"{bitrix.portal_url}/crm/deal/details/{won}/")  # opens it in Bitrix24

    page.goto(f"{live_server.url}{reverse('admin:calls_call_changelist')}")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Bekzod Aliev")).to_contain_text("Deal lost")
    page.locator("#changelist-filter").get_by_role("link", name="Won", exact=True).click()
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_test_id("crm")).to_contain_text("Aziza Rahimova")
    expect(rows.first.get_by_test_id("crm")).to_contain_text("Won")

    rows.first.get_by_role("link", name="Sotildi").click()  # every call whose deal is at this stage
    expect(page.locator("#changelist-filter")).to_contain_text("Sotildi")
    expect(rows).to_have_count(1)
    assert other.pk != scored.pk
