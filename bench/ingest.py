"""PBX ingest bench: 10 000 calls from the fake OnlinePBX into a throwaway PostgreSQL database.

    DJANGO_SETTINGS_MODULE=dialix.settings.test .venv/bin/python bench/ingest.py     (make bench)

Prints the first-sync rate, what an immediate re-sync writes, the bulk upsert against a naive per-row loop, and where
the time goes (HTTP + parsing vs database writes). Goals are printed beside the figures; nothing fails on a slow
machine.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from the repository root
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dialix.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

CALLS = 10_000
SPREAD = timedelta(days=6)
BACKFILL_DAYS = 7  # the first sync reads a week: every generated call
GOAL_CALLS_PER_SECOND = 1_000
GOAL_NAIVE_RATIO = 5.0
T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def goal(ok: bool) -> str:
    return "ok" if ok else "MISSED"


@contextmanager
def bench_database() -> Iterator[str]:
    """A database of its own, made and dropped the way the test runner does it, so no other data is touched."""
    test_settings = connection.settings_dict.setdefault("TEST", {})
    old_name = connection.settings_dict["NAME"]
    test_settings["NAME"] = f"{old_name}_bench"
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield name
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def main() -> None:
    with bench_database() as db_name:
        print(f"bench database: {db_name} (dropped at the end)")
        run_bench()


def run_bench() -> None:
    from calls.models import Call, CallSource, CallStatus
    from calls.phones import normalise_phone
    from calls.services.ingest import calls_upsert_from_pbx
    from calls.services.sync import SYNC_WINDOW, _windows, pbx_sync_company
    from companies.models import Company
    from integrations.models import PbxAccount, SyncStatus
    from integrations.pbx.base import PbxCall
    from integrations.pbx.onlinepbx import parse_call
    from integrations.services import pbx_account_save, pbx_client_for
    from integrations.testing.onlinepbx import FakeOnlinePbx
    from operators.models import Operator

    until = datetime.now(UTC).replace(microsecond=0)
    since = until - timedelta(days=BACKFILL_DAYS)

    with FakeOnlinePbx(domain="pbx-bench.onpbx.ru", auth_key="bench-auth-key") as fake:
        fake.add_calls_generated(
            CALLS, start=until - SPREAD - timedelta(minutes=15), spacing_seconds=int(SPREAD.total_seconds()) // CALLS
        )
        answered = sum(1 for record in fake.calls.values() if record["user_talk_time"] > 0)
        from django.conf import settings

        settings.DIALIX_ONLINEPBX_BASE_URL = fake.base_url  # the server's PBX host: accounts cannot choose one
        print(f"fake OnlinePBX: {len(fake.calls)} calls over {SPREAD.days} days ({answered} answered)")

        def company_with_account(slug: str) -> PbxAccount:
            company = Company.objects.create(name=f"Bench {slug}", slug=slug, languages=["uz", "ru"])
            account = PbxAccount(
                company=company,
                domain=fake.domain,
                api_key=fake.auth_key,
                backfill_days=BACKFILL_DAYS,
                fetch_recordings=False,  # downloads are not part of this bench
            )
            return pbx_account_save(account=account)

        # 1. First sync: HTTP, parsing and bulk writes, one committed page per 6-hour window.
        account = company_with_account("bench-fast")
        requests_before = len(fake.requests_log)
        run, first_seconds = timed(lambda: pbx_sync_company(company_id=account.company_id, until=until))
        requests = len(fake.requests_log) - requests_before
        if run.status != SyncStatus.SUCCEEDED:
            print(f"first sync did not succeed: {run.status} {run.error}")
            return
        stored = Call.objects.for_company(account.company).count()
        rate = run.fetched / first_seconds
        print()
        print(f"1. first sync: {run.fetched} calls in {first_seconds:.2f} s over {requests} HTTP requests")
        print(f"   {rate:,.0f} calls/s   (goal >= {GOAL_CALLS_PER_SECOND:,}: {goal(rate >= GOAL_CALLS_PER_SECOND)})")
        print(f"   stored {stored} calls, {Operator.objects.for_company(account.company).count()} operators")

        # 2. Immediate re-sync of the same window: everything is read again and nothing has changed.
        PbxAccount.objects.filter(pk=account.pk).update(sync_cursor=None)
        marker = datetime.now(UTC)
        rerun, resync_seconds = timed(lambda: pbx_sync_company(company_id=account.company_id, until=until))
        written = Call.objects.for_company(account.company).filter(updated_at__gte=marker).count()
        print()
        print(f"2. re-sync of the same window: {resync_seconds:.2f} s for {rerun.fetched} calls read again")
        print(
            f"   rows written: {written} (run: created {rerun.created}, updated {rerun.updated}, "
            f"unchanged {rerun.skipped})   (goal 0: {goal(written == 0 and rerun.created + rerun.updated == 0)})"
        )

        # 4 (first, since 3 reuses its pages). Where the time goes: fetch + parse alone, then writes alone.
        client = pbx_client_for(PbxAccount.objects.get(pk=account.pk))

        def fetch_pages() -> list[list[PbxCall]]:
            return [
                [call for batch in client.list_calls(since=start, until=end) for call in batch]
                for start, end in _windows(since, until, SYNC_WINDOW)
            ]

        pages, fetch_seconds = timed(fetch_pages)
        records = list(fake.calls.values())
        _, parse_seconds = timed(lambda: [parse_call(record) for record in records])
        fast = company_with_account("bench-bulk")

        def bulk_write() -> int:
            created = 0
            for page in pages:
                with transaction.atomic():
                    created += calls_upsert_from_pbx(company=fast.company, calls=page).created
            return created

        bulk_created, bulk_seconds = timed(bulk_write)
        raw_phones = {call.customer_phone_raw for page in pages for call in page}
        _, phone_seconds = timed(lambda: [normalise_phone(raw) for raw in raw_phones])
        print()
        print("4. where the first sync's time goes:")
        print(f"   HTTP + JSON + parsing: {fetch_seconds:.2f} s for {len(pages)} windows")
        print(f"     of which parsing {len(records)} records into PbxCall: {parse_seconds:.2f} s")
        print(f"   bulk upsert, one transaction per page: {bulk_seconds:.2f} s for {bulk_created} calls")
        print(f"     of which E.164 normalisation of {len(raw_phones)} distinct numbers: {phone_seconds:.2f} s")

        # 3. The same pages written the naive way: one get_or_create per operator and per call.
        naive = company_with_account("bench-naive")

        def naive_write() -> int:
            created = 0
            for page in pages:
                with transaction.atomic():
                    for pbx_call in page:
                        operator = None
                        if pbx_call.operator_ext:
                            operator, _ = Operator.objects.get_or_create(
                                company=naive.company,
                                pbx_extension=pbx_call.operator_ext,
                                defaults={"name": f"Extension {pbx_call.operator_ext}"},
                            )
                        _, was_created = Call.objects.get_or_create(
                            company=naive.company,
                            pbx_call_id=pbx_call.pbx_call_id,
                            defaults={
                                "operator": operator,
                                "direction": pbx_call.direction,
                                "customer_phone": normalise_phone(pbx_call.customer_phone_raw),
                                "customer_phone_raw": pbx_call.customer_phone_raw,
                                "started_at": pbx_call.started_at,
                                "ended_at": pbx_call.ended_at,
                                "duration_seconds": pbx_call.duration_seconds,
                                "talk_seconds": pbx_call.talk_seconds,
                                "hangup_cause": pbx_call.hangup_cause,
                                "source": CallSource.PBX,
                                "status": CallStatus.NEW if pbx_call.talk_seconds > 0 else CallStatus.SKIPPED,
                            },
                        )
                        created += was_created
            return created

        naive_created, naive_seconds = timed(naive_write)
        write_ratio = naive_seconds / bulk_seconds
        sync_ratio = (fetch_seconds + naive_seconds) / first_seconds
        print()
        print(f"3. naive per-row get_or_create over the same pages: {naive_seconds:.2f} s for {naive_created} calls")
        print(f"   ({naive_created / naive_seconds:,.0f} calls/s written, vs {bulk_created / bulk_seconds:,.0f} bulk)")
        print(
            f"   bulk vs naive, database writes: {write_ratio:.1f}x faster   "
            f"(goal >= {GOAL_NAIVE_RATIO:.0f}x: {goal(write_ratio >= GOAL_NAIVE_RATIO)})"
        )
        print(f"   whole first sync vs the same HTTP + naive writes: {sync_ratio:.1f}x faster")


if __name__ == "__main__":
    main()
