"""The aggregates API (issue 13): per day / week, per operator and per checklist item, over filtered calls."""

import datetime as dt

import pytest

from analytics.services import rollups_refresh
from calls.models import Call, CallStatus, Direction
from calls.tests.factories import CallFactory
from calls.tests.test_api import analysed_call
from checklists.models import CallAnalysis, ItemResult
from operators.tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _roll(*companies) -> None:
    # The figures read the rollups, which the services keep; these tests write calls with factories and .update()
    # (around the services), so they recompute the rollups from the calls before asking.
    for company in companies:
        rollups_refresh(company_id=company.pk)


def _analysed(company, started_at: str, *, sentiment="negative", outcome="not_resolved", **fields):
    call = analysed_call(company, started_at=_at(started_at), **fields)
    CallAnalysis.objects.filter(call=call).update(customer_sentiment=sentiment, outcome=outcome)
    # the call keeps its analysis' sentiment and outcome (written with the move to DONE), for the figures
    Call.objects.filter(pk=call.pk).update(customer_sentiment=sentiment, outcome=outcome)
    return call


def test_daily_aggregates_group_by_the_company_day_and_leave_unscored_calls_out_of_the_score(token_client, company):
    company.time_zone = "Asia/Tashkent"  # UTC+5: 20:00 UTC is already the next day there
    company.save(update_fields=["time_zone"])
    first = _analysed(company, "2026-11-20T10:00:00+00:00", score=80.0, sentiment="positive", outcome="sale",
                      talk_ratio=0.5, silence_share=0.1)  # fmt: skip
    checklist = first.scorecards.get().version.checklist
    _analysed(company, "2026-11-20T12:00:00+00:00", checklist=checklist, score=40.0, auto_fail=True,
              talk_ratio=0.7, silence_share=0.3)  # fmt: skip
    # A low-confidence transcript: analysed, but its score is None, so it counts as a call, not in the score.
    _analysed(company, "2026-11-20T13:00:00+00:00", checklist=checklist, score=None, auto_fail=True)
    CallFactory(company=company, status=CallStatus.SKIPPED, started_at=_at("2026-11-20T14:00:00+00:00"))
    _analysed(company, "2026-11-20T20:00:00+00:00", checklist=checklist, score=90.0)

    _roll(company)
    response = token_client.get("/api/v1/aggregates/daily/")

    assert response.status_code == 200, response.content
    first_day, second_day = response.json()
    assert first_day["period_start"] == "2026-11-20" and second_day["period_start"] == "2026-11-21"
    assert (first_day["calls"], first_day["answered"], first_day["scored"]) == (4, 3, 2)
    assert first_day["mean_score"] == 60.0 and first_day["auto_fail_rate"] == 0.5
    assert first_day["talk_ratio"] == 0.6 and first_day["silence_share"] == 0.2
    assert first_day["sentiment"] == {"negative": 2, "neutral": 0, "positive": 1}
    assert first_day["outcome"]["sale"] == 1 and first_day["outcome"]["not_resolved"] == 2
    assert (second_day["calls"], second_day["mean_score"], second_day["auto_fail_rate"]) == (1, 90.0, 0.0)
    assert second_day["talk_ratio"] is None


def test_weekly_aggregates_start_on_monday(token_client, company):
    for started in ("2026-11-16T09:00:00+05:00", "2026-11-18T09:00:00+05:00", "2026-11-23T09:00:00+05:00"):
        CallFactory(company=company, started_at=_at(started))
    _roll(company)
    body = token_client.get("/api/v1/aggregates/daily/", {"interval": "week"}).json()
    assert [(row["period_start"], row["calls"]) for row in body] == [("2026-11-16", 2), ("2026-11-23", 1)]
    assert body[0]["mean_score"] is None and body[0]["auto_fail_rate"] is None


def test_aggregates_answer_an_unknown_interval_with_the_error_body(token_client):
    response = token_client.get("/api/v1/aggregates/daily/", {"interval": "year"})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["interval"]


