"""The call review page (issue 12): swapping speakers, unreliable transcripts left unscored, corrections in place,
the analyst's read-only view, times in the company's zone, and the page's query count."""

import datetime as dt
from dataclasses import dataclass

import pytest
from django.urls import reverse

from calls.metrics import compute_metrics
from calls.models import Call, CallEvent, CallStatus, Transcript, Utterance
from calls.services.analysis import call_analyse, item_result_override
from calls.services.speakers import SwapNotPossible, call_swap_speakers
from calls.tests.factories import CallFactory, transcribed_call_from_fixture
from checklists.demo import demo_checklists
from checklists.models import Answer, ItemResult, ResultSource, Scorecard
from companies.models import Role

pytestmark = pytest.mark.django_db

EXACT_METRICS = [  # swapped pairwise or unchanged by a swap
    "operator_talk_seconds",
    "customer_talk_seconds",
    "talk_ratio",
    "silence_share",
    "longest_silence_seconds",
    "overtalk_seconds",
    "interruptions",
    "first_operator_word_seconds",
    "longest_customer_monologue_seconds",
]


@dataclass
class Word:
    start_ms: int
    end_ms: int
    speaker: str


@pytest.fixture
def checklists(company):
    company.name = "Dialix Market"  # the operators of the fixture calls say it
    company.save(update_fields=["name"])
    return demo_checklists(company)


def _words(call: Call, *, swapped: bool = False) -> list[Word]:
    """The words an engine would have given for the call's turns: each turn's words spread evenly over its span."""
    words = []
    for turn in Utterance.objects.filter(call=call).order_by("start_ms", "id"):
        count = len(turn.text.split())
        step = (turn.end_ms - turn.start_ms) / count
        speaker = {"operator": "customer", "customer": "operator"}[turn.speaker] if swapped else turn.speaker
        words += [
            Word(round(turn.start_ms + i * step), round(turn.start_ms + (i + 1) * step), speaker) for i in range(count)
        ]
    return words


def _measured_call(company, fixture_id: str = "en-02-complaint") -> Call:
    """A transcribed call whose metrics are what transcription computes from its words."""
    call = transcribed_call_from_fixture(company, fixture_id)
    duration_ms = Transcript.objects.get(call=call).duration_ms
    Call.objects.filter(pk=call.pk).update(**compute_metrics(_words(call), duration_ms).as_fields())
    return Call.objects.get(pk=call.pk)


def _metrics(call: Call) -> dict:
    return {name: getattr(call, name) for name in [*EXACT_METRICS, "operator_words_per_minute"]}


def _speakers(call: Call) -> list[tuple[int, str]]:
    return list(Utterance.objects.filter(call=call).order_by("start_ms", "id").values_list("start_ms", "speaker"))


def test_swap_exchanges_every_turn_and_the_metrics_follow(company, supervisor):
    call = _measured_call(company)
    before = _speakers(call)
    duration_ms = Transcript.objects.get(call=call).duration_ms
    expected = compute_metrics(_words(call, swapped=True), duration_ms)  # as if the engine had labelled it right

    swapped = call_swap_speakers(company=company, call_id=call.pk, by=supervisor.user.username)

    flip = {"operator": "customer", "customer": "operator"}
    assert _speakers(swapped) == [(start, flip[speaker]) for start, speaker in before]
    assert (swapped.operator_talk_seconds, swapped.customer_talk_seconds) == (
        call.customer_talk_seconds,
        call.operator_talk_seconds,
    )
    for name in EXACT_METRICS:
        assert getattr(swapped, name) == pytest.approx(getattr(expected, name), abs=0.011), name
    # The stored talk seconds are rounded to 10 ms, so words per minute is exact to that rounding.
    assert swapped.operator_words_per_minute == pytest.approx(expected.operator_words_per_minute, rel=0.01)


def test_swapping_twice_gives_the_call_back(company, supervisor):
    call = _measured_call(company)
    before_turns, before_metrics = _speakers(call), _metrics(call)
    call_swap_speakers(company=company, call_id=call.pk, by="sam")
    again = call_swap_speakers(company=company, call_id=call.pk, by="sam")
    assert _speakers(again) == before_turns
    after = _metrics(again)
    assert {k: after[k] for k in EXACT_METRICS} == {k: before_metrics[k] for k in EXACT_METRICS}
    assert after["operator_words_per_minute"] == pytest.approx(before_metrics["operator_words_per_minute"], rel=0.01)


