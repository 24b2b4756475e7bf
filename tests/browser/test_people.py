"""People (issue 12), from an owner's side: add a supervisor by name and email, pass on the one-time set-password
link; the supervisor opens it in their own browser, chooses a password and logs into the console."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from companies.models import Membership, Role
from tests.browser.helpers import expect_message, login, open_console_list

pytestmark = pytest.mark.browser

NEW_PASSWORD = "Samarkand-Blue-2026"


def test_an_owner_adds_a_supervisor_who_then_logs_in(page, live_server, owner, watch):
    login(page, live_server, owner)
    open_console_list(page, live_server, "Memberships")
    page.get_by_role("link", name=re.compile(r"^Add membership")).click()
    page.get_by_label("Name").fill("Dilnoza Karimova")
    page.get_by_label("Email").fill("dilnoza@example.uz")
    page.get_by_label("Role").select_option(label="Supervisor")
    page.get_by_role("button", name="Save", exact=True).click()
    expect_message(page, "Set-password link for dilnoza@example.uz")
    link = page.get_by_test_id("set-password-link").get_attribute("href")
    assert link and "/accounts/set-password/" in link
    member = Membership.objects.select_related("user").get(user__username="dilnoza@example.uz")
    assert member.role == Role.SUPERVISOR and not member.user.has_usable_password()

    # The supervisor, in their own browser.
    theirs = page.context.browser.new_context().new_page()
    watch.attach(theirs)
    theirs.goto(f"{live_server.url}{link}")
    theirs.get_by_label("New password:", exact=True).fill(NEW_PASSWORD)
    theirs.get_by_label("Confirm password").fill(NEW_PASSWORD)
    theirs.get_by_role("button", name=re.compile("Change my password|Reset password", re.I)).click()
    expect(theirs.get_by_text("Your password has been set")).to_be_visible()
    theirs.get_by_role("link", name="Log in").click()
    theirs.get_by_label("Username").fill("dilnoza@example.uz")
    theirs.get_by_label("Password").fill(NEW_PASSWORD)
    theirs.get_by_role("button", name="Log in").click()
    theirs.goto(f"{live_server.url}{reverse('admin:index')}")
    expect(theirs.get_by_role("link", name="Calls", exact=True).first).to_be_visible()
    expect(theirs.get_by_role("link", name="Review queue").first).to_be_visible()

    # The link worked once.
    again = page.context.browser.new_context().new_page()
    watch.attach(again)
    again.goto(f"{live_server.url}{link}")
    expect(again.get_by_text(re.compile("link was invalid", re.I))).to_be_visible()
