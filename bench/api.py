"""Integrator API bench (issue 13): the calls list with filters, a call with `expand=` and the aggregates, on
1,000,000 calls in one company.

    DJANGO_SETTINGS_MODULE=dialix.settings.test .venv/bin/python bench/api.py [--scale 0.01] [--reload]

Reuses bench/console.py's database (`dialix_console_bench`) and loader: the calls and their utterances are COPY'd once
and kept between runs (--reload loads them again). On top it adds, in SQL, what the API's figures read: an analysis of
every analysed call, talk ratio and silence share, a 5-item checklist version, a scorecard of every scored call and its
item results. Then prints p50/p95 of the warm server time of each request (the Django test client with an API token:
middleware, authentication, throttling and serialisation included; RUNS runs after a warm-up) against the goal
p95 ≤ 100 ms for lists and ≤ 300 ms for aggregates. Nothing fails on a slow machine. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benches, imported as modules
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from the repository root
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dialix.settings.test")
os.environ.setdefault("DIALIX_API_TOKEN_RATE", "1000000/minute")  # the bench measures the API, not its throttle

import console  # noqa: E402  (sets the bench database and sets Django up)
from django.db import connection, models, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from analytics.models import DailyCallRollup  # noqa: E402
from analytics.services import rollups_rebuild  # noqa: E402
from calls.models import Call, CallStatus  # noqa: E402
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
from companies.models import Company  # noqa: E402
from companies.services import api_token_create  # noqa: E402
from operators.models import Operator  # noqa: E402

RUNS = 40
LIST_GOAL_MS = 100
AGGREGATE_GOAL_MS = 300
BENCH_CHECKLIST = "Bench API checklist"
ITEMS = ["Greets the customer", "Names the company", "Finds the order", "Offers a solution", "Says goodbye"]
SENTIMENT_SQL = "(ARRAY['negative','neutral','positive'])[1 + mod(mod(c.id, 7), 3)]"
OUTCOME_SQL = (
    "(ARRAY['sale','agreed','callback','refused','not_resolved','information','other'])[1 + mod(mod(c.id, 11), 7)]"
)


def _insert_select(model: type[models.Model], given: dict[str, str], source: str, params: list) -> int:
    """INSERT INTO the model's table the columns given (SQL expressions over `source`), every other column at its
    field default (so a column another change adds keeps working). Returns the rows inserted."""
    rest = [f for f in model._meta.concrete_fields if f.column not in given and not f.primary_key]
    columns = [*(f.column for f in rest), *given]  # the defaults' placeholders first: params are defaults, then ours
    values: list = []
    for field in rest:
        if field.has_default():
            values.append(field.get_db_prep_save(field.get_default(), connection))
        elif isinstance(field, models.DateTimeField):
            values.append(console.NOW)
        else:
            values.append(None)
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join([*['%s'] * len(rest), *given.values()])} {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *params])
        return cursor.rowcount


@transaction.atomic  # all or nothing: the bench checklist marks the extras as loaded
def load_api_extras(company: Company) -> None:
    """What the figures read and the console bench does not load: analyses, timing metrics, scorecards, answers."""
    start = time.perf_counter()
    done, company_id = CallStatus.DONE, company.pk
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute(
            "UPDATE calls_call SET talk_ratio = 0.3 + mod(id, 41) / 100.0, silence_share = mod(id, 23) / 100.0 "
            "WHERE company_id = %s AND status = %s",
            [company_id, done],
        )
    analyses = _insert_select(
        CallAnalysis,
        {
            "company_id": "c.company_id", "call_id": "c.id", "engine": "'bench'", "summary": "'Asked about an order'",
            "customer_sentiment": SENTIMENT_SQL, "operator_sentiment": "'neutral'", "outcome": OUTCOME_SQL,
            "created_at": "c.started_at", "updated_at": "c.started_at",
        },
        "FROM calls_call c WHERE c.company_id = %s AND c.status = %s",
        [company_id, done],
    )  # fmt: skip
    with connection.cursor() as cursor:  # what the move to DONE writes on the call beside its analysis
        cursor.execute(
            "UPDATE calls_call c SET customer_sentiment = a.customer_sentiment, outcome = a.outcome "
            "FROM checklists_callanalysis a WHERE a.call_id = c.id AND c.company_id = %s",
            [company_id],
        )
    print(f"  {analyses:,} analyses in {time.perf_counter() - start:.0f} s", flush=True)
    checklist = Checklist.objects.create(company=company, name=BENCH_CHECKLIST)
    section = ChecklistSection.objects.create(company=company, checklist=checklist, title="Call")
    ChecklistItem.objects.bulk_create(
        ChecklistItem(company=company, checklist=checklist, section=section, criterion=c, order=n, allow_na=True)
        for n, c in enumerate(ITEMS)
    )
    version = checklist_publish(checklist=checklist) or ChecklistVersion.objects.filter(checklist=checklist).get()
    scorecards = _insert_select(
        Scorecard,
        {
            "company_id": "c.company_id", "call_id": "c.id", "version_id": "%s", "score": "c.score",
            "auto_fail": "c.auto_fail", "needs_review": "c.needs_review", "created_at": "c.started_at",
            "updated_at": "c.started_at",
        },
        "FROM calls_call c WHERE c.company_id = %s AND c.score IS NOT NULL",
        [version.pk, company_id],
    )  # fmt: skip
    print(f"  {scorecards:,} scorecards in {time.perf_counter() - start:.0f} s", flush=True)
    results = _insert_select(
        ItemResult,
        {
            "company_id": "s.company_id", "scorecard_id": "s.id", "call_id": "s.call_id", "version_item_id": "vi.id",
            "answer": "CASE mod(s.call_id + vi.id, 10) WHEN 0 THEN 'not_met' WHEN 1 THEN 'na' ELSE 'met' END",
            "source": "'rules'", "created_at": "s.created_at", "updated_at": "s.created_at",
        },
        "FROM checklists_scorecard s CROSS JOIN checklists_versionitem vi "
        "WHERE s.version_id = %s AND vi.version_id = %s",
        [version.pk, version.pk],
    )  # fmt: skip
    print(f"  {results:,} item results; API extras loaded in {time.perf_counter() - start:.0f} s", flush=True)


def analyse_tables() -> None:
    with connection.cursor() as cursor:  # fresh statistics, as a production database's autovacuum keeps them
        for model in (Call, CallAnalysis, Scorecard, ItemResult):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def percentiles_ms(client: Client, url: str, params: dict, headers: dict) -> tuple[float, float]:
    response = client.get(url, params, headers=headers)
    assert response.status_code == 200, (url, params, response.status_code, response.content[:300])
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        client.get(url, params, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(times, n=20, method="inclusive")  # 19 cut points: [9] is p50, [18] is p95
    return cuts[9], cuts[18]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="share of 1M calls / 10M utterances to load")
    parser.add_argument("--reload", action="store_true", help="load the data again even if it is there")
    args = parser.parse_args()
    console.ensure_database()
    company = Company.objects.filter(slug="bench").first()
    calls = Call.objects.filter(company=company).count() if company else 0
    if company is None or args.reload or calls != int(console.CALLS * args.scale):
        print(f"loading {int(console.CALLS * args.scale):,} calls (bench/console.py's loader)", flush=True)
        company, calls = console.load(args.scale)
    if not Checklist.objects.filter(company=company, name=BENCH_CHECKLIST).exists():
        load_api_extras(company)
        DailyCallRollup.objects.filter(company=company).delete()  # rebuilt below from the calls just loaded
    if not DailyCallRollup.objects.filter(company=company).exists():  # the aggregates read them (issue 15)
        began = time.perf_counter()
        rollups_rebuild(company_id=company.pk)
        print(f"  rollups built in {time.perf_counter() - began:.0f} s", flush=True)
    analyse_tables()  # every run: a migration may just have rewritten the calls (index-only scans need the map)
    note = "" if calls == console.CALLS else f"  (--scale {calls / console.CALLS:g}: NOT the full 1M)"
    print(f"\n{calls:,} calls in one company{note}")

    _, raw = api_token_create(company=company, name=f"bench-api-{time.time():.0f}")
    headers = {"Authorization": f"Bearer {raw}"}
    operator = Operator.objects.filter(company=company).order_by("name").first()
    # 30 whole days of the company's zone (local midnights): the aggregates read the rollups; other bounds scan calls.
    midnight = console.NOW.astimezone(ZoneInfo(company.time_zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    month = {
        "started_after": (midnight - dt.timedelta(days=30)).isoformat(),
        "started_before": midnight.isoformat(),
    }
    sample = Call.objects.filter(company=company, score__isnull=False).order_by("-started_at").values_list("pk")[500]
    lists = [
        ("calls list, unfiltered", "/api/v1/calls/", {}),
        ("calls list: operator + 30 days + score ≥ 60", "/api/v1/calls/", {"operator": operator.pk, **month,
                                                                           "score_min": 60}),
        ("calls list: inbound + uz + outcome sale", "/api/v1/calls/", {"direction": "inbound", "language": "uz",
                                                                      "outcome": "sale"}),
        ("calls list: 30 days, best score first", "/api/v1/calls/", {**month, "ordering": "-score"}),
        ("call with expand=analysis,scorecards,transcript", f"/api/v1/calls/{sample[0]}/",
         {"expand": "analysis,scorecards,transcript"}),
    ]  # fmt: skip
    aggregates = [
        ("daily aggregates, 30 days", "/api/v1/aggregates/daily/", month),
        ("weekly aggregates, 30 days", "/api/v1/aggregates/daily/", {**month, "interval": "week"}),
        ("operator aggregates, 30 days", "/api/v1/aggregates/operators/", month),
        ("item compliance, 30 days", "/api/v1/aggregates/items/", month),
    ]
    client = Client()
    print(f"\n{'request (warm server time)':50} {'p50':>8} {'p95':>8}  goal p95")
    for cases, goal_ms in ((lists, LIST_GOAL_MS), (aggregates, AGGREGATE_GOAL_MS)):
        for label, url, params in cases:
            p50, p95 = percentiles_ms(client, url, params, headers)
            flag = "ok" if p95 <= goal_ms else "MISSED"
            print(f"{label:50} {p50:5.0f} ms {p95:5.0f} ms  ≤ {goal_ms} ms {flag}", flush=True)
    print(f"\n{RUNS} runs each after a warm-up; the Django test client with a Bearer token, the same database.")


if __name__ == "__main__":
    main()
