"""The console's calls list (issue 12, item 3): columns, filters, search by number / operator / words said."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.db import connection
from django.utils import timezone

from calls.admin_filters import CappedCountPaginator
from calls.admin_list import TRANSCRIPT_PER_PAGE
from calls.models import Call, CallStatus, Direction, Transcript, Utterance
from calls.selectors import _said
from calls.tests.factories import CallFactory
from checklists.models import ChecklistVersion, Scorecard
from checklists.tests.factories import ChecklistFactory
from operators.tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/calls/call/"
TASHKENT = dt.timezone(dt.timedelta(hours=5))


def _rows(page: str) -> list[str]:
    """The text of each row of the list (tags removed)."""
    body = page.split('id="result_list"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in body.split("</tr>")[:-1]]


def _listed(client, **params) -> set[int]:
    page = client.get(LIST, params).content.decode()
    return {int(pk) for pk in re.findall(r'href="/admin/calls/call/(\d+)/change/[^"]*"', page)}


def _transcribe(call: Call, turns: list[tuple[str, int, str]], *, low_confidence: bool = False) -> None:
    transcript = Transcript.objects.create(
        company=call.company,
        call=call,
        engine="test",
        language=call.language or "uz",
        speaker_method="channels",
        low_confidence=low_confidence,
    )
    Utterance.objects.bulk_create(
        Utterance(
            company=call.company,
            call=call,
            transcript=transcript,
            speaker=speaker,
            start_ms=start_ms,
            end_ms=start_ms + 2000,
            text=text,
        )
        for speaker, start_ms, text in turns
    )


def test_calls_list_query_count_is_constant_in_the_number_of_calls(
    supervisor_client, company, django_assert_num_queries
):
    # session, user, membership+company, the sweeper's banner, ModelBackend's user and group permissions (2), the
    # operator filter's and the checklist filter's choices (2), the capped count, one page with operator, company and
    # transcript joined. No date hierarchy, no DISTINCT: the other filters list choices without a query.
    for call in CallFactory.create_batch(3, company=company, score=72.0):
        _transcribe(call, [("operator", 0, "Assalomu alaykum")])
    with django_assert_num_queries(10):
        assert len(_rows(supervisor_client.get(LIST).content.decode())) == 3
    for call in CallFactory.create_batch(4, company=company, score=40.0, auto_fail=True):
        _transcribe(call, [("operator", 0, "Assalomu alaykum")])
    with django_assert_num_queries(10):
        assert len(_rows(supervisor_client.get(LIST).content.decode())) == 7
    # a search for words said adds the operator-name lookup and one query for the page's turns, and is not counted:
    # the page's own query (one row more than it shows) replaces the capped count
    with django_assert_num_queries(11) as captured:
        page = supervisor_client.get(LIST, {"q": "alaykum", "score_band": "red"}).content.decode()
    assert page.count('data-testid="transcript-hit"') == 4
    counted = [q["sql"] for q in captured.captured_queries if "SELECT COUNT(*)" in q["sql"].upper()]
    assert not counted, counted  # (the sweeper's banner counts its events, not the calls)
    for call in CallFactory.create_batch(30, company=company, score=41.0):
        _transcribe(call, [("operator", 0, "Assalomu alaykum")])
    with django_assert_num_queries(11):
        page = supervisor_client.get(LIST, {"q": "alaykum", "score_band": "red"}).content.decode()
    assert page.count('data-testid="transcript-hit"') == TRANSCRIPT_PER_PAGE


def test_transcript_search_pages_with_next_and_previous_instead_of_a_count(supervisor_client, company):
    said = CallFactory.create_batch(TRANSCRIPT_PER_PAGE + 3, company=company)
    for call in said:
        _transcribe(call, [("customer", 0, "pulimni qaytaring")])
    CallFactory(company=company)  # said nothing of the kind
    first = supervisor_client.get(LIST, {"q": "qaytaring"}).content.decode()
    assert len(_rows(first)) == TRANSCRIPT_PER_PAGE
    assert "More calls said these words: refine the words to narrow them down" in first
    assert "more results: refine the words" in first  # beside the search box, instead of a count
    assert 'data-testid="page-previous"' not in first
    [next_url] = re.findall(r'<a href="([^"]+)" data-testid="page-next">', first)
    second = supervisor_client.get(LIST + next_url.replace("&amp;", "&")).content.decode()
    assert len(_rows(second)) == 3
    assert '<span data-testid="result-count">28 calls</span>' in second  # the last page knows the exact count
    assert 'data-testid="page-next"' not in second and 'data-testid="page-previous"' in second
    assert _listed(supervisor_client, q="qaytaring") | _listed(supervisor_client, q="qaytaring", p="2") == {
        call.pk for call in said
    }


def test_a_transcript_search_of_one_page_says_how_many_calls_it_found(supervisor_client, company):
    for call in CallFactory.create_batch(2, company=company):
        _transcribe(call, [("customer", 0, "pulimni qaytaring")])
    page = supervisor_client.get(LIST, {"q": "qaytaring"}).content.decode()
    assert '<span data-testid="result-count">2 calls</span>' in page
    assert "refine the words" not in page and 'data-testid="page-next"' not in page


def test_calls_list_shows_score_bands_not_scored_and_flags(supervisor_client, company):
    scores = {"red": 42.0, "orange": 55.0, "yellow": 78.0, "green": 91.0}
    for score in scores.values():
        CallFactory(company=company, score=score)
    unreliable = CallFactory(company=company, score=None, language="uz")
    _transcribe(unreliable, [("operator", 0, "salom")], low_confidence=True)
    CallFactory(company=company, score=30.0, auto_fail=True, needs_review=True)
    page = supervisor_client.get(LIST).content.decode()
    for band, score in scores.items():
        assert f'<span class="dlx-score dlx-band-{band}" data-testid="score">{round(score)}</span>' in page
    assert "not scored</span>" in page
    assert 'class="dlx-flag dlx-flag-lowconf" title="Low-confidence transcript">low conf.' in page
    row = next(r for r in _rows(page) if " 30 " in f" {r} ")
    assert "auto-fail" in row and "review" in row


def test_calls_list_shows_time_in_the_company_zone_and_length_as_mss(supervisor_client, company):
    company.time_zone = "Asia/Tokyo"
    company.save(update_fields=["time_zone"])
    CallFactory(company=company, started_at=dt.datetime(2025, 11, 20, 20, 30, tzinfo=dt.UTC), duration_seconds=125)
    this_year = CallFactory(company=company, started_at=timezone.now().replace(month=1, day=2, hour=3, minute=4))
    page = supervisor_client.get(LIST).content.decode()
    [recent, old] = _rows(page)
    assert old.startswith("21 Nov 2025, 05:30") and " 2:05 " in old  # the year only for another year's calls
    local = timezone.localtime(this_year.started_at, zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert recent.startswith(f"{local.day} Jan, {local:%H:%M}")
    assert 'title="Friday, 21 November 2025, 05:30:00 (Asia/Tokyo)"' in page
    assert "Times in Asia/Tokyo" in page


@pytest.mark.parametrize("typed", ["+998 90 123 45 67", "90 123 45 67", "901234567", "+998-90-123-4567"])
def test_calls_list_finds_a_customer_number_in_any_written_form(supervisor_client, company, typed):
    wanted = CallFactory(company=company, customer_phone="+998901234567")
    CallFactory(company=company, customer_phone="+998901234568")
    assert _listed(supervisor_client, q=typed) == {wanted.pk}


def test_calls_list_finds_an_operator_by_name(supervisor_client, company):
    aziza = OperatorFactory(company=company, name="Aziza Karimova")
    wanted = CallFactory(company=company, operator=aziza)
    CallFactory(company=company)
    assert _listed(supervisor_client, q="karimova") == {wanted.pk}


def test_calls_list_finds_words_said_and_shows_the_turn(supervisor_client, company):
    wanted = CallFactory(company=company, language="ru")
    _transcribe(
        wanted,
        [
            ("operator", 1000, "Здравствуйте, магазин Dialix"),
            ("customer", 83_500, "Доставка опоздала на два дня, верните деньги"),
        ],
    )
    other = CallFactory(company=company)
    _transcribe(other, [("customer", 0, "Спасибо, всё хорошо")])
    page = supervisor_client.get(LIST, {"q": "верните деньги"}).content.decode()
    assert _listed(supervisor_client, q="верните деньги") == {wanted.pk}
    [hit] = re.findall(r'data-testid="transcript-hit">(.*?)</div>', page)
    text = " ".join(re.sub(r"<[^>]+>", " ", hit).split())
    assert text == "1:23 Customer Доставка опоздала на два дня, верните деньги"


def test_calls_list_search_never_shows_another_company(supervisor_client, company, other_company):
    theirs = CallFactory(company=other_company, customer_phone="+998901234567", language="uz")
    _transcribe(theirs, [("customer", 0, "pulimni qaytaring")])
    OperatorFactory(company=other_company, name="Bobur")
    mine = CallFactory(company=company)
    assert _listed(supervisor_client) == {mine.pk}
    assert _listed(supervisor_client, q="90 123 45 67") == set()
    assert _listed(supervisor_client, q="qaytaring") == set()
    assert _listed(supervisor_client, q="Bobur") == set()
    assert _listed(supervisor_client, operator=str(theirs.operator_id)) == set()
    page = supervisor_client.get(LIST).content.decode()
    assert "Bobur" not in page and other_company.name not in page


def test_calls_list_filters_by_date_range_in_the_company_zone(supervisor_client, company):
    # 20 Nov 20:30 UTC is 21 Nov 01:30 in Tashkent: a supervisor there looks for it on the 21st.
    late = CallFactory(company=company, started_at=dt.datetime(2026, 11, 20, 20, 30, tzinfo=dt.UTC))
    early = CallFactory(company=company, started_at=dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC))
    CallFactory(company=company, started_at=dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC))
    assert _listed(supervisor_client, started_from="2026-11-21", started_to="2026-11-21") == {late.pk}
    assert _listed(supervisor_client, started_from="2026-11-20", started_to="2026-11-20") == {early.pk}
    assert _listed(supervisor_client, started_to="2026-11-21") == {late.pk, early.pk}
    page = supervisor_client.get(LIST, {"started_from": "2026-11-21", "q": "x y"}).content.decode()
    assert '<input type="date" name="started_from" value="2026-11-21">' in page
    assert '<input type="hidden" name="q" value="x y">' in page  # the search is kept when the dates change


def test_calls_list_filters_by_operator_score_checklist_language_direction_and_state(supervisor_client, company):
    aziza, bobur = OperatorFactory(company=company, name="Aziza"), OperatorFactory(company=company, name="Bobur")
    red = CallFactory(company=company, operator=aziza, score=20.0, language="uz", direction=Direction.OUTBOUND)
    green = CallFactory(company=company, operator=bobur, score=99.0, language="ru", status=CallStatus.DONE)
    unscored = CallFactory(company=company, operator=bobur, score=None, language="ru", status=CallStatus.FAILED)
    checklist = ChecklistFactory(company=company, name="Sales")
    version = ChecklistVersion.objects.create(company=company, checklist=checklist, number=1)
    second = ChecklistVersion.objects.create(company=company, checklist=checklist, number=2)
    Scorecard.objects.create(company=company, call=green, version=version, score=99.0)
    Scorecard.objects.create(company=company, call=green, version=second, score=98.0)
    assert _listed(supervisor_client, operator=str(bobur.pk)) == {green.pk, unscored.pk}
    assert _listed(supervisor_client, score_band="red") == {red.pk}
    assert _listed(supervisor_client, score_band="green") == {green.pk}
    assert _listed(supervisor_client, score_band="none") == {unscored.pk}
    assert _listed(supervisor_client, checklist=str(checklist.pk)) == {green.pk}  # once, with two scorecards
    assert _listed(supervisor_client, language="uz") == {red.pk}
    assert _listed(supervisor_client, direction__exact="outbound") == {red.pk}
    assert _listed(supervisor_client, status__exact="failed") == {unscored.pk}
    assert _listed(supervisor_client, operator=str(bobur.pk), score_band="green") == {green.pk}


def test_calls_list_says_more_than_the_cap_instead_of_counting_every_call(supervisor_client, company, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "COUNT_CAP", 3)
    CallFactory.create_batch(5, company=company)
    page = supervisor_client.get(LIST).content.decode()
    assert "More than 3 calls: filter to narrow them down" in page
    assert len(_rows(page)) == 5
    searched = supervisor_client.get(LIST, {"q": "Operator"}).content.decode()  # every call's operator is "Operator n"
    assert "more than 3 results" in searched and "More than 3 calls" in searched


def test_calls_list_counts_the_calls_it_shows(supervisor_client, company):
    CallFactory.create_batch(2, company=company)
    assert '<span data-testid="result-count">2 calls</span>' in supervisor_client.get(LIST).content.decode()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the full-text index is PostgreSQL's")
def test_transcript_search_can_use_the_full_text_index(company):
    # The index is built from the search's own expression (migration 0006); if they drifted apart, the search would
    # read all 10M utterances. Without sequential scans, PostgreSQL must answer the search from that index.
    call = CallFactory(company=company)
    _transcribe(call, [("operator", 0, "salom")])
    utterances = Utterance.objects.filter(_said("salom"))
    sql, params = utterances.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "calls_utterance_text_fts" in plan, plan
    assert list(utterances.values_list("text", flat=True)) == ["salom"]


def test_calls_list_shows_and_filters_the_review_state(supervisor_client, company):
    reviewed = CallFactory(company=company, review_state="reviewed", score=80.0)
    waiting = CallFactory(company=company, score=81.0)
    page = supervisor_client.get(LIST).content.decode()
    row = next(r for r in _rows(page) if " 80 " in f" {r} ")
    assert "reviewed" in row
    assert _listed(supervisor_client, review_state__exact="reviewed") == {reviewed.pk}
    assert _listed(supervisor_client, review_state__exact="not_reviewed") == {waiting.pk}