def test_swap_reanalyses_keeps_corrections_and_is_in_the_history(
    company, checklists, supervisor, django_capture_on_commit_callbacks
):
    call = call_analyse(call_id=_measured_call(company).pk)
    result = ItemResult.objects.filter(call=call, answer=Answer.NOT_MET).first()
    item_result_override(company=company, result_id=result.pk, answer="met", reason="heard it", by=supervisor.user)

    with django_capture_on_commit_callbacks(execute=True):  # the queued re-analysis runs (eager tasks)
        call_swap_speakers(company=company, call_id=call.pk, by=supervisor.user.username)

    call.refresh_from_db()
    assert call.status == CallStatus.DONE
    again = ItemResult.objects.get(call=call, version_item=result.version_item)
    assert (again.answer, again.source, again.override_reason) == ("met", ResultSource.HUMAN, "heard it")
    event = CallEvent.objects.filter(call=call, to_status=CallStatus.TRANSCRIBED).latest("created_at")
    assert event.from_status == CallStatus.DONE
    assert event.reason == f"speakers swapped by {supervisor.user.username}"
    assert event.actor == f"user:{supervisor.user.username}"


def test_swap_refuses_a_call_without_turns_and_another_companys_call(company, other_company):
    empty = CallFactory(company=company, status=CallStatus.DONE)
    with pytest.raises(SwapNotPossible):
        call_swap_speakers(company=company, call_id=empty.pk, by="sam")
    theirs = _measured_call(other_company)
    with pytest.raises(Call.DoesNotExist):
        call_swap_speakers(company=company, call_id=theirs.pk, by="sam")
    assert Utterance.objects.filter(call=theirs, speaker="operator").exists()


def test_an_unreliable_transcript_is_not_scored_and_keeps_its_answers(company, checklists, supervisor_client):
    call = transcribed_call_from_fixture(company, "uz-02-complaint")
    Transcript.objects.filter(call=call).update(low_confidence=True, engine="whisper-local")  # Uzbek read offline
    call = call_analyse(call_id=call.pk)
    assert call.score is None and call.needs_review and not call.auto_fail
    scores = list(Scorecard.objects.filter(call=call).values_list("score", flat=True))
    assert scores and set(scores) == {None}  # every checklist: not scored, rather than 0
    assert ItemResult.objects.filter(call=call).exists()  # kept for reference

    result = ItemResult.objects.filter(call=call).first()
    item_result_override(company=company, result_id=result.pk, answer="met", reason="checked by ear", by=None)
    assert Call.objects.get(pk=call.pk).score is None  # a correction does not make the transcript reliable

    page = supervisor_client.get(reverse("admin:calls_call_change", args=[call.pk])).content.decode()
    assert "Not scored — transcript unreliable." in page
    assert reverse("admin:integrations_enginesettings_changelist") in page  # the fix, one click away
    assert 'data-testid="score">not scored<' in page
    assert "score <span" not in page  # no scorecard shows a number


def _scored(company) -> Call:
    return call_analyse(call_id=transcribed_call_from_fixture(company, "en-02-complaint").pk)