def test_aggregates_take_the_calls_list_filters(token_client, company):
    ana, bob = OperatorFactory(company=company, name="Ana"), OperatorFactory(company=company, name="Bob")
    CallFactory(company=company, operator=ana, started_at=_at("2026-11-20T09:00:00+05:00"))
    CallFactory(company=company, operator=ana, started_at=_at("2026-11-21T09:00:00+05:00"),
                direction=Direction.OUTBOUND)  # fmt: skip
    CallFactory(company=company, operator=bob, started_at=_at("2026-11-20T10:00:00+05:00"))
    _roll(company)
    daily = token_client.get(
        "/api/v1/aggregates/daily/", {"operator": ana.pk, "started_after": "2026-11-20T00:00:00+05:00"}
    ).json()
    assert [(row["period_start"], row["calls"]) for row in daily] == [("2026-11-20", 1), ("2026-11-21", 1)]
    inbound = token_client.get("/api/v1/aggregates/operators/", {"direction": "inbound"}).json()
    assert [(row["operator_name"], row["calls"]) for row in inbound] == [("Ana", 1), ("Bob", 1)]
    late = token_client.get("/api/v1/aggregates/operators/", {"started_after": "2026-11-21T00:00:00+05:00"}).json()
    assert [(row["operator_id"], row["calls"]) for row in late] == [(ana.pk, 1)]


def test_operator_aggregates_by_name_with_unmatched_calls_last(token_client, company):
    zed, ana = OperatorFactory(company=company, name="Zed"), OperatorFactory(company=company, name="Ana")
    call = _analysed(company, "2026-11-20T09:00:00+05:00", operator=zed, score=70.0)
    _analysed(company, "2026-11-20T10:00:00+05:00", operator=zed, score=50.0, auto_fail=True,
              checklist=call.scorecards.get().version.checklist)  # fmt: skip
    CallFactory(company=company, operator=ana, status=CallStatus.SKIPPED)
    CallFactory(company=company, operator=None)
    _roll(company)
    body = token_client.get("/api/v1/aggregates/operators/").json()
    assert [(row["operator_name"], row["calls"], row["answered"]) for row in body] == [
        ("Ana", 1, 0),
        ("Zed", 2, 2),
        (None, 1, 1),
    ]
    assert (body[1]["mean_score"], body[1]["auto_fail_rate"], body[1]["sentiment"]["negative"]) == (60.0, 0.5, 2)


def test_item_compliance_counts_the_answers_that_count(token_client, company):
    calls = [_analysed(company, "2026-11-20T09:00:00+05:00")]
    checklist = calls[0].scorecards.get().version.checklist
    calls += [_analysed(company, f"2026-11-20T1{n}:00:00+05:00", checklist=checklist) for n in range(3)]
    greets = ItemResult.objects.filter(call__in=calls, version_item__criterion="Greets the customer")
    ItemResult.objects.filter(pk=greets.filter(call=calls[1]).get().pk).update(answer="not_met")
    ItemResult.objects.filter(pk=greets.filter(call=calls[2]).get().pk).update(answer="na")
    _roll(company)
    body = token_client.get("/api/v1/aggregates/items/").json()
    assert [(r["criterion"], r["met"], r["not_met"], r["na"], r["compliance"]) for r in body] == [
        ("Greets the customer", 2, 1, 1, 0.6667),
        ("Offers help", 4, 0, 0, 1.0),
    ]
    assert body[0]["checklist_name"] == checklist.name and body[0]["version"] == 1 and body[0]["section"] == "Opening"
    only_first = token_client.get("/api/v1/aggregates/items/", {"started_before": "2026-11-20T10:00:00+05:00"}).json()
    assert [(r["met"], r["not_met"]) for r in only_first] == [(1, 0), (1, 0)]


