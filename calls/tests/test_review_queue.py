"""The review workflow (issue 12): the queue (flagged calls and the company's sample, oldest first), claiming one
reviewer at a time, marking reviewed, Next, coaching notes, the analyst's read-only view, and times in the company's
zone on the console's pages."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from calls.models import Call, CallStatus, CoachingNote, ReviewState, Transcript
from calls.services.review import (
    CLAIM_TTL,
    CoachingNoteInvalid,
    ReviewNotPossible,
    call_in_sample,
    coaching_note_add,
    parse_moment,
    review_claim,
    review_claim_next,
    review_mark_reviewed,
    review_queue,
    review_release,
)
from calls.tests.factories import CallFactory
from companies.models import Role

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _done(company, minutes_ago: int, **fields) -> Call:
    return CallFactory(
        company=company, status=CallStatus.DONE, started_at=NOW - dt.timedelta(minutes=minutes_ago), **fields
    )


@pytest.fixture
def no_sample(company):
    company.review_sample_percent = 0
    company.save()
    return company


def _queue_ids(company) -> list[int]:
    return list(review_queue(company=company).values_list("pk", flat=True))


def test_the_queue_holds_calls_that_need_a_person_oldest_first(no_sample, other_company):
    newer_fail = _done(no_sample, 10, auto_fail=True)
    older_review = _done(no_sample, 50, needs_review=True)
    low = _done(no_sample, 30)
    Transcript.objects.create(
        company=no_sample, call=low, engine="offline", language="uz", speaker_method="channels", low_confidence=True
    )
    _done(no_sample, 20)  # fine and not sampled
    _done(no_sample, 40, auto_fail=True, review_state=ReviewState.REVIEWED)  # reviewed already
    CallFactory(company=no_sample, status=CallStatus.TRANSCRIBED, auto_fail=True)  # not analysed yet
    _done(other_company, 60, auto_fail=True)  # another company's
    rows = list(review_queue(company=no_sample))
    assert [r.pk for r in rows] == [older_review.pk, low.pk, newer_fail.pk]
    assert [r.queue_reason for r in rows] == ["needs_review", "low_confidence", "auto_fail"]


def test_the_random_sample_is_the_companys_percent_and_stable(company):
    calls = [_done(company, i) for i in range(200)]
    company.review_sample_percent = 10
    company.save()
    sampled = set(_queue_ids(company))
    assert sampled == {c.pk for c in calls if call_in_sample(call_id=c.pk, percent=10)}  # SQL agrees with Python
    assert 8 <= len(sampled) <= 40  # about 10% of 200
    assert set(_queue_ids(company)) == sampled  # the same calls every time
    company.review_sample_percent = 100
    company.save()
    assert len(_queue_ids(company)) == 200
    company.review_sample_percent = 0
    company.save()
    assert _queue_ids(company) == []


def test_one_reviewer_at_a_time(no_sample, make_member):
    call = _done(no_sample, 5, auto_fail=True)
    first = make_member(no_sample, Role.SUPERVISOR, "first").user
    second = make_member(no_sample, Role.SUPERVISOR, "second").user
    claimed = review_claim(company=no_sample, call_id=call.pk, by=first)
    assert (claimed.review_state, claimed.review_claimed_by_id) == (ReviewState.IN_REVIEW, first.pk)
    assert claimed.status == CallStatus.DONE  # the pipeline's status is not the review's
    with pytest.raises(ReviewNotPossible, match="first is reviewing this call"):
        review_claim(company=no_sample, call_id=call.pk, by=second)
    with pytest.raises(ReviewNotPossible):
        review_mark_reviewed(company=no_sample, call_id=call.pk, by=second)
    review_claim(company=no_sample, call_id=call.pk, by=first)  # claiming again is harmless
    done = review_mark_reviewed(company=no_sample, call_id=call.pk, by=first)
    assert (done.review_state, done.reviewed_by_id, done.review_claimed_by_id) == (ReviewState.REVIEWED, first.pk, None)
    assert done.reviewed_at is not None and done.status == CallStatus.DONE
    with pytest.raises(ReviewNotPossible, match="Already reviewed by first"):
        review_claim(company=no_sample, call_id=call.pk, by=second)
    assert _queue_ids(no_sample) == []


def test_a_claim_left_open_can_be_taken_and_a_claim_released(no_sample, make_member):
    call = _done(no_sample, 5, needs_review=True)
    first = make_member(no_sample, Role.SUPERVISOR, "first").user
    second = make_member(no_sample, Role.SUPERVISOR, "second").user
    review_claim(company=no_sample, call_id=call.pk, by=first)
    with pytest.raises(ReviewNotPossible):
        review_release(company=no_sample, call_id=call.pk, by=second)
    assert review_release(company=no_sample, call_id=call.pk, by=first).review_state == ReviewState.NOT_REVIEWED
    review_claim(company=no_sample, call_id=call.pk, by=first)
    Call.objects.filter(pk=call.pk).update(review_claimed_at=NOW - CLAIM_TTL - dt.timedelta(minutes=1))
    assert review_claim(company=no_sample, call_id=call.pk, by=second).review_claimed_by_id == second.pk


def test_next_claims_the_oldest_call_nobody_reviews(no_sample, make_member):
    oldest = _done(no_sample, 30, auto_fail=True)
    middle = _done(no_sample, 20, auto_fail=True)
    newest = _done(no_sample, 10, auto_fail=True)
    first = make_member(no_sample, Role.SUPERVISOR, "first").user
    second = make_member(no_sample, Role.SUPERVISOR, "second").user
    review_claim(company=no_sample, call_id=oldest.pk, by=second)
    assert review_claim_next(company=no_sample, by=first).pk == middle.pk
    assert review_claim_next(company=no_sample, by=first).pk == newest.pk  # Next moves on from the one held
    assert review_claim_next(company=no_sample, by=first) is None


def test_another_companys_call_cannot_be_claimed(no_sample, other_company, make_member):
    theirs = _done(other_company, 5, auto_fail=True)
    me = make_member(no_sample, Role.SUPERVISOR).user
    with pytest.raises(ReviewNotPossible):
        review_claim(company=no_sample, call_id=theirs.pk, by=me)
    assert Call.objects.get(pk=theirs.pk).review_state == ReviewState.NOT_REVIEWED


def test_coaching_notes_are_kept_for_the_operator(company, supervisor):
    call = _done(company, 5, duration_seconds=120)
    note = coaching_note_add(
        company=company, call_id=call.pk, author=supervisor.user, text=" Greet first. ", at_ms=parse_moment("1:05")
    )
    assert (note.at_ms, note.text, note.operator_id, note.author_id) == (
        65_000,
        "Greet first.",
        call.operator_id,
        supervisor.user_id,
    )
    with pytest.raises(CoachingNoteInvalid, match="outside the call"):
        coaching_note_add(company=company, call_id=call.pk, author=supervisor.user, text="x", at_ms=500_000)
    with pytest.raises(CoachingNoteInvalid, match="Write the note"):
        coaching_note_add(company=company, call_id=call.pk, author=supervisor.user, text="  ")
    assert parse_moment("") is None and parse_moment("75") == 75_000
    with pytest.raises(ValueError):
        parse_moment("1:75")


# --- the console -----------------------------------------------------------------------------------------------------


def test_a_supervisor_claims_reviews_and_takes_the_next_from_the_console(no_sample, supervisor_client, supervisor):
    first = _done(no_sample, 20, auto_fail=True)
    second = _done(no_sample, 10, needs_review=True)
    queue = supervisor_client.get(reverse("admin:calls_call_review_queue"))
    body = queue.content.decode()
    assert queue.status_code == 200 and body.index(f'data-call="{first.pk}"') < body.index(f'data-call="{second.pk}"')
    assert "auto-fail" in body and "needs review" in body and ">Claim<" in body

    response = supervisor_client.post(reverse("admin:calls_call_review_claim", args=[first.pk]))
    assert response.status_code == 302
    page = supervisor_client.get(reverse("admin:calls_call_change", args=[first.pk])).content.decode()
    assert f"in review by {supervisor.user.username}" in page and "Mark reviewed" in page

    supervisor_client.post(reverse("admin:calls_call_review_done", args=[first.pk]), {"next": "queue"})
    assert Call.objects.get(pk=first.pk).review_state == ReviewState.REVIEWED
    response = supervisor_client.post(reverse("admin:calls_call_review_next"))
    assert response.status_code == 302 and response["Location"] == reverse("admin:calls_call_change", args=[second.pk])
    assert Call.objects.get(pk=second.pk).review_claimed_by_id == supervisor.user_id


def test_the_analyst_reads_the_queue_but_cannot_claim(no_sample, client, make_member):
    call = _done(no_sample, 5, auto_fail=True)
    client.force_login(make_member(no_sample, Role.ANALYST).user)
    queue = client.get(reverse("admin:calls_call_review_queue"))
    assert queue.status_code == 200 and f'data-call="{call.pk}"' in queue.content.decode()
    assert ">Claim<" not in queue.content.decode() and ">Next<" not in queue.content.decode()
    page = client.get(reverse("admin:calls_call_change", args=[call.pk])).content.decode()
    assert 'data-testid="review-state"' in page and "Mark reviewed" not in page and "Add note" not in page
    for name in ("admin:calls_call_review_claim", "admin:calls_call_review_done", "admin:calls_call_note_add"):
        assert client.post(reverse(name, args=[call.pk]), {"text": "x"}).status_code == 403
    assert client.post(reverse("admin:calls_call_review_next")).status_code == 403
    assert client.post(reverse("admin:calls_call_review_queue"), {"sample_percent": "50"}).status_code == 403
    assert Call.objects.get(pk=call.pk).review_state == ReviewState.NOT_REVIEWED
    assert not CoachingNote.objects.exists()


def test_another_companys_call_is_not_found_from_the_console(supervisor_client, other_company):
    theirs = _done(other_company, 5, auto_fail=True)
    assert supervisor_client.post(reverse("admin:calls_call_review_claim", args=[theirs.pk])).status_code == 404
    assert (
        supervisor_client.post(reverse("admin:calls_call_note_add", args=[theirs.pk]), {"text": "x"}).status_code == 404
    )
    assert Call.objects.get(pk=theirs.pk).review_state == ReviewState.NOT_REVIEWED


def test_a_coaching_note_at_a_moment_is_listed_on_the_call_page(company, supervisor_client):
    call = _done(company, 5, duration_seconds=120)
    response = supervisor_client.post(
        reverse("admin:calls_call_note_add", args=[call.pk]), {"text": "Say the company's name", "at": "0:42"}
    )
    assert response.status_code == 302
    page = supervisor_client.get(reverse("admin:calls_call_change", args=[call.pk])).content.decode()
    assert "Say the company&#x27;s name" in page and 'data-start="42.00"' in page and "<time>0:42</time>" in page
    assert CoachingNote.objects.get().operator_id == call.operator_id


def test_an_owner_sets_the_sample(company, client, make_member):
    client.force_login(make_member(company, Role.OWNER).user)
    client.post(reverse("admin:calls_call_review_queue"), {"sample_percent": "12"})
    company.refresh_from_db()
    assert company.review_sample_percent == 12
    page = client.get(reverse("admin:calls_call_review_queue")).content.decode()
    assert 'data-testid="sample-percent">12%' in page


def test_the_console_home_links_the_review_queue(supervisor_client):
    page = supervisor_client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("admin:calls_call_review_queue")}"' in page and "Review queue" in page


# --- one time zone ---------------------------------------------------------------------------------------------------


def test_console_times_are_in_the_companys_zone_and_say_so(company, supervisor_client):
    company.time_zone = "Asia/Tokyo"  # UTC+9, no daylight saving
    company.review_sample_percent = 0
    company.save()
    started = dt.datetime(2026, 3, 2, 5, 5, tzinfo=dt.UTC)  # 14:05 in Tokyo
    CallFactory(company=company, status=CallStatus.DONE, auto_fail=True, started_at=started)
    queue = supervisor_client.get(reverse("admin:calls_call_review_queue")).content.decode()
    assert "2 Mar 2026, 14:05" in queue and "When (Asia/Tokyo)" in queue
    assert re.search(r"Dialix console · Asia/Tokyo", queue)  # the header names the zone on every page

    from integrations.models import PbxAccount, SyncKind, SyncRun, SyncStatus

    account = PbxAccount.objects.create(company=company, domain="alpha.onpbx.ru", api_key="k")
    SyncRun.objects.create(
        company=company, account=account, kind=SyncKind.SCHEDULED, status=SyncStatus.SUCCEEDED, started_at=started
    )
    runs = supervisor_client.get(reverse("admin:integrations_syncrun_changelist")).content.decode()
    assert "2:05 p.m." in runs and "5:05 a.m." not in runs  # Django's own list format, in the company's zone