def test_supervisor_corrects_an_item_in_place_and_gets_the_new_score(company, checklists, supervisor_client):
    call = _scored(company)
    wrong = ItemResult.objects.filter(call=call, answer=Answer.NOT_MET, version_item__is_critical=False).first()
    before = Call.objects.get(pk=call.pk).score
    url = reverse("admin:calls_call_correct_item", args=[call.pk, wrong.pk])
    response = supervisor_client.post(
        url, {"answer": "met", "reason": "said it"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["result"] == {"id": wrong.pk, "answer": "met", "label": "Met"}
    assert body["call"]["score"] == Call.objects.get(pk=call.pk).score > before

    plain = supervisor_client.post(url, {"answer": "not_met", "reason": "listened again"})
    assert plain.status_code == 302 and plain["Location"].endswith(f"/change/#item-{wrong.pk}")
    assert ItemResult.objects.get(pk=wrong.pk).answer == "not_met"

    refused = supervisor_client.post(url, {"answer": "met", "reason": " "}, headers={"accept": "application/json"})
    assert refused.status_code == 400 and "Say why" in refused.json()["error"]["message"]


def test_analyst_sees_no_correct_controls_and_a_crafted_post_is_refused(company, checklists, client, make_member):
    call = _scored(company)
    client.force_login(make_member(company, Role.ANALYST).user)
    page = client.get(reverse("admin:calls_call_change", args=[call.pk])).content.decode()
    assert "dlx-correct-open" not in page and "Swap operator and customer" not in page
    assert 'data-testid="score"' in page  # the analyst reads the review page
    result = ItemResult.objects.filter(call=call).first()
    correct = reverse("admin:calls_call_correct_item", args=[call.pk, result.pk])
    assert client.post(correct, {"answer": "na", "reason": "x"}).status_code == 403
    assert client.post(reverse("admin:calls_call_swap_speakers", args=[call.pk])).status_code == 403
    assert ItemResult.objects.get(pk=result.pk).answer == result.answer
    assert not CallEvent.objects.filter(call=call, reason__startswith="speakers swapped").exists()


def test_review_endpoints_answer_404_for_another_companys_call(company, other_company, checklists, supervisor_client):
    demo_checklists(other_company)
    theirs = _scored(other_company)
    result = ItemResult.objects.filter(call=theirs).first()
    correct = reverse("admin:calls_call_correct_item", args=[theirs.pk, result.pk])
    assert supervisor_client.post(correct, {"answer": "met", "reason": "x"}).status_code == 404
    assert supervisor_client.post(reverse("admin:calls_call_swap_speakers", args=[theirs.pk])).status_code == 404
    mine = _scored(company)  # another company's item through one's own call
    assert (
        supervisor_client.post(
            reverse("admin:calls_call_correct_item", args=[mine.pk, result.pk]), {"answer": "met", "reason": "x"}
        ).status_code
        == 404
    )


def test_supervisor_sees_read_only_facts_and_a_crafted_change_post_changes_nothing(company, supervisor_client):
    call = CallFactory(company=company, status=CallStatus.DONE)
    url = reverse("admin:calls_call_change", args=[call.pk])
    page = supervisor_client.get(url).content.decode()
    assert 'id="call_form"' not in page and 'name="_save"' not in page  # no raw editable form
    assert call.pbx_call_id in page  # the facts, read-only
    supervisor_client.post(url, {"direction": "outbound", "customer_phone": "+998000000000", "_save": "Save"})
    assert Call.objects.values_list("direction", "customer_phone").get(pk=call.pk) == (
        call.direction,
        call.customer_phone,
    )


def test_superuser_still_edits_the_raw_fields(company, admin_client):
    call = CallFactory(company=company, status=CallStatus.DONE)
    page = admin_client.get(reverse("admin:calls_call_change", args=[call.pk])).content.decode()
    assert 'id="call_form"' in page and "Raw fields (Dialix staff)" in page


def test_the_call_page_shows_times_in_the_companys_zone_and_names_it(company, supervisor_client):
    company.time_zone = "Asia/Tashkent"  # UTC+5
    company.save(update_fields=["time_zone"])
    call = CallFactory(company=company, started_at=dt.datetime(2025, 3, 4, 9, 30, tzinfo=dt.UTC), duration_seconds=75)
    page = supervisor_client.get(reverse("admin:calls_call_change", args=[call.pk])).content.decode()
    assert "4 Mar 2025, 14:30 <small>(Asia/Tashkent)</small>" in page
    assert f"call {call.pbx_call_id} · 2025-03-04 14:30 (Asia/Tashkent)" in page  # the title, not UTC
    assert "09:30" not in page
    assert 'data-testid="duration">1:15<' in page
    assert "When (Asia/Tashkent)" in page  # the history's times


def test_an_item_results_old_page_sends_a_supervisor_to_the_call(company, checklists, supervisor_client):
    call = _scored(company)
    result = ItemResult.objects.filter(call=call).first()
    response = supervisor_client.get(reverse("admin:checklists_itemresult_change", args=[result.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:calls_call_change", args=[call.pk]) + f"#item-{result.pk}"


def test_swap_action_on_the_calls_list(company, supervisor_client, django_capture_on_commit_callbacks):
    call = _measured_call(company)
    before = _speakers(call)
    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor_client.post(
            reverse("admin:calls_call_changelist"),
            {"action": "swap_speakers", "_selected_action": [call.pk], "index": 0},
            follow=True,
        )
    assert "Speakers swapped on 1 call(s)" in response.content.decode()
    assert _speakers(call) != before


def test_the_call_page_reads_a_fixed_number_of_queries(
    company, checklists, supervisor_client, django_assert_num_queries
):
    call = _scored(company)
    assert Utterance.objects.filter(call=call).count() >= 3 and ItemResult.objects.filter(call=call).count() >= 3
    url = reverse("admin:calls_call_change", args=[call.pk])
    supervisor_client.get(url)  # the session's first request
    # 1 session, 2 user, 3 membership with company (company_for and permissions), 4 the call with operator,
    # company, transcript and analysis joined, 5 utterances, 6 scorecards with version and checklist,
    # 7 their item results with items and who corrected them, 8 history, 9 coaching notes with their authors;
    # 10-11 the savepoint Django's change view opens (SAVEPOINT / RELEASE). Independent of the number of turns, items,
    # events and notes.
    with django_assert_num_queries(11):
        response = supervisor_client.get(url)
    assert response.status_code == 200
    assert response.content.decode().count('class="dlx-turn ') == Utterance.objects.filter(call=call).count()
