"""The doors (issue 16) from people's side: a supervisor who mistypes their password six times is locked out until
the owner unlocks them in the console; an owner whose company requires two-factor enrols with the QR code's secret
and a code; the API docs page works under its CSP. Every page here runs under the CSP: a violation is a console
error, which fails the test."""

import base64
import re

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests.browser.helpers import PASSWORD, expect_message, login, open_console_list, run_action

pytestmark = pytest.mark.browser


def _type_password(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}{resolve_url(settings.LOGIN_URL)}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_six_wrong_passwords_lock_a_supervisor_until_the_owner_unlocks(page, live_server, supervisor, owner, watch):
    watch.expect_status(429, "/accounts/login/")
    username = supervisor.user.get_username()
    for _ in range(5):
        _type_password(page, live_server, username, "not-my-password")
        expect(page.get_by_text(re.compile("enter a correct username and password", re.I))).to_be_visible()
    _type_password(page, live_server, username, "not-my-password")
    expect(page.get_by_test_id("locked-out")).to_be_visible()
    _type_password(page, live_server, username, PASSWORD)  # the right password, still locked
    expect(page.get_by_test_id("locked-out")).to_be_visible()

    # The owner, in their own browser, unlocks the supervisor from the console.
    theirs = page.context.browser.new_context().new_page()
    watch.attach(theirs)
    login(theirs, live_server, owner)
    open_console_list(theirs, live_server, "Login lockouts")
    expect(theirs.locator("#result_list")).to_contain_text(username)
    run_action(theirs, "Unlock selected logins (forget their failed attempts)", rows=username)
    expect_message(theirs, f"Unlocked: {username}.")

    login(page, live_server, supervisor)
    expect(page).to_have_url(f"{live_server.url}/dashboard/")


def test_an_owner_enrols_in_two_factor_when_the_company_requires_it(page, live_server, owner, shop):
    shop.require_two_factor = True
    shop.save(update_fields=["require_two_factor"])
    login(page, live_server, owner)

    expect(page).to_have_url(re.compile(r"/accounts/two-factor/"))
    expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text()
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.get_by_label("Code").fill(f"{TOTP(key, step=30, digits=6).token():06d}")
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{live_server.url}/dashboard/")

    # The setting is the owner's to change, in the console, for their company only.
    open_console_list(page, live_server, "Companies")
    page.get_by_role("link", name="Dialix Market").click()
    expect(page.get_by_label("Require two-factor login")).to_be_checked()


def test_the_api_docs_page_works_under_its_policy(page, live_server, supervisor):
    login(page, live_server, supervisor)
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.get_by_role("heading", name=re.compile("Dialix API"))).to_be_visible()
