"""An analyst looks into the console but changes nothing: no action that writes is offered, and a crafted one is
refused."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from calls.models import Call
from checklists.models import CallAnalysis
from tests.browser.helpers import login, open_console_list

pytestmark = pytest.mark.browser


def test_analyst_sees_no_writing_action_and_a_crafted_one_is_refused(page, live_server, analyst, scored_call):
    before = Call.objects.values("status", "updated_at").get(pk=scored_call.pk)
    analysed_at = CallAnalysis.objects.get(call=scored_call).updated_at

    login(page, live_server, analyst)
    open_console_list(page, live_server, "Calls")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(scored_call.customer_phone)
    # Nothing to tick, no action to pick, no upload.
    expect(page.get_by_role("checkbox", name="Select this object for an action", exact=False)).to_have_count(0)
    offered = page.locator("select[name=action] option").all_inner_texts()
    assert [label for label in offered if label.strip("-")] == [], offered
    expect(page.get_by_role("link", name="Upload recordings")).to_have_count(0)

    # The same POST the supervisor's "Re-analyse" button sends, crafted by hand with the analyst's session.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    changelist = f"{live_server.url}{reverse('admin:calls_call_changelist')}"
    response = page.request.post(
        changelist,
        form={
            "csrfmiddlewaretoken": csrf,
            "action": "reanalyse",
            "_selected_action": str(scored_call.pk),
            "index": "0",
        },
        headers={"Referer": changelist},
    )
    assert response.status == 200, response.status  # no such action for an analyst: the list again, nothing run
    assert Call.objects.values("status", "updated_at").get(pk=scored_call.pk) == before  # not re-queued
    assert CallAnalysis.objects.get(call=scored_call).updated_at == analysed_at  # not re-analysed
