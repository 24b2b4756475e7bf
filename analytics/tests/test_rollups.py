"""The dashboard's rollups (issue 15): kept by the services through calls.signals, equal to a direct computation over
the calls after random analyses, re-analyses, corrections, speaker swaps and operator / time changes; repaired by the
Beat re-check; split by the company's local day; read with a fixed number of queries."""

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Sum

from analytics.models import DailyCallRollup, DailyItemRollup, DailyTopicRollup, HourlyCallRollup
from analytics.selectors import (
    DashboardFilters,
    calls_operator_aggregates,
    calls_period_aggregates,
    calls_series,
    checklist_item_compliance,
    filters_from_params,
    item_compliance,
    missed_heatmap,
    mix,
    operator_detail,
    operator_leaderboard,
    overview_kpis,
    top_topics,
)
from analytics.services import _Pending, rollups_rebuild, rollups_recheck, rollups_refresh
from calls.models import Call, CallStatus
from calls.services.analysis import call_analyse, calls_reanalyse, item_result_override
from calls.services.ingest import calls_upsert_from_pbx
from calls.services.speakers import call_swap_speakers
from calls.tests.factories import CallFactory, transcribed_call_from_fixture
from checklists.demo import demo_checklists
from checklists.models import Answer, ItemResult
from integrations.pbx.base import PbxCall
from operators.tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db

TASHKENT = ZoneInfo("Asia/Tashkent")
FIXTURES = ["en-01-sale", "en-02-complaint", "ru-03-callback", "ru-04-information", "en-05-refused-same-gender"]
ROLLUPS = (DailyCallRollup, HourlyCallRollup, DailyItemRollup, DailyTopicRollup)


def _snapshot(company) -> dict:
    """Every rollup row of the company, without ids (a set per table: order does not matter)."""
    return {
        model.__name__: sorted(
            (
                tuple(sorted((k, v) for k, v in row.items() if k != "id"))
                for row in model.objects.filter(company=company).values()
            ),
            key=repr,
        )
        for model in ROLLUPS
    }


def _rollup_flushes(callbacks) -> None:
    """Run the on-commit callbacks of the rollups only (the pipeline's next steps would queue real tasks)."""
    for callback in callbacks:
        if isinstance(getattr(callback, "__self__", None), _Pending):
            callback()


@pytest.fixture
def tashkent(company):
    company.name, company.time_zone = "Dialix Market", "Asia/Tashkent"
    company.save()
    demo_checklists(company)
    return company


def _pbx(call: Call, *, operator_ext: str | None, started_at: dt.datetime) -> PbxCall:
    return PbxCall(
        pbx_call_id=call.pbx_call_id,
        direction=call.direction,
        operator_ext=operator_ext,
        customer_phone_raw=call.customer_phone_raw or "998901234567",
        started_at=started_at,
        ended_at=started_at + dt.timedelta(seconds=call.duration_seconds),
        duration_seconds=call.duration_seconds,
        talk_seconds=call.talk_seconds,
        hangup_cause=call.hangup_cause,
    )


ALL_SELECTORS = [
    overview_kpis,
    calls_series,
    mix,
    top_topics,
    missed_heatmap,
    operator_leaderboard,
    item_compliance,
]


def _assert_rollups_equal_direct(company, filters: DashboardFilters) -> None:
    for selector in ALL_SELECTORS:
        assert selector(company=company, filters=filters) == selector(company=company, filters=filters, direct=True), (
            selector.__name__
        )
    for selector in (calls_period_aggregates, calls_operator_aggregates, checklist_item_compliance):
        assert selector(company=company, filters=filters) == selector(company=company, calls=_period(company, filters))
    for operator_id in Call.objects.filter(company=company).exclude(operator=None).values_list("operator", flat=True):
        got = operator_detail(company=company, filters=filters, operator_id=operator_id)
        assert got == operator_detail(company=company, filters=filters, operator_id=operator_id, direct=True)


