"""Alerts (issue 16) from a supervisor's side: create a Telegram rule in the console, a call is analysed, the alert
reaches the (fake) Telegram server and the delivery is listed with its status."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from calls.models_alerts import AlertDelivery, AlertRule
from calls.services.analysis import call_analyse
from calls.tests.factories import transcribed_call_from_fixture
from checklists.demo import demo_checklists
from integrations.testing.telegram import FakeTelegram
from tests.browser.helpers import expect_message, login

pytestmark = pytest.mark.browser

TOKEN = "777000:BROWSER-test-token"


@pytest.fixture
def telegram(settings):
    with FakeTelegram(token=TOKEN) as fake:
        settings.TELEGRAM_API_BASE_URL = fake.base_url
        yield fake


def test_a_supervisor_creates_a_rule_and_sees_the_delivery_after_a_call_is_analysed(
    page, live_server, supervisor, shop, telegram, settings
):
    settings.DIALIX_PUBLIC_URL = live_server.url
    demo_checklists(shop)
    login(page, live_server, supervisor)
    page.goto(f"{live_server.url}{reverse('admin:index')}")
    page.get_by_role("link", name="Alert rules").first.click()
    page.get_by_role("link", name=re.compile("Add alert rule")).first.click()

    page.get_by_label("Name").fill("Headphones asked for")
    page.get_by_label("When").select_option("phrase")
    page.get_by_label("Phrases").fill("Wireless headphones")
    page.get_by_label("Channel").select_option("telegram")
    page.get_by_label("Telegram bot token").fill(TOKEN)
    page.get_by_label("Telegram chat id").fill("-1001234")
    page.get_by_role("button", name="Save", exact=True).click()
    expect_message(page, re.compile("was added successfully"))
    rule = AlertRule.objects.get(company=shop)
    assert rule.telegram_bot_token == TOKEN and rule.created_by_id == supervisor.user_id

    call = transcribed_call_from_fixture(shop, "en-01-sale")
    call_analyse(call_id=call.pk)  # commits at once (live server tests): the alert task runs in process

    [message] = telegram.messages()
    assert "Headphones asked for" in message["text"] and f"/admin/calls/call/{call.pk}/change/" in message["text"]

    page.goto(f"{live_server.url}{reverse('admin:index')}")
    page.get_by_role("link", name="Alert deliveries").first.click()
    row = page.locator("#result_list tbody tr").first
    expect(row).to_contain_text("Headphones asked for")
    expect(row).to_contain_text("Sent")
    link = row.get_by_role("link", name=call.pbx_call_id)
    expect(link).to_have_attribute("href", f"/admin/calls/call/{call.pk}/change/")  # to the call's review page
    assert AlertDelivery.objects.get(rule=rule).status == "sent"
