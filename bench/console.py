"""Console bench (issue 12): the calls list and the call page on 1,000,000 calls and 10,000,000 utterances.

    DJANGO_SETTINGS_MODULE=dialix.settings.test .venv/bin/python bench/console.py [--scale 0.1] [--reload]

Loads one company into a PostgreSQL database of its own (`dialix_console_bench`, created if missing and kept between
runs, so a second run only measures; --reload loads it again) with COPY, then prints the median warm server time of
each page (the Django test client, middleware and templates included; 10 runs after a warm-up) beside a naive
baseline measured in the same run: the stock ModelAdmin list (exact count, date hierarchy, DISTINCT filters, icontains
search through the utterances). The goal is ≤ 150 ms each; nothing fails on a slow machine. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from the repository root
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dialix.settings.test")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

DB_NAME = "dialix_console_bench"
settings.DATABASES["default"]["NAME"] = DB_NAME  # before any connection: never the tests' or the demo's database
django.setup()

import psycopg  # noqa: E402
from django.contrib import admin  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, models  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from calls.models import Call, CallStatus, Transcript, Utterance  # noqa: E402
from companies.models import Company, Role  # noqa: E402
from companies.services import member_create  # noqa: E402
from dialix.admin_site import DialixAdminSite  # noqa: E402
from operators.models import Operator  # noqa: E402

CALLS = 1_000_000
TURNS_PER_CALL = 10
OPERATORS = 50
DAYS = 365
RUNS = 10
GOAL_MS = 150
SLOW_BASELINE_S = 2.0  # a baseline slower than this is run 3 times, not 10: the point is made
CHUNK = 20_000
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
RARE_WORD = "kafolatnoma"  # said in about 1 call in 2,000
COMMON_WORD = "rahmat"  # said in most calls
LONG_TAIL = [f"tovar{n}" for n in range(200_000)]
PHRASES = [
    "Assalomu alaykum, Dialix Market, men {name}, sizga qanday yordam bera olaman?",
    "Buyurtmam hali yetib kelmadi, qachon yetkazib berasiz?",
    "Bir daqiqa kuting, buyurtma raqamingizni tekshirib ko'raman.",
    "Здравствуйте, я хотел бы вернуть товар, он не подошёл по размеру.",
    "Конечно, оформим возврат, деньги придут на карту через три дня.",
    "Hello, I am calling about the invoice for last month, it looks wrong.",
    "Narxi qancha bo'ladi, chegirma bormi?",
    "Хорошо, спасибо, всего доброго.",
    "Katta rahmat, yaxshi kun tilayman!",
    "Rahmat, boshqa savolingiz bormi?",
    "Yetkazib berish bepul, ertaga soat o'nda kuryer keladi.",
    "Operator bilan gaplashmoqchiman, muammo hal bo'lmadi.",
]


def timed_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def ensure_database() -> None:
    params = {k: v for k, v in connection.get_connection_params().items() if k not in {"dbname", "database"}}
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
            print(f"created database {DB_NAME}")
    call_command("migrate", verbosity=0)


def _text(value: object) -> str:
    """One value in COPY's text format (our generated values hold no tab, newline or backslash)."""
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _columns(model: type[models.Model], given: list[str]) -> tuple[list[str], str]:
    """The model's columns: those we generate, then every other column at its field default (so a column another
    change adds keeps working), as the constant tail of each COPY line."""
    rest = [f for f in model._meta.concrete_fields if f.column not in given]
    constants = []
    for field in rest:
        if field.has_default():
            constants.append(_text(field.get_default()))
        elif isinstance(field, models.DateTimeField):
            constants.append(_text(NOW))
        else:
            constants.append(r"\N")
    return [*given, *(f.column for f in rest)], "\t".join(constants)


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    cursor.execute(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT EXISTS
           (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""",
        [table],
    )
    return list(cursor.fetchall())


def load(scale: float) -> tuple[Company, int]:
    calls = int(CALLS * scale)
    rng = random.Random(12)
    with connection.cursor() as cursor:  # a cascade through the ORM would take hours on 10M rows
        cursor.execute("TRUNCATE calls_call, calls_transcript, calls_utterance CASCADE")
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="bench-supervisor").delete()
    Company.objects.filter(slug="bench").delete()
    company = Company.objects.create(name="Bench Market", slug="bench", languages=["uz", "ru", "en"])
    operators = Operator.objects.bulk_create(
        Operator(company=company, name=f"Operator {n:02d}", pbx_extension=str(200 + n)) for n in range(OPERATORS)
    )
    operator_ids = [o.pk for o in operators]
    member_create(company=company, username="bench-supervisor", role=Role.SUPERVISOR, password="pw-123456")
    raw = connection.connection
    with raw.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET session_replication_role = replica")  # no FK trigger per row; our ids are consistent
        tables = [Call._meta.db_table, Transcript._meta.db_table, Utterance._meta.db_table]
        dropped = [index for table in tables for index in _secondary_indexes(cursor, table)]
        for name, _definition in dropped:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM calls_call")
        first_call = cursor.fetchone()[0] + 1
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM calls_transcript")
        first_transcript = cursor.fetchone()[0] + 1
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM calls_utterance")
        first_utterance = cursor.fetchone()[0] + 1
        start = time.perf_counter()

        call_cols = [
            "id", "company_id", "operator_id", "pbx_call_id", "direction", "customer_phone", "customer_phone_raw",
            "started_at", "duration_seconds", "talk_seconds", "status", "failure_code", "language", "score",
            "auto_fail", "needs_review", "created_at", "updated_at",
        ]  # fmt: skip
        columns, tail = _columns(Call, call_cols)
        with cursor.copy(f"COPY calls_call ({', '.join(columns)}) FROM STDIN") as copy:
            buffer = io.StringIO()
            for n in range(calls):
                started = NOW - dt.timedelta(seconds=rng.randrange(DAYS * 86400))
                language = rng.choices(["uz", "ru", "en"], [5, 4, 1])[0]
                status = rng.choices([CallStatus.DONE, CallStatus.FAILED, CallStatus.SKIPPED], [92, 3, 5])[0]
                scored = status == CallStatus.DONE and rng.random() > 0.08
                score = round(min(100.0, max(0.0, rng.gauss(72, 16))), 1) if scored else None
                values = [
                    first_call + n, company.pk, rng.choice(operator_ids), f"bench-{n}",
                    rng.choice(["inbound", "outbound"]), f"+99890{n:07d}", f"90{n:07d}", started,
                    rng.randrange(20, 600), rng.randrange(10, 500), status,
                    "stt_failed" if status == CallStatus.FAILED else "", language, score,
                    score is not None and score < 40, score is not None and rng.random() < 0.05, started, started,
                ]  # fmt: skip
                buffer.write("\t".join(_text(v) for v in values) + ("\t" + tail if tail else "") + "\n")
                if n % CHUNK == CHUNK - 1:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        print(f"  {calls:,} calls copied in {time.perf_counter() - start:.0f} s", flush=True)

        transcript_cols = ["id", "company_id", "call_id", "engine", "language", "low_confidence", "speaker_method",
                           "duration_ms", "word_count", "created_at", "updated_at"]  # fmt: skip
        columns, tail = _columns(Transcript, transcript_cols)
        with cursor.copy(f"COPY calls_transcript ({', '.join(columns)}) FROM STDIN") as copy:
            buffer = io.StringIO()
            for n in range(calls):
                low = rng.random() < 0.04
                values = [first_transcript + n, company.pk, first_call + n, "bench", "uz", low, "channels",
                          60000, 120, NOW, NOW]  # fmt: skip
                buffer.write("\t".join(_text(v) for v in values) + ("\t" + tail if tail else "") + "\n")
                if n % CHUNK == CHUNK - 1:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())

        utterance_cols = ["id", "company_id", "call_id", "transcript_id", "speaker", "start_ms", "end_ms", "text",
                          "created_at", "updated_at"]  # fmt: skip
        columns, tail = _columns(Utterance, utterance_cols)
        now = _text(NOW)
        texts = [p.replace("{name}", f"Operator {n:02d}") for p in PHRASES for n in range(3)]
        company_id = str(company.pk)
        with cursor.copy(f"COPY calls_utterance ({', '.join(columns)}) FROM STDIN") as copy:
            buffer = io.StringIO()
            uid = first_utterance
            for n in range(calls):
                call_id, transcript_id = str(first_call + n), str(first_transcript + n)
                rare = rng.random() < 1 / 2000
                for turn in range(TURNS_PER_CALL):
                    # Real speech has a long tail of words (names, products, numbers): without one, PostgreSQL's
                    # statistics would guess a rare word as common as the rarest of a dozen phrases' words.
                    text = f"{rng.choice(texts)} {LONG_TAIL[int(rng.paretovariate(0.7)) % len(LONG_TAIL)]}"
                    if rare and turn == 3:
                        text = f"Menga {RARE_WORD} kerak, kafolat muddati qancha?"
                    start_ms = turn * 6000
                    speaker = "operator" if turn % 2 == 0 else "customer"
                    buffer.write(
                        f"{uid}\t{company_id}\t{call_id}\t{transcript_id}\t{speaker}\t{start_ms}\t{start_ms + 5000}\t"
                        f"{text}\t{now}\t{now}" + ("\t" + tail if tail else "") + "\n"
                    )
                    uid += 1
                if n % 2000 == 1999:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
                if n % 200_000 == 199_999:
                    print(
                        f"  {(n + 1) * TURNS_PER_CALL:,} utterances copied, {time.perf_counter() - start:.0f} s",
                        flush=True,
                    )
            copy.write(buffer.getvalue())
        print(f"  {calls * TURNS_PER_CALL:,} utterances copied in {time.perf_counter() - start:.0f} s", flush=True)
        cursor.execute("SET session_replication_role = origin")
        for table in tables:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        for name, definition in dropped:
            index_start = time.perf_counter()
            cursor.execute(definition)
            print(f"  index {name} built in {time.perf_counter() - index_start:.0f} s", flush=True)
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"loaded in {time.perf_counter() - start:.0f} s", flush=True)
    return company, calls


class NaiveCallAdmin(admin.ModelAdmin):
    """The stock list as it was before issue 12: exact count, date hierarchy, DISTINCT filters, icontains search
    (through the utterances for words said), the default paginator."""

    list_display = ["started_at", "operator", "direction", "customer_phone", "duration_seconds", "status", "score"]
    list_select_related = ["operator"]
    list_filter = [
        "status", "auto_fail", "needs_review", "direction", ("language", admin.AllValuesFieldListFilter),
        ("failure_code", admin.AllValuesFieldListFilter), "operator",
    ]  # fmt: skip
    search_fields = ["pbx_call_id", "customer_phone", "operator__name", "utterances__text"]
    date_hierarchy = "started_at"
    change_list_template = "admin/change_list.html"
    change_form_template = "admin/change_form.html"

    def __init__(self, model, admin_site, company: Company):
        super().__init__(model, admin_site)
        self.company = company

    def get_queryset(self, request):
        return super().get_queryset(request).filter(company=self.company)


def naive_urls(company: Company) -> str:
    site = DialixAdminSite(name="naive")
    site._registry[Call] = NaiveCallAdmin(Call, site, company)
    module = types.ModuleType("bench_console_urls")
    from dialix import urls as root

    module.urlpatterns = [path("naive/", site.urls), *root.urlpatterns]
    for name in ("handler400", "handler403", "handler404", "handler500"):
        if hasattr(root, name):
            setattr(module, name, getattr(root, name))
    sys.modules[module.__name__] = module
    return module.__name__


def median_ms(client: Client, url: str, params: dict) -> tuple[float, int]:
    response = client.get(url, params)
    assert response.status_code == 200, (url, params, response.status_code)
    first = timed_ms(lambda: client.get(url, params))
    runs = 3 if first > SLOW_BASELINE_S * 1000 else RUNS
    return statistics.median(timed_ms(lambda: client.get(url, params)) for _ in range(runs)), runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="share of 1M calls / 10M utterances to load")
    parser.add_argument("--reload", action="store_true", help="load the data again even if it is there")
    args = parser.parse_args()
    ensure_database()
    company = Company.objects.filter(slug="bench").first()
    calls = Call.objects.filter(company=company).count() if company else 0
    if company is None or args.reload or calls != int(CALLS * args.scale):
        print(f"loading {int(CALLS * args.scale):,} calls, {int(CALLS * args.scale) * TURNS_PER_CALL:,} utterances")
        company, calls = load(args.scale)
    utterances = Utterance.objects.filter(company=company).count()
    note = "" if calls == CALLS else f"  (--scale {calls / CALLS:g}: NOT the full 1M / 10M)"
    print(f"\n{calls:,} calls, {utterances:,} utterances in one company{note}")

    # No setup_test_environment(): its instrumented template rendering would slow every page it measures.
    operator = Operator.objects.filter(company=company).order_by("name").first()
    month_end = NOW.date()
    month_start = month_end - dt.timedelta(days=30)
    sample = Call.objects.filter(company=company).order_by("-started_at").values_list("pk", "customer_phone")[500]
    spaced = f"{sample[1][4:6]} {sample[1][6:9]} {sample[1][9:11]} {sample[1][11:13]}"
    cases = [
        ("calls list, unfiltered", {}, {}),
        (
            "filtered: operator + 30 days + score 0-49",
            {"operator": operator.pk, "started_from": month_start, "started_to": month_end, "score_band": "red"},
            {
                "operator__id__exact": operator.pk,
                "started_at__gte": month_start,
                "started_at__lt": month_end,
                "score__lt": 50,
            },
        ),
        (f"search: number '{spaced}'", {"q": spaced}, {"q": sample[1]}),
        (f"search: rare word '{RARE_WORD}'", {"q": RARE_WORD}, {"q": RARE_WORD}),
        (f"search: common word '{COMMON_WORD}'", {"q": COMMON_WORD}, {"q": COMMON_WORD}),
    ]
    client = Client()
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="bench-supervisor"))
    rows = []
    with override_settings(ROOT_URLCONF=naive_urls(company)):
        for label, ours, naive in cases:
            mine, _ = median_ms(client, "/admin/calls/call/", ours)
            base, runs = median_ms(client, "/naive/calls/call/", naive)
            rows.append((label, mine, base, runs))
        call_id = sample[0]
        mine, _ = median_ms(client, f"/admin/calls/call/{call_id}/change/", {})
        base, runs = median_ms(client, f"/naive/calls/call/{call_id}/change/", {})
        rows.append(("call page", mine, base, runs))
    print(f"\n{'page (median warm server time)':46} {'console':>9} {'naive':>10}  goal ≤ {GOAL_MS} ms")
    for label, mine, base, runs in rows:
        flag = "ok" if mine <= GOAL_MS else "MISSED"
        extra = "" if runs == RUNS else f"  (naive: {runs} runs)"
        print(f"{label:46} {mine:7.0f} ms {base:8.0f} ms  {flag}{extra}")
    print("\nnaive = the stock ModelAdmin list: exact count, date hierarchy, DISTINCT language/failure filters, "
          "icontains search through the utterances; the same database and indexes.")  # fmt: skip


if __name__ == "__main__":
    main()
