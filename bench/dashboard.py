"""Dashboard bench (issue 15): the analysts' pages and the figures their charts load, on 1,000,000 analysed calls of
one company over 12 months (with their analyses, scorecards and about 10,000,000 item results), read from the rollups,
beside the same figures computed by a naive aggregate over the calls in the same run.

    DJANGO_SETTINGS_MODULE=dialix.settings.test .venv/bin/python bench/dashboard.py [--scale 0.2] [--reload]

Loads one company into a PostgreSQL database of its own (`dialix_dashboard_bench`, created if missing and kept
between runs; --reload loads it again) with INSERT ... SELECT over generate_series (server-side, no row passes through
Python), builds the rollups with the product's own `rollups_rebuild`, then prints the warm server time p50 / p95 of
each figure (the selector) and of each dashboard request (the Django test client with an analyst's session:
middleware, templates / serialisation included) for a 30-day and a 12-month period, against the goal p95 ≤ 300 ms,
and the naive figure's time as a ratio. It also times what a call's analysis adds (one rollup refresh of its day and
operator) and the aggregates API's item compliance (issue 13: 865 ms p95 before the rollups). Nothing fails on a slow
machine. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from the repository root
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dialix.settings.test")
os.environ.setdefault("DIALIX_API_TOKEN_RATE", "1000000/minute")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

DB_NAME = "dialix_dashboard_bench"
settings.DATABASES["default"]["NAME"] = DB_NAME  # before any connection: never the tests' or the demo's database
django.setup()

import psycopg  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, models, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from analytics import selectors as figures  # noqa: E402
from analytics.models import DailyCallRollup, DailyItemRollup, DailyTopicRollup, HourlyCallRollup  # noqa: E402
from analytics.selectors import DashboardFilters  # noqa: E402
from analytics.services import rollups_rebuild, rollups_refresh  # noqa: E402
from calls.models import Call  # noqa: E402
from checklists.models import (  # noqa: E402
    CallAnalysis,
    Checklist,
    ChecklistItem,
    ChecklistSection,
    ChecklistVersion,
    ItemResult,
    Scorecard,
)
from checklists.services import checklist_publish  # noqa: E402
from companies.models import Company, Role  # noqa: E402
from companies.services import member_create  # noqa: E402
from operators.models import Operator  # noqa: E402

CALLS = 1_000_000
OPERATORS = 50
ITEMS = 12  # ~0.85M scored calls × 12 items ≈ 10M item results
DAYS = 365
RUNS = 20
NAIVE_RUNS = 3
GOAL_MS = 300
ZONE = "Asia/Tashkent"
TODAY = dt.date(2026, 11, 30)  # the last local day with calls
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)  # 05:00 on 2026-12-01 in Tashkent
PURPOSES = ["Order status", "Delivery date", "Refund", "Complaint", "New order", "Price question", "Warranty",
            "Address change", "Payment problem", "Cancel order", "Product advice", "Other"]  # fmt: skip
TOPICS = ["delivery", "refund", "payment", "price", "warranty", "courier", "discount", "installment", "return",
          "quality", "size", "stock", "card", "cash", "app", "website", "promo", "address", "call back",
          "manager"]  # fmt: skip


def ensure_database() -> None:
    params = {k: v for k, v in connection.get_connection_params().items() if k not in {"dbname", "database"}}
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
            print(f"created database {DB_NAME}")
    call_command("migrate", verbosity=0)


def _insert_select(model: type[models.Model], given: dict[str, str], source: str, params: list) -> int:
    """INSERT INTO the model's table the columns given (SQL expressions over `source`), every other column at its
    field default (as bench/api.py does). Returns the rows inserted."""
    rest = [f for f in model._meta.concrete_fields if f.column not in given and not f.primary_key]
    columns = [*(f.column for f in rest), *given]
    values: list = []
    for field in rest:
        if field.has_default():
            values.append(field.get_db_prep_save(field.get_default(), connection))
        elif isinstance(field, models.DateTimeField):
            values.append(NOW)
        else:
            values.append(None)
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join([*['%s'] * len(rest), *given.values()])} {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *params])
        return cursor.rowcount


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND i.indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))",
        [table],
    )
    return cursor.fetchall()


def _pick(array: list[str], expr: str) -> str:
    quoted = ",".join("'" + value.replace("'", "''") + "'" for value in array)
    return f"(ARRAY[{quoted}])[1 + mod(({expr})::int, {len(array)})]"


@transaction.atomic
def load(scale: float) -> Company:
    calls = int(CALLS * scale)
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE calls_call CASCADE")  # a cascade through the ORM would take hours on 10M rows
        for model in (DailyCallRollup, HourlyCallRollup, DailyItemRollup, DailyTopicRollup):
            cursor.execute(f"TRUNCATE {model._meta.db_table}")
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="bench-analyst").delete()
    Company.objects.filter(slug="bench").delete()
    company = Company.objects.create(name="Bench Market", slug="bench", languages=["uz", "ru", "en"], time_zone=ZONE)
    operators = Operator.objects.bulk_create(
        Operator(company=company, name=f"Operator {n:02d}", pbx_extension=str(200 + n)) for n in range(OPERATORS)
    )
    member_create(company=company, username="bench-analyst", role=Role.ANALYST, password="pw-123456")
    checklist = Checklist.objects.create(company=company, name="Sales script")
    section = ChecklistSection.objects.create(company=company, checklist=checklist, title="Call")
    ChecklistItem.objects.bulk_create(
        ChecklistItem(
            company=company,
            checklist=checklist,
            section=section,
            criterion=f"Item {n + 1}",
            order=n,
            allow_na=True,
            is_critical=n == 0,
        )  # fmt: skip
        for n in range(ITEMS)
    )
    version = checklist_publish(checklist=checklist) or ChecklistVersion.objects.filter(checklist=checklist).get()
    first_operator = min(o.pk for o in operators)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute("SET LOCAL session_replication_role = replica")  # no FK trigger per row; our ids are consistent
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("SELECT setseed(0.15)")
        dropped = [
            index
            for model in (Call, CallAnalysis, Scorecard, ItemResult)
            for index in _secondary_indexes(cursor, model._meta.db_table)
        ]
        for name, _definition in dropped:
            cursor.execute(f'DROP INDEX "{name}"')
    # One row of random draws per call, then the call's columns from them (status, then a score only when done).
    draws = (
        "FROM (SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5, "
        "random() AS r6, floor(random() * 1000000)::int AS k FROM generate_series(1, %s) g) d"
    )
    status = "CASE WHEN d.r2 < 0.92 THEN 'done' WHEN d.r2 < 0.95 THEN 'failed' ELSE 'skipped' END"
    scored = "(d.r2 < 0.92 AND d.r3 > 0.08)"
    bell = "72 + 16 * (d.r4 + d.r5 + d.r6 - 1.5) * 2"  # about normal around 72
    score = f"CASE WHEN {scored} THEN round(LEAST(100, GREATEST(0, {bell}))::numeric, 1) END"
    sentiment = _pick(["negative", "neutral", "positive"], "d.k / 11")
    outcome = _pick(["sale", "agreed", "callback", "refused", "not_resolved", "information", "other"], "d.k / 13")
    answered = "d.r2 < 0.95"
    rows = _insert_select(
        Call,
        {
            "company_id": str(company.pk),
            "operator_id": f"{first_operator} + mod(d.k, {OPERATORS})",
            "pbx_call_id": "'bench-' || d.g",
            "direction": "CASE WHEN mod(d.k, 3) = 0 THEN 'outbound' ELSE 'inbound' END",
            "customer_phone": "'+99890' || lpad(d.g::text, 7, '0')",
            "started_at": f"%s - (d.r1 * {DAYS * 86400}) * interval '1 second'",
            "duration_seconds": "20 + mod(d.k, 580)",
            "talk_seconds": f"CASE WHEN {answered} THEN 10 + mod(d.k, 490) ELSE 0 END",
            "status": status,
            "failure_code": "CASE WHEN d.r2 >= 0.92 AND d.r2 < 0.95 THEN 'stt_failed' ELSE '' END",
            "language": _pick(["uz", "uz", "uz", "uz", "uz", "ru", "ru", "ru", "ru", "en"], "d.k / 7"),
            "score": score,
            "auto_fail": f"COALESCE({score} < 40, false)",
            "needs_review": f"({scored} AND mod(d.k, 20) = 0)",
            "talk_ratio": f"CASE WHEN {answered} THEN 0.3 + mod(d.k, 41) / 100.0 END",
            "silence_share": f"CASE WHEN {answered} THEN mod(d.k, 23) / 100.0 END",
            "interruptions": f"CASE WHEN {answered} THEN mod(d.k, 6) END",
            "operator_words_per_minute": f"CASE WHEN {answered} THEN 90 + mod(d.k, 80) END",
            "customer_sentiment": f"CASE WHEN d.r2 < 0.92 THEN {sentiment} ELSE '' END",
            "outcome": f"CASE WHEN d.r2 < 0.92 THEN {outcome} ELSE '' END",
            "created_at": "%s",
            "updated_at": "%s",
        },
        draws,
        [NOW, NOW, NOW, calls],
    )  # fmt: skip
    print(f"  {rows:,} calls in {time.perf_counter() - start:.0f} s", flush=True)
    analyses = _insert_select(
        CallAnalysis,
        {
            "company_id": "c.company_id", "call_id": "c.id", "engine": "'bench'", "summary": "'Asked about an order'",
            "customer_sentiment": "c.customer_sentiment", "operator_sentiment": "'neutral'", "outcome": "c.outcome",
            "purpose": _pick(PURPOSES, "mod(c.id * 7, 97)"),
            "topics": f"jsonb_build_array({_pick(TOPICS, 'mod(c.id, 20)')}, {_pick(TOPICS, 'mod(c.id / 20, 20)')})",
            "created_at": "c.started_at", "updated_at": "c.started_at",
        },
        "FROM calls_call c WHERE c.company_id = %s AND c.status = 'done'",
        [company.pk],
    )  # fmt: skip
    print(f"  {analyses:,} analyses in {time.perf_counter() - start:.0f} s", flush=True)
    cards = _insert_select(
        Scorecard,
        {
            "company_id": "c.company_id", "call_id": "c.id", "version_id": "%s", "score": "c.score",
            "auto_fail": "c.auto_fail", "needs_review": "c.needs_review", "created_at": "c.started_at",
            "updated_at": "c.started_at",
        },
        "FROM calls_call c WHERE c.company_id = %s AND c.score IS NOT NULL",
        [version.pk, company.pk],
    )  # fmt: skip
    print(f"  {cards:,} scorecards in {time.perf_counter() - start:.0f} s", flush=True)
    results = _insert_select(
        ItemResult,
        {
            "company_id": "s.company_id", "scorecard_id": "s.id", "call_id": "s.call_id", "version_item_id": "vi.id",
            "answer": "CASE mod(s.call_id * 31 + vi.id * 17, 20) WHEN 0 THEN 'not_met' WHEN 1 THEN 'not_met' "
                      "WHEN 2 THEN 'na' WHEN 3 THEN 'needs_review' ELSE 'met' END",
            "source": "'rules'", "created_at": "s.created_at", "updated_at": "s.created_at",
        },
        "FROM checklists_scorecard s CROSS JOIN checklists_versionitem vi "
        "WHERE s.version_id = %s AND vi.version_id = %s",
        [version.pk, version.pk],
    )  # fmt: skip
    print(f"  {results:,} item results in {time.perf_counter() - start:.0f} s", flush=True)
    with connection.cursor() as cursor:
        for name, definition in dropped:
            began = time.perf_counter()
            cursor.execute(definition)
            print(f"  index {name} built in {time.perf_counter() - began:.0f} s", flush=True)
        cursor.execute("SET LOCAL session_replication_role = origin")
    print(f"loaded in {time.perf_counter() - start:.0f} s", flush=True)
    return company


def analyse_tables() -> None:
    with connection.cursor() as cursor:
        for model in (Call, CallAnalysis, Scorecard, ItemResult, DailyCallRollup, HourlyCallRollup, DailyItemRollup,
                      DailyTopicRollup):  # fmt: skip
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def percentiles(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    if runs < 5:
        return statistics.median(times), max(times)
    cuts = statistics.quantiles(times, n=20, method="inclusive")
    return cuts[9], cuts[18]


PAGES = {  # page: the figures its view and its charts read
    "overview": ["overview_kpis", "calls_series", "mix", "top_topics", "missed_heatmap"],
    "operators": ["operator_leaderboard"],
    "operator": ["operator_detail"],
    "items": ["item_compliance"],
}
ENDPOINTS = {
    "overview": ["overview", "series", "mix", "topics", "heatmap"],
    "operators": ["leaderboard"],
    "operator": ["operators/{operator}"],
    "items": ["items-trend"],
}
PAGE_URLS = {"overview": "/dashboard/", "operators": "/dashboard/operators/",
             "operator": "/dashboard/operators/{operator}/", "items": "/dashboard/items/"}  # fmt: skip


def _selector_call(name: str, company: Company, filters: DashboardFilters, operator_id: int, direct: bool):
    selector = getattr(figures, name)
    extra = {"operator_id": operator_id} if name == "operator_detail" else {}
    return lambda: selector(company=company, filters=filters, direct=direct, **extra)


def _row(label: str, p50: float, p95: float, naive: tuple[float, float] | None = None) -> None:
    flag = "ok" if p95 <= GOAL_MS else "MISSED"
    ratio = f"   naive {naive[0]:7.0f} ms  ×{naive[0] / max(p50, 0.01):5.0f}" if naive else ""
    print(f"  {label:58} {p50:6.1f} {p95:7.1f} ms  {flag:6}{ratio}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="share of 1M calls to load")
    parser.add_argument("--reload", action="store_true", help="load the data again even if it is there")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive aggregates over the calls")
    args = parser.parse_args()
    ensure_database()
    company = Company.objects.filter(slug="bench").first()
    calls = Call.objects.filter(company=company).count() if company else 0
    if company is None or args.reload or calls != int(CALLS * args.scale):
        print(f"loading {int(CALLS * args.scale):,} calls", flush=True)
        company = load(args.scale)
        calls = Call.objects.filter(company=company).count()
        analyse_tables()
        began = time.perf_counter()
        rollups_rebuild(company_id=company.pk)
        print(f"rollups built in {time.perf_counter() - began:.0f} s (manage.py rollups_rebuild)", flush=True)
    analyse_tables()
    note = "" if calls == CALLS else f"  (--scale {calls / CALLS:g}: NOT the full 1M)"
    results = ItemResult.objects.filter(company=company).count()
    print(f"\n{calls:,} calls, {results:,} item results in one company{note}")
    tables = (DailyCallRollup, HourlyCallRollup, DailyItemRollup, DailyTopicRollup)
    print("rollup rows: " + ", ".join(f"{m.__name__} {m.objects.filter(company=company).count():,}" for m in tables))

    operator_id = Operator.objects.filter(company=company).order_by("name").values_list("pk", flat=True).first()
    periods = {
        "30 days": DashboardFilters(start=TODAY - dt.timedelta(days=29), end=TODAY, period="custom"),
        "12 months": DashboardFilters(start=TODAY - dt.timedelta(days=364), end=TODAY, period="custom"),
    }

    # What a call's analysis adds: one refresh of its (local day, operator) after the commit.
    rng = random.Random(15)
    keys = [(TODAY - dt.timedelta(days=rng.randrange(365)), operator_id + rng.randrange(OPERATORS)) for _ in range(30)]
    times = []
    for key in keys:
        began = time.perf_counter()
        rollups_refresh(company_id=company.pk, keys=[key])
        times.append((time.perf_counter() - began) * 1000)
    cuts = statistics.quantiles(times, n=20, method="inclusive")
    print(f"\nrollup refresh of one call's (day, operator), what the analysis step adds: p50 {cuts[9]:.1f} ms, "
          f"p95 {cuts[18]:.1f} ms")  # fmt: skip

    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-analyst"))
    for period_label, filters in periods.items():
        print(
            f"\n== {period_label} ({filters.start} .. {filters.end}) ==  {'p50':>6} {'p95':>7}   goal p95 ≤ {GOAL_MS}"
        )
        params = {"period": "custom", "date_from": filters.start.isoformat(), "date_to": filters.end.isoformat()}
        for page, names in PAGES.items():
            print(f" page {page}:")
            for name in names:
                rolled = percentiles(_selector_call(name, company, filters, operator_id, False), RUNS)
                naive = None
                if not args.no_naive:
                    naive = percentiles(_selector_call(name, company, filters, operator_id, True), NAIVE_RUNS)
                _row(f"selector {name}", *rolled, naive)
            for endpoint in ENDPOINTS[page]:
                url = f"/api/v1/aggregates/{endpoint.format(operator=operator_id)}/"
                first = client.get(url, params)
                if first.status_code != 200:
                    print(f"  GET {url}: {first.status_code}")
                    continue
                _row(f"GET {url}", *percentiles(lambda url=url, p=params: client.get(url, p), RUNS))
            url = PAGE_URLS[page].format(operator=operator_id)
            try:
                first = client.get(url, params)
            except Exception as exc:  # noqa: BLE001 - the pages are another change's: report, measure the rest
                print(f"  page {url}: {type(exc).__name__}: {exc}")
                continue
            if first.status_code != 200:
                print(f"  page {url}: HTTP {first.status_code}")
                continue
            _row(f"page GET {url} (HTML)", *percentiles(lambda url=url, p=params: client.get(url, p), RUNS))

    # Issue 13's aggregate (bench/api.py): item compliance over 30 days through the API.
    zone_midnight = dt.datetime.combine(TODAY - dt.timedelta(days=29), dt.time(), ZoneInfo(ZONE))
    aligned = {"started_after": zone_midnight.isoformat(),
               "started_before": (zone_midnight + dt.timedelta(days=30)).isoformat()}  # fmt: skip
    unaligned = {"started_after": (NOW - dt.timedelta(days=30)).isoformat(), "started_before": NOW.isoformat()}
    print("\n== the aggregates API (issue 13), 30 days ==")
    for label, params in (("local-midnight bounds: rollups", aligned), ("bounds at 00:00 UTC: calls scan", unaligned)):
        for url in ("/api/v1/aggregates/items/", "/api/v1/aggregates/daily/", "/api/v1/aggregates/operators/"):
            runs = RUNS if params is aligned else NAIVE_RUNS
            _row(f"GET {url} ({label})", *percentiles(lambda url=url, p=params: client.get(url, p), runs))
    print(f"\n{RUNS} runs each after a warm-up ({NAIVE_RUNS} for the naive ones: p95 = their max).")


if __name__ == "__main__":
    main()
