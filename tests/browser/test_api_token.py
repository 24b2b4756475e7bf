"""An owner creates an API token in the console; an integrator uses it in Swagger UI's "Try it out"."""

import re

import pytest
from playwright.sync_api import expect

from companies.models import ApiToken
from tests.browser.helpers import ACTION_TIMEOUT_MS, expect_message, login, open_console_list

pytestmark = pytest.mark.browser

TOKEN = re.compile(r"API token created: (\S+)")


def test_owner_creates_a_token_and_the_integrator_calls_the_api_from_swagger_ui(
    page, browser, request, live_server, watch, owner, scored_call
):
    login(page, live_server, owner)
    open_console_list(page, live_server, "API tokens")
    page.get_by_role("link", name="Add API token").click()
    page.get_by_label("Name").fill("CRM integration")
    page.get_by_role("button", name="Save", exact=True).click()
    expect_message(page, TOKEN)
    shown = page.locator("ul.messagelist li").filter(has_text=TOKEN).first.inner_text()
    raw = TOKEN.search(shown).group(1)
    assert ApiToken.objects.get(company=owner.company, name="CRM integration").prefix == raw[:12]

    # Shown once: the list and the token's own page never show it again.
    page.reload()
    expect(page.locator("body")).not_to_contain_text(raw)
    page.locator("#result_list tbody tr").filter(has_text="CRM integration").locator("th a").click()
    expect(page.locator("body")).not_to_contain_text(raw)

    # The integrator: another browser profile, no session, only the token.
    integrator = browser.new_context()
    docs = integrator.new_page()
    docs.set_default_timeout(ACTION_TIMEOUT_MS)
    watch.attach(docs)
    request.addfinalizer(integrator.close)
    docs.goto(f"{live_server.url}/api/docs/")
    docs.get_by_role("button", name="Authorize").first.click()
    dialog = docs.locator(".modal-ux")  # Swagger UI's "Available authorizations"
    bearer = dialog.locator(".auth-container").filter(has_text="(http, Bearer)")
    bearer.get_by_label("Value").fill(raw)
    bearer.get_by_role("button", name="Apply credentials").click()
    expect(bearer.get_by_role("heading", name="Authorized")).to_be_visible()
    bearer.get_by_role("button", name="Close").click()

    operation = docs.locator(".opblock-get").filter(
        has=docs.locator(".opblock-summary-path[data-path='/api/v1/calls/']")
    )
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    with docs.expect_response(lambda r: re.search(r"/api/v1/calls/(\?.*)?$", r.url) is not None) as answer:
        operation.get_by_role("button", name="Execute").click()
    assert answer.value.status == 200
    assert answer.value.request.headers.get("authorization") == f"Bearer {raw}"
    expect(operation.locator(".live-responses-table tr.response .response-col_status")).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text(scored_call.pbx_call_id)