def _period(company, filters):
    start, end = filters.bounds(company.time_zone)
    return Call.objects.filter(company=company, started_at__gte=start, started_at__lt=end)


def test_rollups_equal_a_direct_computation_after_random_changes(
    tashkent, supervisor, django_capture_on_commit_callbacks
):
    company, rng = tashkent, random.Random(15)
    operators = [OperatorFactory(company=company, name=f"Op {n}", pbx_extension=f"10{n}") for n in range(3)]
    base = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)  # 09:00 in Tashkent
    calls = []
    for n in range(30):
        started = base + dt.timedelta(hours=rng.randrange(0, 72), minutes=rng.randrange(60))
        operator = rng.choice([*operators, None])
        if n % 6 == 5:  # nobody answered
            calls.append(CallFactory(company=company, operator=operator, started_at=started, status=CallStatus.SKIPPED,
                                     talk_seconds=0, duration_seconds=20))  # fmt: skip
            continue
        calls.append(
            transcribed_call_from_fixture(
                company, FIXTURES[n % len(FIXTURES)], operator=operator, started_at=started,
                duration_seconds=rng.randrange(30, 400), talk_seconds=30,
            )
        )  # fmt: skip
    rollups_rebuild(company_id=company.pk)  # the starting state; from here on only the services write
    transcribed = [c for c in calls if c.status == CallStatus.TRANSCRIBED]
    for call in transcribed[:-3]:  # a few stay transcribed, not analysed
        with django_capture_on_commit_callbacks() as callbacks:
            call_analyse(call_id=call.pk)
        _rollup_flushes(callbacks)

    for _step in range(40):
        action = rng.choice(["reanalyse", "correct", "correct", "swap", "move", "analyse"])
        call = Call.objects.get(pk=rng.choice(transcribed).pk)
        with django_capture_on_commit_callbacks() as callbacks:
            if action == "reanalyse" and call.status == CallStatus.DONE:
                calls_reanalyse(calls=Call.objects.filter(pk=call.pk))
                if rng.random() < 0.7:  # the rest stay waiting: not analysed any more
                    call_analyse(call_id=call.pk)
            elif action == "analyse" and call.status == CallStatus.TRANSCRIBED:
                call_analyse(call_id=call.pk)
            elif action == "correct":
                results = list(ItemResult.objects.filter(call=call).select_related("version_item").order_by("pk"))
                result = rng.choice(results) if results else None
                if result is not None:
                    answers = [Answer.MET, Answer.NOT_MET] + ([Answer.NA] if result.version_item.allow_na else [])
                    item_result_override(
                        company=company, result_id=result.pk, answer=rng.choice(answers), reason="heard it",
                        by=supervisor.user,
                    )  # fmt: skip
            elif action == "swap" and call.status in (CallStatus.DONE, CallStatus.TRANSCRIBED):
                call_swap_speakers(company=company, call_id=call.pk, by="sup")
                call_analyse(call_id=call.pk)
            elif action == "move":  # the PBX record re-read: another operator, or another time (across midnight)
                operator = rng.choice([*operators, None])
                started = call.started_at + dt.timedelta(hours=rng.choice([-20, -5, 5, 20]))
                calls_upsert_from_pbx(
                    company=company,
                    calls=[_pbx(call, operator_ext=operator.pbx_extension if operator else None, started_at=started)],
                )
        _rollup_flushes(callbacks)

    fresh_from_services = _snapshot(company)
    rollups_rebuild(company_id=company.pk)
    assert _snapshot(company) == fresh_from_services  # the maintained rollups equal a full recomputation
    assert DailyCallRollup.objects.filter(company=company).count() > 5
    assert DailyItemRollup.objects.filter(company=company, not_met__gt=0).exists()
    assert DailyTopicRollup.objects.filter(company=company).exists()

    whole = DashboardFilters(start=dt.date(2026, 11, 1), end=dt.date(2026, 12, 10), period="custom")
    _assert_rollups_equal_direct(company, whole)
    one_day = DashboardFilters(start=dt.date(2026, 11, 21), end=dt.date(2026, 11, 21), period="custom")
    _assert_rollups_equal_direct(company, one_day)
    narrow = DashboardFilters(
        start=dt.date(2026, 11, 1), end=dt.date(2026, 12, 10), operator_ids=(operators[0].pk,), language="en",
        direction="inbound", outcome="sale", period="custom",
    )  # fmt: skip
    for selector in ALL_SELECTORS:
        assert selector(company=company, filters=narrow) == selector(company=company, filters=narrow, direct=True)
    total = overview_kpis(company=company, filters=whole)["current"]
    assert total["calls"] == 30 and total["analysed"] >= 10 and total["scored"] >= 10


