"""A supervisor finds calls in the console's list: filters, a number typed the way it was heard, words said."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from calls.tests.factories import CallFactory, transcribed_call_from_fixture
from operators.tests.factories import OperatorFactory
from tests.browser.conftest import SCREENSHOTS
from tests.browser.helpers import login, open_console_list

pytestmark = pytest.mark.browser

COMPLAINT = "en-02-complaint"  # the customer asks for "a refund" at 0:19


@pytest.fixture
def calls(shop):
    """A complaint with its real turns, scored low, and two other calls of another operator."""
    aziza = OperatorFactory(company=shop, name="Aziza Karimova")
    bobur = OperatorFactory(company=shop, name="Bobur Aliyev")
    complaint = transcribed_call_from_fixture(
        shop,
        COMPLAINT,
        operator=aziza,
        customer_phone="+998901234567",
        score=38.0,
        auto_fail=True,
        started_at=dt.datetime(2026, 11, 20, 6, 15, tzinfo=dt.UTC),  # 11:15 in Tashkent
        duration_seconds=95,
    )
    others = [
        CallFactory(company=shop, operator=bobur, score=91.0, started_at=dt.datetime(2026, 11, 18, 9, tzinfo=dt.UTC)),
        CallFactory(company=shop, operator=bobur, score=64.0, started_at=dt.datetime(2026, 11, 22, 9, tzinfo=dt.UTC)),
    ]
    return complaint, others


def _rows(page):
    return page.locator("#result_list tbody tr:not(.dlx-hit-row)")


def test_supervisor_finds_calls_by_filters_number_and_words_said(page, live_server, supervisor, calls):
    complaint, _others = calls
    page.set_viewport_size({"width": 1366, "height": 768})
    login(page, live_server, supervisor)
    open_console_list(page, live_server, "Calls")

    # The whole list fits the screen: no horizontal scrolling, every column visible.
    expect(_rows(page)).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    # The table's own box (the admin scrolls it inside .results) is not wider than that box, nor off the screen.
    assert page.evaluate(
        "(() => { const box = document.querySelector('#changelist .results');"
        " const table = document.getElementById('result_list');"
        " return box.scrollWidth <= box.clientWidth"
        " && table.getBoundingClientRect().right <= document.documentElement.clientWidth; })()"
    )
    row = _rows(page).filter(has_text="Aziza Karimova")
    expect(row.locator("time")).to_have_attribute("title", re.compile(r"20 November 2026, 11:15:00 \(Asia/Tashkent\)"))
    expect(row).to_contain_text("1:35")
    expect(row.get_by_test_id("score")).to_have_text("38")
    expect(row).to_contain_text("auto-fail")
    expect(page.get_by_test_id("list-zone")).to_have_text("Times in Asia/Tashkent")

    # Filters: the score band, then a day picked in the calendar inputs.
    page.locator("#changelist-filter").get_by_role("link", name="0–49 (poor)").click()
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_contain_text("Aziza Karimova")
    page.locator("#changelist-filter").get_by_role("link", name="All").first.click()  # the first "All": score
    expect(_rows(page)).to_have_count(3)
    page.get_by_label("From", exact=True).fill("2026-11-20")
    page.get_by_label("To", exact=True).fill("2026-11-22")
    page.get_by_role("button", name="Apply dates").click()
    expect(_rows(page)).to_have_count(2)
    page.locator("#changelist-filter").get_by_role("link", name="Bobur Aliyev").click()
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_contain_text("64")
    page.get_by_role("link", name=re.compile("Clear all filters")).click()
    expect(_rows(page)).to_have_count(3)

    # A number typed as it was said on the phone.
    search = page.locator("#searchbar")
    search.fill("90 123 45 67")
    search.press("Enter")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_contain_text("+998901234567")

    # Words the customer said: the call, and under it the turn with its time.
    search.fill("refund")
    search.press("Enter")
    expect(_rows(page)).to_have_count(1)
    hit = page.locator("tr.dlx-hit-row").get_by_test_id("transcript-hit")
    expect(hit).to_contain_text("0:19")
    expect(hit).to_contain_text("I want a refund, or I want to speak to a manager.")
    expect(hit.locator("mark")).to_have_text("refund")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "calls-list-transcript-search.png"))  # for the closing note
    hit.get_by_role("link", name="0:19").click()
    expect(page).to_have_url(re.compile(rf"/admin/calls/call/{complaint.pk}/change/#t=19$"))
