"""Each role logs in through the login form and lands where it works."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("role", "sees", "never_sees"),
    [
        ("owner", ["Calls", "Checklists", "PBX accounts", "API tokens", "Memberships"], []),
        ("supervisor", ["Calls", "Checklists", "PBX accounts"], ["API tokens", "Memberships"]),
        ("analyst", ["Calls", "Checklists"], ["API tokens", "Memberships"]),
    ],
)
def test_each_role_logs_in_and_lands_where_it_works(page, live_server, request, role, sees, never_sees):
    member = request.getfixturevalue(role)
    login(page, live_server, member)

    # Everyone lands on the company's dashboard: its name, its figures (no calls yet), their own name to log out.
    expect(page).to_have_url(f"{live_server.url}/dashboard/")
    expect(page.get_by_role("banner").locator(".company")).to_have_text("Dialix Market")
    expect(page.get_by_role("heading", name="No calls yet")).to_be_visible()
    expect(page.get_by_role("button", name=f"Log out {member.user.get_username()}")).to_be_visible()

    # The console is one click away and shows what the role may touch, and no more.
    page.get_by_role("link", name="Console").click()
    expect(page).to_have_url(f"{live_server.url}/admin/")
    content = page.locator("#content-main")
    models = content.get_by_role("rowheader")  # one row per kind of thing the console lists for this person
    for name in sees:
        expect(models.get_by_role("link", name=name, exact=True)).to_be_visible()
    for name in never_sees:
        expect(models.get_by_role("link", name=name, exact=True)).to_have_count(0)
    adds = content.get_by_role("link", name=re.compile(r"^Add"))
    if role == "analyst":
        expect(adds).to_have_count(0)  # read-only: nothing to add anywhere
    else:
        expect(adds.first).to_be_visible()
