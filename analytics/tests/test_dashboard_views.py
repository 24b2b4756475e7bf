"""The analysts' dashboard pages (issue 15): they render with data, their numbers equal the selectors' (the same the
aggregates API serves), every drill-down link lists exactly the calls a figure counts in the console, queries per page
are constant, and another company's operator answers 404."""

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from analytics.selectors import (
    filters_from_params,
    item_compliance,
    operator_leaderboard,
    overview_kpis,
)
from analytics.tests.dashboard_factories import seed_dashboard
from calls.models import CoachingNote
from companies.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(company):
    return seed_dashboard(company, days=20, per_day=6)


@pytest.fixture
def analyst_client(client, company, make_member):
    client.force_login(make_member(company, Role.ANALYST).user)
    return client


def _console_count(client, url: str) -> int:
    """The console calls list's own count for a link (its result-count line)."""
    response = client.get(url)
    assert response.status_code == 200, url
    assert "?e=1" not in response.get("Location", "")
    text = response.content.decode()
    match = re.search(r'data-testid="result-count">(\d+) calls?<', text)
    if match is None and "0 calls" in text:
        return 0
    assert match, f"no count on {url}"
    return int(match.group(1))


def _link(text: str, testid: str) -> str:
    match = re.search(r'<a class="dash-tile" href="([^"]+)" data-testid="' + re.escape(testid) + '"', text)
    assert match, testid
    return match.group(1).replace("&amp;", "&")


def test_overview_shows_the_selectors_figures_with_the_change(analyst_client, company, seeded):
    response = analyst_client.get("/dashboard/?period=30d")
    assert response.status_code == 200
    text = response.content.decode()
    kpis = overview_kpis(company=company, filters=filters_from_params(company=company, params={"period": "30d"}))
    assert kpis["current"]["calls"] == seeded.calls
    assert f'data-testid="kpi-calls-value">{seeded.calls}<' in text
    assert f'data-testid="kpi-answered-value">{seeded.analysed}<' in text
    assert f'data-testid="kpi-mean_score-value">{kpis["current"]["mean_score"]:.1f}<' in text
    # The previous 30 days had no calls: the change is unknown, the previous value is shown as 0.
    assert "was 0" in text
    for chart in ("chart-series", "chart-sentiment", "chart-outcome", "heatmap"):
        assert f'data-testid="{chart}"' in text
    assert reverse("analytics:api-aggregates-series") in text  # the chart's data source, in the page's json_script


def test_overview_tiles_drill_down_to_the_same_calls_in_the_console(analyst_client, company, seeded):
    text = analyst_client.get("/dashboard/?period=30d").content.decode()
    kpis = overview_kpis(company=company, filters=filters_from_params(company=company, params={"period": "30d"}))
    for key, figure in [
        ("calls", kpis["current"]["calls"]),
        ("answered", kpis["current"]["answered"]),
        ("analysed", kpis["current"]["analysed"]),
        ("needs_review", kpis["current"]["needs_review"]),
    ]:
        assert _console_count(analyst_client, _link(text, f"kpi-{key}")) == figure, key
    auto_fail_link = _link(text, "kpi-auto_fail_rate")
    expected = round(kpis["current"]["auto_fail_rate"] * kpis["current"]["scored"])
    assert _console_count(analyst_client, auto_fail_link) == expected


def test_filters_narrow_the_overview_and_its_links(analyst_client, company, seeded):
    operator = seeded.operators[0]
    url = f"/dashboard/?period=7d&operator={operator.pk}&direction=inbound&language=ru"
    text = analyst_client.get(url).content.decode()
    filters = filters_from_params(
        company=company,
        params={"period": "7d", "operator": [str(operator.pk)], "direction": "inbound", "language": "ru"},
    )
    calls = overview_kpis(company=company, filters=filters)["current"]["calls"]
    assert calls < seeded.calls
    assert f'data-testid="kpi-calls-value">{calls}<' in text
    link = _link(text, "kpi-calls")
    query = parse_qs(urlsplit(link).query)
    assert query["operator"] == [str(operator.pk)] and query["direction__exact"] == ["inbound"]
    assert _console_count(analyst_client, link) == calls
    # The filter bar shows the choice made.
    assert re.search(rf'<option value="{operator.pk}" selected>', text)


def test_a_bad_filter_in_the_link_shows_the_default_view_and_says_why(analyst_client, seeded):
    response = analyst_client.get("/dashboard/?period=custom&date_from=2026-13-01")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'data-testid="filter-errors"' in text
    assert "YYYY-MM-DD" in text


