"""A supervisor builds a checklist in the console as a draft, previews what publishing changes, publishes it, edits an
item and publishes version 2."""

import re

import pytest
from playwright.sync_api import expect

from checklists.models import Checklist, ChecklistSection, ChecklistVersion
from checklists.services import versions_for
from checklists.tests.factories import ChecklistFactory
from operators.tests.factories import OperatorFactory
from tests.browser.helpers import expect_message, login, open_console_list

pytestmark = pytest.mark.browser

SECTIONS = ["Opening", "Closing"]
ITEMS = [  # (section title, criterion, weight)
    ("Opening", "Greets the customer", "1"),
    ("Opening", "Says the company name", "2"),
    ("Closing", "Confirms the next step", "3"),
    ("Closing", "Says goodbye", "1"),
]


def _add_inline_row(page, group: str, link_text: str):
    page.locator(f"#{group}-group").get_by_text(link_text).click()
    return page.locator(f"#{group}-group tr.form-row.dynamic-{group}").last


def test_supervisor_drafts_previews_and_publishes_a_checklist(page, live_server, supervisor, other_company):
    for company in (supervisor.company, other_company):  # sections an item of this checklist must never offer
        other = ChecklistFactory(company=company, name="Sales script")
        ChecklistSection.objects.create(company=company, checklist=other, title="Someone else's section")
    OperatorFactory(company=supervisor.company, name="Aziza")
    OperatorFactory(company=other_company, name="Foreign operator")

    login(page, live_server, supervisor)
    page.get_by_role("link", name="Console").click()
    page.get_by_role("rowheader").get_by_role("link", name="Checklists", exact=True).click()
    page.get_by_role("link", name="Add checklist").click()

    # Without items there is nothing to publish, and the button says so.
    publish = page.get_by_role("button", name="Publish…")
    expect(publish).to_be_disabled()
    expect(page.get_by_test_id("publish-why")).to_contain_text("without items cannot be published")

    page.get_by_label("Name").fill("Inbound quality")
    page.get_by_label("Inbound", exact=True).check()
    # The operator picker offers the company's operators only.
    expect(page.locator("#id_operators_from option")).to_have_text([re.compile("^Aziza")])
    page.locator("#id_operators_from option", has_text="Aziza").click()
    page.get_by_role("button", name="Choose selected operators").click()
    expect(page.locator("#id_operators_to option")).to_have_text([re.compile("^Aziza")])
    for title in SECTIONS:
        row = _add_inline_row(page, "sections", "Add another Checklist section")
        row.locator("input[name$='-title']").fill(title)
    # The whole checklist in one go: each item names its section by title.
    for section, criterion, weight in ITEMS:
        row = _add_inline_row(page, "items", "Add another Checklist item")
        row.locator("input[name$='-section_title']").fill(section)
        row.locator("textarea[name$='-criterion']").fill(criterion)
        row.locator("input[name$='-weight']").fill(weight)
    expect(publish).to_be_enabled()
    page.get_by_role("button", name="Save and continue editing").click()
    expect_message(page, "saved as a draft: no call is scored with it until you publish it")
    expect(page.get_by_test_id("publish-state")).to_contain_text("not published yet")
    expect(page.locator("#items-group tr.has_original")).to_have_count(4)
    checklist = Checklist.objects.get(company=supervisor.company, name="Inbound quality")
    assert not checklist.versions.exists()
    assert versions_for(company=supervisor.company, operator_id=None, direction="inbound") == []

    # Every section offered to an item is this checklist's own.
    options = page.locator("#items-group tr.has_original").first.locator("select[name$='-section'] option")
    expect(options.filter(has_text=re.compile(r"\w"))).to_have_text(SECTIONS)

    # Publish: a preview of the first version first, then the confirmation.
    page.get_by_role("button", name="Publish…").click()
    expect(page.get_by_test_id("publish-summary")).to_have_text("The first version will have 4 items:")
    expect(page.get_by_test_id("publish-added").locator("li")).to_have_count(4)
    page.get_by_role("button", name="Publish version 1").click()
    expect_message(page, "Published version 1 of “Inbound quality”")
    expect(page.get_by_test_id("publish-state")).to_contain_text("Published: version 1 scores new calls.")

    # An edit is a draft until it is published; the preview shows what changed.
    edited = page.locator("#items-group tr.has_original").filter(has=page.locator("textarea", has_text="Says goodbye"))
    edited.locator("textarea[name$='-criterion']").fill("Says goodbye and thanks the customer")
    edited.locator("input[name$='-is_critical']").check()
    page.get_by_role("button", name="Save and continue editing").click()
    expect_message(page, "calls are still scored with version 1 until you publish it")
    expect(page.get_by_test_id("publish-state")).to_contain_text("changes that are not published yet")
    page.get_by_role("button", name="Publish…").click()
    expect(page.get_by_test_id("publish-summary")).to_contain_text("Version 2 will have 4 items.")
    changed = page.get_by_test_id("publish-changed")
    expect(changed.locator("li")).to_have_count(1)
    criterion = changed.locator("tr").filter(has=page.locator("th", has_text=re.compile("^criterion$")))
    expect(criterion.locator("del")).to_have_text("Says goodbye")
    expect(criterion.locator("ins")).to_have_text("Says goodbye and thanks the customer")
    critical = changed.locator("tr").filter(has=page.locator("th", has_text=re.compile("^critical$")))
    expect(critical.locator("del")).to_have_text("no")
    expect(critical.locator("ins")).to_have_text("yes")
    expect(page.get_by_test_id("publish-removed")).to_have_count(0)
    page.get_by_role("button", name="Publish version 2").click()
    expect_message(page, "Published version 2 of “Inbound quality”")

    open_console_list(page, live_server, "Checklists")
    row = page.locator("#result_list tbody tr").filter(has_text="Inbound quality")
    expect(row).to_contain_text("v2")
    expect(row).to_contain_text("Inbound")

    checklist.refresh_from_db()
    assert checklist.directions == ["inbound"]
    assert list(checklist.operators.values_list("name", flat=True)) == ["Aziza"]
    versions = ChecklistVersion.objects.filter(checklist=checklist).order_by("number")
    assert [v.number for v in versions] == [1, 2]
    assert sorted((i.section_title, i.criterion, i.is_critical) for i in versions[1].items.all()) == sorted(
        [
            ("Opening", "Greets the customer", False),
            ("Opening", "Says the company name", False),
            ("Closing", "Confirms the next step", False),
            ("Closing", "Says goodbye and thanks the customer", True),
        ]
    )
