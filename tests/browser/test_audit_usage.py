"""The audit trail and the usage page (issue 16), from an owner's side: what they just did on a call is in the
trail, once; they filter it, download it as CSV, cannot add or delete a line, and open the usage and cost page."""

import re

import pytest
from playwright.sync_api import expect

from companies.models import AuditEntry
from tests.browser.helpers import login, open_console_list

pytestmark = pytest.mark.browser


def test_an_owner_reads_filters_and_downloads_the_trail_and_sees_the_usage(page, live_server, owner, scored_call):
    login(page, live_server, owner)
    page.goto(f"{live_server.url}/admin/calls/call/{scored_call.pk}/change/")
    expect(page.locator("#dlx-turns .dlx-turn").first).to_be_visible()
    page.wait_for_function("document.getElementById('dlx-audio').readyState >= 1")  # the player fetched the audio
    page.reload()  # the same opening again: still one line
    expect(page.locator("#dlx-turns .dlx-turn").first).to_be_visible()

    open_console_list(page, live_server, "Audit trail")
    rows = page.locator("#result_list tbody tr")
    expect(rows.filter(has_text="transcript_opened")).to_have_count(1)
    expect(rows.filter(has_text="recording_played")).to_have_count(1)
    expect(rows.filter(has_text="transcript_opened")).to_contain_text(owner.user.username)
    expect(page.get_by_role("link", name=re.compile("^Add audit entry"))).to_have_count(0)
    expect(page.locator("select[name=action]")).to_have_count(0)  # no actions: not even delete

    page.locator("#changelist-filter").get_by_role("link", name="Transcript opened").click()
    expect(rows).to_have_count(1)
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Download CSV")).click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.splitlines()[0].startswith("timestamp,company,actor,event")
    assert [line.split(",")[3] for line in text.splitlines()[1:]] == ["transcript_opened"]
    assert AuditEntry.objects.filter(event="audit_exported", company=owner.company).count() == 1

    page.get_by_role("link", name="Usage and cost").click()
    expect(page.get_by_role("heading", name="Usage and cost")).to_be_visible()
    expect(page.get_by_test_id("usage-table").locator("tbody tr")).to_have_count(12)
    expect(page.get_by_test_id("storage")).to_contain_text("1 recording")