def test_operators_leaderboard_sorted_with_links(analyst_client, company, seeded):
    filters = filters_from_params(company=company, params={"period": "30d"})
    board = operator_leaderboard(company=company, filters=filters, sort="-mean_score")
    text = analyst_client.get("/dashboard/operators/?period=30d&sort=-mean_score").content.decode()
    names = re.findall(r'data-testid="operator-link">([^<]+)<', text)
    assert names == [row["operator_name"] for row in board["rows"] if row["operator_id"] is not None]
    first = board["rows"][0]
    calls_links = re.findall(r'<a href="([^"]+)" data-testid="operator-calls">(\d+)</a>', text)
    assert int(calls_links[0][1]) == first["calls"]
    assert _console_count(analyst_client, calls_links[0][0].replace("&amp;", "&")) == first["calls"]
    assert text.count("data-dash-sparkline=") == len(board["rows"])


def test_operator_page_trend_worst_items_recent_calls_and_notes(analyst_client, company, seeded):
    operator = seeded.operators[1]
    call = operator.calls.order_by("-started_at").first()
    CoachingNote.objects.create(company=company, call=call, operator=operator, text="Say the company name first.")
    response = analyst_client.get(f"/dashboard/operators/{operator.pk}/?period=30d")
    assert response.status_code == 200
    text = response.content.decode()
    assert operator.name in text
    assert "Say the company name first." in text
    assert 'data-testid="chart-operator-trend"' in text
    assert reverse("admin:calls_call_change", args=[call.pk]) in text


def test_another_companys_operator_is_404(analyst_client, other_company, seeded):
    other = seed_dashboard(other_company, days=2, per_day=2, seed=3)
    assert analyst_client.get(f"/dashboard/operators/{other.operators[0].pk}/").status_code == 404


def test_items_page_worst_first_with_missed_examples_and_counts(analyst_client, company, seeded):
    filters = filters_from_params(company=company, params={"period": "30d"})
    items = item_compliance(company=company, filters=filters)["items"]
    text = analyst_client.get("/dashboard/items/?period=30d").content.decode()
    shown = re.findall(r'data-testid="item-row" data-item="(\d+)"', text)
    assert shown == [str(i["item_id"]) for i in items]
    worst = items[0]
    missed = re.search(
        rf'data-item="{worst["item_id"]}".*?<a href="([^"]+)" data-testid="item-not-met">(\d+)</a>', text, re.S
    )
    assert int(missed.group(2)) == worst["not_met"]
    assert _console_count(analyst_client, missed.group(1).replace("&amp;", "&")) == worst["not_met"]
    critical = next(i for i in items if i["is_critical"] and i["not_met"])
    assert re.search(rf'data-item="{critical["item_id"]}".*?data-testid="item-auto-fail"', text, re.S)


def test_conversion_without_crm_says_how_to_connect_one(analyst_client, seeded):
    text = analyst_client.get("/dashboard/conversion/").content.decode()
    assert 'data-testid="empty-no-crm"' in text


def test_empty_company_says_connect_the_pbx(analyst_client):
    text = analyst_client.get("/dashboard/").content.decode()
    assert 'data-testid="empty-no-calls"' in text
    assert reverse("admin:integrations_pbxaccount_add") in text


def test_items_without_checklist_say_create_one(analyst_client, company):
    from calls.tests.factories import CallFactory

    CallFactory(company=company)
    text = analyst_client.get("/dashboard/items/").content.decode()
    assert 'data-testid="empty-no-checklist"' in text


def test_printable_summary_has_the_overview_figures(analyst_client, company, seeded):
    text = analyst_client.get("/dashboard/print/?period=30d").content.decode()
    assert 'data-testid="print-kpis"' in text
    assert f"<td>{seeded.calls}</td>" in text
    assert "<script>" not in text  # only the static print.js: the CSP allows no inline code


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/operators/", "/dashboard/items/", "/dashboard/print/"])
def test_pages_have_no_inline_code_or_styles(analyst_client, seeded, path):
    text = analyst_client.get(path).content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", text), "inline <script>"
    assert " style=" not in text and "<style" not in text


# Queries per page, whatever the number of calls, days and operators: session, user, membership with company (3), the
# filter bar's operators and checklists (2), the set-up EXISTS (1), then the page's own figures from the rollups.
PAGE_QUERIES = [
    ("/dashboard/?period=30d", 8),  # + the KPIs of both periods (1 grouped query) + top purposes and topics
    ("/dashboard/operators/?period=30d", 8),  # + the leaderboard (1) and its sparklines (1)
    ("/dashboard/items/?period=30d", 8),  # + item compliance with trends + the missed examples (1 window query)
    ("/dashboard/print/?period=30d", 11),  # + KPIs, topics, leaderboard with sparklines, items
    ("/dashboard/conversion/?period=30d", 6),  # no CRM: nothing more to read
]