def test_the_beat_recheck_repairs_a_tampered_rollup(tashkent):
    company = tashkent
    today = dt.datetime.now(TASHKENT).replace(hour=10, minute=0, second=0, microsecond=0)
    CallFactory.create_batch(3, company=company, started_at=today.astimezone(dt.UTC))
    old = CallFactory(company=company, started_at=(today - dt.timedelta(days=10)).astimezone(dt.UTC))
    rollups_rebuild(company_id=company.pk)
    good = _snapshot(company)
    DailyCallRollup.objects.filter(company=company, day=today.date()).update(calls=999, answered=0)
    DailyCallRollup.objects.filter(company=company, day=old.started_at.astimezone(TASHKENT).date()).update(calls=7)
    assert _snapshot(company) != good

    assert rollups_recheck(days=3) >= 1

    repaired = DailyCallRollup.objects.filter(company=company, day=today.date(), grain="company").aggregate(
        calls=Sum("calls"), answered=Sum("answered")
    )
    assert repaired == {"calls": 3, "answered": 3}
    assert _snapshot(company) != good  # outside the re-checked days nothing is touched (the command rebuilds all)
    old_day = DailyCallRollup.objects.filter(
        company=company, day=old.started_at.astimezone(TASHKENT).date(), grain="company"
    )
    assert old_day.aggregate(calls=Sum("calls"))["calls"] == 7
    rollups_rebuild(company_id=company.pk)
    assert _snapshot(company) == good


def test_a_call_at_23_30_in_tashkent_lands_on_that_local_day(tashkent):
    company = tashkent
    late = dt.datetime(2026, 11, 20, 23, 30, tzinfo=TASHKENT)  # 18:30 UTC
    early = dt.datetime(2026, 11, 21, 0, 30, tzinfo=TASHKENT)  # 19:30 UTC, still the 20th in UTC
    CallFactory(company=company, started_at=late.astimezone(dt.UTC), status=CallStatus.SKIPPED)
    CallFactory(company=company, started_at=early.astimezone(dt.UTC))
    rollups_refresh(company_id=company.pk)
    rows = dict(DailyCallRollup.objects.filter(company=company, grain="company").values_list("day", "calls"))
    assert rows == {dt.date(2026, 11, 20): 1, dt.date(2026, 11, 21): 1}
    hours = set(HourlyCallRollup.objects.filter(company=company).values_list("day", "hour"))
    assert hours == {(dt.date(2026, 11, 20), 23), (dt.date(2026, 11, 21), 0)}
    heat = missed_heatmap(company=company, filters=DashboardFilters(dt.date(2026, 11, 20), dt.date(2026, 11, 21)))
    assert heat["cells"][4][23] == 1 and heat["total"] == 1  # 2026-11-20 is a Friday
    series = calls_series(company=company, filters=DashboardFilters(dt.date(2026, 11, 21), dt.date(2026, 11, 21)))
    assert series["interval"] == "hour" and series["points"][0]["calls"] == 1
    assert series["points"][0]["start"] == "2026-11-21T00:00:00+05:00"


