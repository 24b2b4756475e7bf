"""A supervisor builds a checklist in the console, publishes it, edits an item and sees the new version."""

import re

import pytest
from playwright.sync_api import expect

from checklists.models import Checklist, ChecklistSection, ChecklistVersion
from checklists.tests.factories import ChecklistFactory
from tests.browser.helpers import expect_message, login

pytestmark = pytest.mark.browser

SECTIONS = ["Opening", "Closing"]
ITEMS = [  # (section, criterion, weight)
    ("Opening", "Greets the customer", "1"),
    ("Opening", "Says the company name", "2"),
    ("Closing", "Confirms the next step", "3"),
    ("Closing", "Says goodbye", "1"),
]


def _add_inline_row(page, group: str, link_text: str):
    page.locator(f"#{group}-group").get_by_text(link_text).click()
    return page.locator(f"#{group}-group tr.form-row.dynamic-{group}").last


def test_supervisor_builds_publishes_and_edits_a_checklist(page, live_server, supervisor, other_company):
    for company in (supervisor.company, other_company):  # sections an item of this checklist must never offer
        other = ChecklistFactory(company=company, name="Sales script")
        ChecklistSection.objects.create(company=company, checklist=other, title="Someone else's section")

    login(page, live_server, supervisor)
    page.get_by_role("link", name="Console").click()
    page.get_by_role("rowheader").get_by_role("link", name="Checklists", exact=True).click()
    page.get_by_role("link", name="Add checklist").click()

    page.get_by_label("Name").fill("Inbound quality")
    for title in SECTIONS:
        row = _add_inline_row(page, "sections", "Add another Checklist section")
        row.locator("input[name$='-title']").fill(title)
    page.get_by_role("button", name="Save and continue editing").click()
    # Sections only: a draft, nothing published yet.
    expect_message(page, "is a draft")
    expect(page.locator("#sections-group tr.has_original")).to_have_count(2)

    for section, criterion, weight in ITEMS:
        row = _add_inline_row(page, "items", "Add another Checklist item")
        row.locator("select[name$='-section']").select_option(label=section)
        row.locator("textarea[name$='-criterion']").fill(criterion)
        row.locator("input[name$='-weight']").fill(weight)
    page.get_by_role("button", name="Save and continue editing").click()
    expect_message(page, "Published version 1 of “Inbound quality”")
    expect(page.locator("#items-group tr.has_original")).to_have_count(4)

    # Every section offered to an item is this checklist's own.
    options = page.locator("#items-group tr.has_original").first.locator("select[name$='-section'] option")
    expect(options.filter(has_text=re.compile(r"\w"))).to_have_text(SECTIONS)

    # An edit of one item publishes version 2; the list says so.
    edited = page.locator("#items-group tr.has_original").filter(has=page.locator("textarea", has_text="Says goodbye"))
    edited.locator("textarea[name$='-criterion']").fill("Says goodbye and thanks the customer")
    page.get_by_role("button", name="Save", exact=True).click()
    expect_message(page, "Published version 2 of “Inbound quality”")
    row = page.locator("#result_list tbody tr").filter(has_text="Inbound quality")
    expect(row).to_contain_text("v2")

    checklist = Checklist.objects.get(company=supervisor.company, name="Inbound quality")
    versions = ChecklistVersion.objects.filter(checklist=checklist).order_by("number")
    assert [v.number for v in versions] == [1, 2]
    assert sorted(i.criterion for i in versions[1].items.all()) == sorted(
        [
            "Greets the customer",
            "Says the company name",
            "Confirms the next step",
            "Says goodbye and thanks the customer",
        ]
    )