@pytest.mark.parametrize(("path", "queries"), PAGE_QUERIES)
def test_queries_per_page_are_constant(analyst_client, company, path, queries, django_assert_num_queries):
    seed_dashboard(company, days=3, per_day=3, seed=1)
    with django_assert_num_queries(queries):
        assert analyst_client.get(path).status_code == 200
    seed_dashboard(company, days=25, per_day=10, seed=2)  # more calls, days and operators' rows: the same count
    with django_assert_num_queries(queries):
        assert analyst_client.get(path).status_code == 200


def test_operator_page_queries_are_constant(analyst_client, company, django_assert_num_queries):
    seeded = seed_dashboard(company, days=3, per_day=3, seed=1)
    path = f"/dashboard/operators/{seeded.operators[0].pk}/?period=30d"
    # 6 shared + the operator's name, its leaderboard row, trend, worst items, recent calls, coaching notes
    with django_assert_num_queries(13):
        assert analyst_client.get(path).status_code == 200
    seed_dashboard(company, days=25, per_day=10, seed=2)
    with django_assert_num_queries(13):
        assert analyst_client.get(path).status_code == 200


def test_conversion_with_a_crm_shows_the_won_rate_by_band_and_its_export(analyst_client, company, seeded):
    from analytics.selectors_crm import crm_conversion
    from analytics.selectors_dashboard import dashboard_calls
    from calls.models import Call, CallStatus
    from integrations.models import CrmConnection

    CrmConnection.objects.create(company=company, provider="bitrix24")
    scored = list(Call.objects.filter(company=company, status=CallStatus.DONE, score__isnull=False).order_by("id"))
    for index, call in enumerate(scored[:40]):  # 40 deals, one call each; a deal is won when its call scored high
        call.crm_deal_id = f"D{index}"
        call.crm_deal_semantic = "won" if (call.score or 0) >= 70 else "lost"
    Call.objects.bulk_update(scored[:40], ["crm_deal_id", "crm_deal_semantic"])
    text = analyst_client.get("/dashboard/conversion/?period=30d").content.decode()
    assert 'data-testid="empty-no-crm"' not in text
    filters = filters_from_params(company=company, params={"period": "30d"})
    figures = crm_conversion(company=company, calls=dashboard_calls(company=company, filters=filters))
    assert figures["deals"] == 40
    bands = re.findall(r"<tr><td>([\d-]+)</td><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>", text)
    assert [(b, int(d), int(w)) for b, d, w in bands] == [(b["band"], b["deals"], b["won"]) for b in figures["bands"]]
    assert reverse("analytics:api-aggregates-conversion") in text  # the chart's source, with the same calls
    export = analyst_client.get("/dashboard/export/?period=30d&table=conversion_bands&file=csv")
    header, *rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert [(r[0], int(r[1]), int(r[2])) for r in rows] == [(b, int(d), int(w)) for b, d, w in bands]


def test_chart_segments_drill_down_to_the_same_counts(analyst_client, company, seeded):
    """The chart segments' links (built by dashboard.js from the page's console parameters): a heat-map cell, a
    sentiment, an outcome, a purpose, a topic, a day."""
    from analytics.filters import console_url
    from analytics.selectors import calls_series, missed_heatmap, mix, top_topics

    filters = filters_from_params(company=company, params={"period": "30d"})
    heat = missed_heatmap(company=company, filters=filters)
    weekday, hour = next((d, h) for d in range(7) for h in range(24) if heat["cells"][d][h])
    url = console_url(filters, status__exact="skipped", weekhour=f"{weekday}-{hour}")
    assert _console_count(analyst_client, url) == heat["cells"][weekday][hour]
    figures = mix(company=company, filters=filters)
    negative, sales = figures["sentiment"]["negative"], figures["outcome"]["sale"]
    assert _console_count(analyst_client, console_url(filters, sentiment="negative")) == negative
    assert _console_count(analyst_client, console_url(filters, outcome="sale")) == sales
    topics = top_topics(company=company, filters=filters)
    purpose, topic = topics["purposes"][0], topics["topics"][0]
    assert _console_count(analyst_client, console_url(filters, purpose=purpose["value"])) == purpose["calls"]
    assert _console_count(analyst_client, console_url(filters, topic=topic["value"])) == topic["calls"]
    day = next(p for p in calls_series(company=company, filters=filters)["points"] if p["calls"])
    url = console_url(filters, started_from=day["start"], started_to=day["start"])
    assert _console_count(analyst_client, url) == day["calls"]


def test_several_operators_drill_down_together(analyst_client, company, seeded):
    from analytics.filters import console_url

    ids = [str(seeded.operators[0].pk), str(seeded.operators[2].pk)]
    filters = filters_from_params(company=company, params={"period": "30d", "operator": ids})
    calls = overview_kpis(company=company, filters=filters)["current"]["calls"]
    assert 0 < calls < seeded.calls
    assert _console_count(analyst_client, console_url(filters)) == calls