def test_a_signal_inside_a_transaction_refreshes_once_after_the_commit(tashkent, django_capture_on_commit_callbacks):
    company = tashkent
    call = transcribed_call_from_fixture(company, "en-01-sale", started_at=dt.datetime(2026, 11, 20, 5, tzinfo=dt.UTC))
    with django_capture_on_commit_callbacks() as callbacks:
        call_analyse(call_id=call.pk)
        assert not DailyCallRollup.objects.filter(company=company).exists()  # nothing before the commit
    flushes = [c for c in callbacks if isinstance(getattr(c, "__self__", None), _Pending)]
    assert len(flushes) == 1  # the transition and the score sent the signal; one refresh
    flushes[0]()
    row = DailyCallRollup.objects.get(company=company, grain="full")
    assert (row.day, row.calls, row.analysed, row.scored) == (dt.date(2026, 11, 20), 1, 1, 1)
    assert DailyItemRollup.objects.filter(company=company).exists()


def test_filters_from_params_read_the_periods_in_the_company_zone(tashkent, other_company):
    company = tashkent
    today = dt.date(2026, 12, 2)
    f = filters_from_params(company=company, params={"period": "7d"}, today=today)
    assert (f.start, f.end, f.days) == (dt.date(2026, 11, 26), today, 7)
    assert f.previous().start == dt.date(2026, 11, 19) and f.previous().end == dt.date(2026, 11, 25)
    month = filters_from_params(company=company, params={"period": "month"}, today=today)
    assert (month.start, month.end) == (dt.date(2026, 12, 1), today)
    custom = filters_from_params(
        company=company, params={"period": "custom", "date_from": "2026-11-01", "date_to": "2026-11-30"}, today=today
    )
    assert custom.days == 30 and custom.bounds(company.time_zone)[0].isoformat() == "2026-11-01T00:00:00+05:00"
    theirs = OperatorFactory(company=other_company)
    from analytics.selectors import FilterError

    with pytest.raises(FilterError) as refused:
        filters_from_params(company=company, params={"operator": str(theirs.pk), "period": "year"})
    assert set(refused.value.errors) == {"operator", "period"}


def _grow(company, operators, n, start):
    for i in range(n):
        day = start + dt.timedelta(days=i % 5)
        call = transcribed_call_from_fixture(
            company, FIXTURES[i % len(FIXTURES)], operator=operators[i % len(operators)], started_at=day
        )
        call_analyse(call_id=call.pk)
    CallFactory(company=company, status=CallStatus.SKIPPED, started_at=start, operator=operators[0])
    rollups_rebuild(company_id=company.pk)


QUERIES = {  # the selector: (queries reading the rollups, queries reading the calls)
    overview_kpis: (1, 1),
    calls_series: (1, 1),
    mix: (1, 1),
    top_topics: (1, 1),
    missed_heatmap: (1, 1),
    operator_leaderboard: (2, 2),
    item_compliance: (1, 1),
}


@pytest.mark.parametrize("direct", [False, True])
def test_selector_query_counts_do_not_grow_with_calls(tashkent, django_assert_num_queries, direct):
    company = tashkent
    operators = [OperatorFactory(company=company, name=f"Op {n}") for n in range(2)]
    filters = DashboardFilters(start=dt.date(2026, 11, 18), end=dt.date(2026, 11, 25), period="custom")
    start = dt.datetime(2026, 11, 20, 5, tzinfo=dt.UTC)
    _grow(company, operators, 3, start)
    small = {}
    for selector, counts in QUERIES.items():
        with django_assert_num_queries(counts[direct]):
            small[selector] = selector(company=company, filters=filters, direct=direct)
    with django_assert_num_queries(5):  # the operator, the board (totals, sparklines), the trend, the items
        operator_detail(company=company, filters=filters, operator_id=operators[0].pk, direct=direct)
    _grow(company, [*operators, OperatorFactory(company=company, name="Op 3")], 8, start)
    for selector, counts in QUERIES.items():
        with django_assert_num_queries(counts[direct]):
            large = selector(company=company, filters=filters, direct=direct)
        assert large != small[selector], selector.__name__
    with django_assert_num_queries(5):
        operator_detail(company=company, filters=filters, operator_id=operators[0].pk, direct=direct)