def test_aggregates_never_count_another_companys_calls(token_client, company, other_company):
    _analysed(company, "2026-11-20T09:00:00+05:00")
    theirs = _analysed(other_company, "2026-11-20T09:00:00+05:00")
    CallFactory.create_batch(2, company=other_company, started_at=_at("2026-11-20T09:00:00+05:00"))
    _roll(company, other_company)
    daily = token_client.get("/api/v1/aggregates/daily/").json()
    assert [row["calls"] for row in daily] == [1]
    operators = token_client.get("/api/v1/aggregates/operators/").json()
    assert theirs.operator_id not in [row["operator_id"] for row in operators]
    items = token_client.get("/api/v1/aggregates/items/").json()
    assert sum(row["met"] for row in items) == 2  # our one call's two items, none of theirs
    # Their operator's id answers like a missing one.
    refused = token_client.get("/api/v1/aggregates/daily/", {"operator": theirs.operator_id})
    assert refused.status_code == 400 and "operator" in refused.json()["error"]["details"]


@pytest.mark.parametrize("url", ["/api/v1/aggregates/daily/", "/api/v1/aggregates/operators/",
                                 "/api/v1/aggregates/items/"])  # fmt: skip
def test_aggregates_query_count_does_not_grow_with_calls(token_client, company, url, django_assert_num_queries):
    first = _analysed(company, "2026-11-20T09:00:00+05:00")
    checklist = first.scorecards.get().version.checklist
    for n in range(3):
        _analysed(
            company, f"2026-11-2{n + 1}T09:00:00+05:00", checklist=checklist, operator=OperatorFactory(company=company)
        )
    _roll(company)
    with django_assert_num_queries(2):  # token with company, one grouped query
        small = token_client.get(url).json()
    for n in range(4):
        _analysed(
            company, f"2026-11-2{n + 5}T09:00:00+05:00", checklist=checklist, operator=OperatorFactory(company=company)
        )
    _roll(company)
    with django_assert_num_queries(2):
        large = token_client.get(url).json()
    assert len(large) >= len(small) >= 2


# --- the dashboard's figures (issue 15) ----------------------------------------------------------------------------

DASHBOARD_URLS = [
    "/api/v1/aggregates/overview/",
    "/api/v1/aggregates/series/",
    "/api/v1/aggregates/mix/",
    "/api/v1/aggregates/topics/",
    "/api/v1/aggregates/heatmap/",
    "/api/v1/aggregates/leaderboard/",
    "/api/v1/aggregates/items-trend/",
]
NOV = {"period": "custom", "date_from": "2026-11-16", "date_to": "2026-11-22"}


@pytest.fixture
def analyst_client(client, company, make_member):
    from companies.models import Role

    client.force_login(make_member(company, Role.ANALYST).user)
    return client


def _dashboard_data(company):
    company.time_zone = "Asia/Tashkent"
    company.save(update_fields=["time_zone"])
    ana = OperatorFactory(company=company, name="Ana")
    first = _analysed(company, "2026-11-20T09:00:00+05:00", operator=ana, score=80.0, outcome="sale",
                      sentiment="positive", talk_ratio=0.5)  # fmt: skip
    checklist = first.scorecards.get().version.checklist
    _analysed(company, "2026-11-21T23:30:00+05:00", operator=ana, checklist=checklist, score=40.0, auto_fail=True)
    CallFactory(company=company, status=CallStatus.SKIPPED, started_at=_at("2026-11-18T10:15:00+05:00"), operator=None)
    CallFactory(company=company, started_at=_at("2026-11-10T10:00:00+05:00"), operator=ana)  # the previous period
    _roll(company)
    return ana, checklist


