"""The review queue (issue 12), from a supervisor's side: open it from the console's home, claim the oldest call,
take the next one, leave a coaching note at a moment of the audio, mark it reviewed. An analyst reads the queue and
cannot claim."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from calls.models import Call, CallStatus, CoachingNote, ReviewState
from calls.tests.factories import CallFactory
from tests.browser.helpers import expect_message, login

pytestmark = pytest.mark.browser


@pytest.fixture
def queue(shop, scored_call):
    """The scored call and an older one flagged for review; the sample takes every call, so both wait."""
    shop.review_sample_percent = 100
    shop.save(update_fields=["review_sample_percent"])
    older = CallFactory(
        company=shop,
        status=CallStatus.DONE,
        needs_review=True,
        score=80,
        started_at=timezone.now() - dt.timedelta(days=1),
        operator__name="Aziza",
    )
    return older, scored_call


def test_a_supervisor_claims_takes_the_next_call_leaves_a_note_and_marks_it_reviewed(
    page, live_server, supervisor, queue
):
    older, scored = queue
    login(page, live_server, supervisor)
    page.goto(f"{live_server.url}{reverse('admin:index')}")
    expect(page.locator("#site-name")).to_contain_text("Asia/Tashkent")  # the zone every time is in
    page.get_by_role("link", name="Review queue").first.click()

    rows = page.locator("#dlx-queue tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Aziza")  # oldest first
    expect(rows.first).to_contain_text("needs review")
    rows.first.get_by_role("button", name="Claim").click()
    expect_message(page, "You are reviewing this call.")
    expect(rows.first.get_by_test_id("review-state")).to_have_text(f"in review by {supervisor.user.username}")

    page.get_by_role("button", name="Next", exact=True).click()  # the oldest call nobody is reviewing: the scored one
    expect(page).to_have_url(re.compile(rf"/admin/calls/call/{scored.pk}/change/$"))
    expect(page.get_by_test_id("review-state")).to_contain_text(f"in review by {supervisor.user.username}")

    # A coaching note at the moment the reviewer heard: play from a turn, pause, take the player's position.
    page.locator("#dlx-turns .dlx-turn").nth(1).click()
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Current moment").click()
    moment = page.get_by_label("At (m:ss)").input_value()
    assert re.fullmatch(r"\d+:\d\d", moment), moment
    page.get_by_label("Note for the operator").fill("Say the shop's name in the greeting.")
    page.get_by_role("button", name="Add note").click()
    expect_message(page, "Coaching note saved")
    note = page.get_by_test_id("coaching-note")
    expect(note).to_contain_text("Say the shop's name in the greeting.")
    expect(note.locator("time")).to_have_text(moment)

    page.get_by_role("button", name="Mark reviewed").click()
    expect_message(page, "Marked reviewed.")
    expect(page.get_by_test_id("review-state")).to_contain_text(f"reviewed by {supervisor.user.username}")
    expect(page.get_by_role("button", name="Claim")).to_have_count(0)

    page.get_by_role("link", name="Review queue").first.click()
    expect(rows).to_have_count(1)  # the reviewed call left the queue; the claimed one waits for its reviewer
    expect(rows.first).to_contain_text("Aziza")
    scored_after = Call.objects.get(pk=scored.pk)
    assert scored_after.review_state == ReviewState.REVIEWED and scored_after.status == CallStatus.DONE
    assert CoachingNote.objects.get(call=scored).operator_id == scored.operator_id


def test_an_analyst_reads_the_queue_and_a_crafted_claim_is_refused(page, live_server, analyst, queue, watch):
    older, _ = queue
    login(page, live_server, analyst)
    page.goto(f"{live_server.url}{reverse('admin:calls_call_review_queue')}")
    expect(page.locator("#dlx-queue tbody tr")).to_have_count(2)
    expect(page.get_by_role("button", name="Claim")).to_have_count(0)
    expect(page.get_by_role("button", name="Next", exact=True)).to_have_count(0)

    watch.expect_status(403, "/review/claim/")
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    url = f"{live_server.url}{reverse('admin:calls_call_review_claim', args=[older.pk])}"
    response = page.request.post(url, form={"csrfmiddlewaretoken": csrf}, headers={"Referer": url})
    assert response.status == 403
    assert Call.objects.get(pk=older.pk).review_state == ReviewState.NOT_REVIEWED
