"""A supervisor connects the company's Bitrix24 portal in the console and tests it (issue 14)."""

import re

import pytest
from playwright.sync_api import expect

from integrations.models import CrmConnection
from integrations.testing.bitrix24 import FakeBitrix24
from tests.browser.helpers import expect_message, login, open_console_list

pytestmark = pytest.mark.browser


@pytest.fixture
def portal(settings):
    settings.DIALIX_CRM_ALLOW_PRIVATE_HOSTS = True  # the fake portal listens on 127.0.0.1 over http
    with FakeBitrix24() as fake:
        fake.add_funnel("7", "Kurslar")
        yield fake


def test_supervisor_connects_bitrix24_tests_it_and_sees_what_is_missing(page, live_server, portal, supervisor):
    login(page, live_server, supervisor)
    open_console_list(page, live_server, "CRM connections")
    page.get_by_role("link", name="Add CRM connection").click()
    page.get_by_label("Webhook URL").fill(portal.webhook_url)
    page.get_by_role("button", name="Save and continue editing").click()
    expect_message(page, "was added successfully")
    connection = CrmConnection.objects.get(company=supervisor.company)
    expect(page.locator(".field-webhook_url_masked")).to_contain_text(f"{portal.portal_url}/rest/1/••••••••/")
    expect(page.locator("body")).not_to_contain_text(portal.code)

    page.get_by_role("button", name="Test connection").click()
    expect_message(page, "connected: everything Dialix reads works.")
    check = page.locator("ul.dlx-crm-check")
    expect(check.locator("li.dlx-crm-ok").filter(has_text="CRM scope")).to_be_visible()
    expect(check).to_contain_text("2 funnel(s)")
    expect(check).to_contain_text("Write rights: not tested")
    # a strict Content-Security-Policy is coming: nothing of ours carries an inline style or script
    expect(page.locator("ul.messagelist [style], #content-main [style], .object-tools [style]")).to_have_count(0)
    expect(page.locator("#content script:not([src])")).to_have_count(0)

    portal.scopes.clear()  # someone edits the webhook in Bitrix24 and drops the crm scope
    open_console_list(page, live_server, "CRM connections")
    page.locator("#result_list tbody tr").filter(has_text=f"127.0.0.1:{portal.port}").get_by_role(
        "checkbox", name=re.compile("Select this object")
    ).check()
    page.get_by_role("combobox", name=re.compile(r"^Action")).select_option(label="Test connection")
    page.get_by_role("button", name="Go").click()
    expect_message(page, "not working:")
    expect(page.locator("ul.dlx-crm-check li.dlx-crm-fail").filter(has_text="CRM scope")).to_contain_text(
        "tick CRM (crm)"
    )
    expect(page.locator("#result_list")).to_contain_text("failing:")
    connection.refresh_from_db()
    assert connection.last_error.startswith("CRM scope:")