def test_the_dashboard_figures_answer_the_analysts_session(analyst_client, company):
    ana, checklist = _dashboard_data(company)
    overview = analyst_client.get("/api/v1/aggregates/overview/", NOV)
    assert overview.status_code == 200, overview.content
    body = overview.json()
    assert body["period"] == {"start": "2026-11-16", "end": "2026-11-22"}
    assert body["previous_period"] == {"start": "2026-11-09", "end": "2026-11-15"}
    assert (body["current"]["calls"], body["current"]["answered"], body["current"]["scored"]) == (3, 2, 2)
    assert (body["current"]["mean_score"], body["current"]["auto_fail_rate"]) == (60.0, 0.5)
    assert body["previous"]["calls"] == 1 and body["change"]["calls"] == 2.0

    series = analyst_client.get("/api/v1/aggregates/series/", NOV).json()
    assert series["interval"] == "day" and len(series["points"]) == 7
    assert [p["calls"] for p in series["points"]] == [0, 0, 1, 0, 1, 1, 0]
    hourly = analyst_client.get("/api/v1/aggregates/series/", {**NOV, "date_from": "2026-11-21"}).json()
    assert hourly["interval"] == "day"
    one_day = analyst_client.get(
        "/api/v1/aggregates/series/", {"period": "custom", "date_from": "2026-11-21", "date_to": "2026-11-21"}
    ).json()
    assert one_day["interval"] == "hour" and one_day["points"][23]["calls"] == 1  # 23:30 local

    mixed = analyst_client.get("/api/v1/aggregates/mix/", NOV).json()
    assert mixed["outcome"]["sale"] == 1 and mixed["sentiment"]["positive"] == 1
    topics = analyst_client.get("/api/v1/aggregates/topics/", {**NOV, "limit": 5}).json()
    assert topics["topics"] == [{"value": "refund", "calls": 2}]
    heat = analyst_client.get("/api/v1/aggregates/heatmap/", NOV).json()
    assert heat["cells"][2][10] == 1 and heat["total"] == 1  # Wednesday 10:00 local

    board = analyst_client.get("/api/v1/aggregates/leaderboard/", {**NOV, "sort": "-mean_score"}).json()
    assert board["interval"] == "day" and len(board["starts"]) == 7
    assert [(r["operator_name"], r["calls"]) for r in board["rows"]] == [("Ana", 2), (None, 1)]
    assert board["rows"][0]["sparkline"][4:6] == [80.0, 40.0] and board["rows"][0]["talk_ratio"] == 0.5

    detail = analyst_client.get(f"/api/v1/aggregates/operators/{ana.pk}/", NOV).json()
    assert detail["operator"]["calls"] == 2 and len(detail["trend"]) == 7
    assert detail["worst_items"][0]["compliance"] == 1.0

    items = analyst_client.get("/api/v1/aggregates/items-trend/", {**NOV, "checklist": checklist.pk}).json()
    assert items["interval"] == "day" and {i["met"] for i in items["items"]} == {2}
    assert items["items"][0]["trend"][4:6] == [1.0, 1.0]
    sales_only = analyst_client.get("/api/v1/aggregates/overview/", {**NOV, "outcome": "sale"}).json()
    assert sales_only["current"]["calls"] == 1


def test_the_dashboard_figures_refuse_bad_filters_in_the_error_body(analyst_client, company, other_company):
    theirs = OperatorFactory(company=other_company)
    for params, field in [
        ({"period": "year"}, "period"),
        ({"period": "custom", "date_from": "2026-11-20"}, "date_to"),
        ({"period": "custom", "date_from": "2026-11-20", "date_to": "2026-11-01"}, "date_to"),
        ({"operator": theirs.pk}, "operator"),
        ({"operator": "x"}, "operator"),
        ({"direction": "sideways"}, "direction"),
        ({"checklist": 999999}, "checklist"),
    ]:
        response = analyst_client.get("/api/v1/aggregates/overview/", params)
        assert response.status_code == 400, params
        assert field in response.json()["error"]["details"], params
    assert analyst_client.get("/api/v1/aggregates/leaderboard/", {"sort": "nope"}).status_code == 400
    assert analyst_client.get(f"/api/v1/aggregates/operators/{theirs.pk}/").status_code == 404


def test_the_dashboard_figures_need_a_login(client):
    assert client.get("/api/v1/aggregates/overview/").status_code in (401, 403)


@pytest.mark.parametrize("url", DASHBOARD_URLS)
def test_the_dashboard_figures_query_count_does_not_grow(analyst_client, company, url, django_assert_num_queries):
    _dashboard_data(company)
    # session, user + membership (company_for), one rollup query (the leaderboard: totals and sparklines)
    with django_assert_num_queries(5 if "leaderboard" in url else 4) as small:
        analyst_client.get(url, NOV)
    for n in range(4):
        _analysed(company, f"2026-11-1{n + 6}T09:00:00+05:00", operator=OperatorFactory(company=company))
    _roll(company)
    with django_assert_num_queries(len(small.captured_queries)):
        assert analyst_client.get(url, NOV).status_code == 200
