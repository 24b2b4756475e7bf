"""The dashboard rollups' one writer (issue 15). ``rollups_refresh`` recomputes the rollup rows of some keys of a
company (a day in its time zone, optionally one operator of that day) from the calls, in one transaction: delete the
keys' rows, insert the groups of ``analytics.selectors.call_sums`` & co. over those calls. Idempotent, and equal to the
direct computation by construction. It runs when the calls app says a call's figures changed (the
``call_figures_changed`` signal, after the commit), from the Beat re-check of recent days and from
``manage.py rollups_rebuild``."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Sum

from analytics.models import DailyCallRollup, DailyItemRollup, DailyTopicRollup, HourlyCallRollup
from analytics.selectors import (
    CALL_SUM_FIELDS,
    HOUR_SUM_FIELDS,
    ITEM_SUM_FIELDS,
    call_groups_direct,
    call_sums,
    company_today,
    hour_sums,
    item_sums,
    topic_counts_direct,
)
from calls.models import Call
from checklists.models import CallAnalysis, ItemResult
from companies.models import Company

logger = logging.getLogger(__name__)

ALL_OPERATORS = object()  # a key's operator: every operator of that day
DIMS = ("day", "operator_id", "direction", "language")
BATCH = 2000
Key = tuple[dt.date, Any]


def _day_range(day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    return (
        dt.datetime.combine(day, dt.time(), zone),
        dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone),
    )


def _selection(
    keys: Iterable[Key] | None, start: dt.date | None, end: dt.date | None, zone: ZoneInfo, prefix: str = ""
) -> tuple[Q, Q]:
    """The calls (Q over Call, with ``prefix``) and the rollup rows (Q over a rollup) of the keys, or of the days
    start..end (both inclusive, either open)."""
    p = prefix
    if keys is None:
        calls, rows = Q(), Q()
        if start is not None:
            calls &= Q(**{f"{p}started_at__gte": _day_range(start, zone)[0]})
            rows &= Q(day__gte=start)
        if end is not None:
            calls &= Q(**{f"{p}started_at__lt": _day_range(end, zone)[1]})
            rows &= Q(day__lte=end)
        return calls, rows
    operators: dict[dt.date, set] = defaultdict(set)
    for day, operator_id in keys:
        operators[day].add(operator_id)
    calls, rows = Q(pk__in=[]), Q(pk__in=[])
    for day, ids in operators.items():
        low, high = _day_range(day, zone)
        call_q = Q(**{f"{p}started_at__gte": low, f"{p}started_at__lt": high})
        row_q = Q(day=day)
        if ALL_OPERATORS not in ids:
            known = [pk for pk in ids if pk is not None]
            call_who, row_who = Q(**{f"{p}operator_id__in": known}), Q(operator_id__in=known)
            if None in ids:
                call_who |= Q(**{f"{p}operator__isnull": True})
                row_who |= Q(operator__isnull=True)
            call_q &= call_who
            row_q &= row_who
        calls |= call_q
        rows |= row_q
    return calls, rows


def _lock(company_id: int) -> None:
    # One refresh of a company at a time: two concurrent delete + insert of the same keys would both insert.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x0D1A, company_id])


def _grouped(queryset, groups: dict[str, Any], keys: list[str], sums: dict[str, Any]) -> list[dict[str, Any]]:
    gkeys = [f"g_{k}" for k in keys]
    rows = queryset.order_by().annotate(**{k: groups[k] for k in gkeys}).values(*gkeys).annotate(**sums)
    return [{(k[2:] if k.startswith("g_") else k): v for k, v in row.items()} for row in rows]


def _as_date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def rollups_refresh(
    *,
    company_id: int,
    keys: Iterable[Key] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> int:
    """Recomputes the company's rollups of ``keys`` ((local day, operator id | None | ALL_OPERATORS) pairs), or of
    the local days start..end when keys is None (both None: every day). One transaction; returns the call rows
    written."""
    company = Company.objects.get(pk=company_id)
    zone = ZoneInfo(company.time_zone)
    keys = None if keys is None else list(keys)
    if keys is not None and not keys:
        return 0
    call_q, row_q = _selection(keys, start, end, zone)
    item_call_q, _ = _selection(keys, start, end, zone, prefix="call__")
    days_q = row_q if keys is None else Q(day__in={day for day, _ in keys})
    with transaction.atomic():
        _lock(company_id)
        for model in (DailyCallRollup, HourlyCallRollup, DailyItemRollup, DailyTopicRollup):
            model.objects.filter(company_id=company_id, grain__in=["full", "operator"]).filter(row_q).delete()
            model.objects.filter(company_id=company_id, grain="company").filter(days_q).delete()
        calls = Call.objects.filter(company_id=company_id).filter(call_q)
        groups = call_groups_direct(zone)
        daily = _grouped(calls, groups, [*DIMS, "outcome"], call_sums())
        _write(DailyCallRollup, company_id, daily, ("outcome",), CALL_SUM_FIELDS, days_q)
        hourly = _grouped(calls, groups, [*DIMS, "hour", "outcome"], hour_sums())
        _write(HourlyCallRollup, company_id, hourly, ("hour", "outcome"), HOUR_SUM_FIELDS, days_q)
        results = ItemResult.objects.filter(company_id=company_id).filter(item_call_q)
        item_groups = {
            **call_groups_direct(zone, "call__"),
            "g_version_item_id": F("version_item_id"),
            "g_checklist_id": F("version_item__version__checklist_id"),
        }
        items = _grouped(results, item_groups, [*DIMS, "version_item_id", "checklist_id"], item_sums())
        _write(DailyItemRollup, company_id, items, ("version_item_id", "checklist_id"), ITEM_SUM_FIELDS, days_q)
        analyses = (
            CallAnalysis.objects.filter(company_id=company_id)
            .filter(item_call_q)
            .order_by()
            .annotate(**{f"g_{k}": item_groups[f"g_{k}"] for k in DIMS})
            .values_list(*(f"g_{k}" for k in DIMS), "purpose", "topics")
        )
        topics = [
            {"day": day, "operator_id": operator_id, "direction": direction, "language": language, "kind": kind,
             "value": value, "calls": count}
            for (day, operator_id, direction, language, kind, value), count in topic_counts_direct(
                analyses.iterator(chunk_size=BATCH)
            ).items()
        ]  # fmt: skip
        _write(DailyTopicRollup, company_id, topics, ("kind", "value"), ("calls",), days_q)
    return len(daily)


def _write(model, company_id: int, rows: list[dict[str, Any]], dims: tuple[str, ...], sums, days_q: Q) -> None:
    """Inserts the full rows, the same summed per operator (direction and language empty), then the company grain of
    the days touched, summed from every operator row of those days (those just written and the others)."""
    per_operator: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        row["day"] = _as_date(row["day"])
        key = (row["day"], row["operator_id"], *(row[d] for d in dims))
        into = per_operator.setdefault(
            key, {"day": row["day"], "operator_id": row["operator_id"], **{d: row[d] for d in dims}}
        )
        for name in sums:
            into[name] = into.get(name, 0) + (row[name] or 0)
    model.objects.bulk_create(
        [
            *(model(company_id=company_id, grain="full", **row) for row in rows),
            *(model(company_id=company_id, grain="operator", direction="", language="", **row)
              for row in per_operator.values()),
        ],
        batch_size=BATCH,
    )  # fmt: skip
    company_rows = (
        model.objects.filter(company_id=company_id, grain="operator")
        .filter(days_q)
        .values("day", *dims)
        .annotate(**{f"s_{name}": Sum(name) for name in sums})
        .order_by()
    )
    model.objects.bulk_create(
        [
            model(
                company_id=company_id, grain="company", direction="", language="", operator_id=None,
                **{d: row[d] for d in ("day", *dims)}, **{name: row[f"s_{name}"] for name in sums},
            )
            for row in company_rows
        ],
        batch_size=BATCH,
    )  # fmt: skip


class _Pending:
    """The points the signal reported in one transaction, refreshed once after it commits."""

    def __init__(self) -> None:
        self.points: dict[int, set] = defaultdict(set)
        self.flushed = False

    def add(self, company_id: int, points: Iterable[tuple[int | None, dt.datetime]]) -> None:
        self.points[company_id].update(points)

    def flush(self) -> None:
        """Queues one refresh task per company (in process without a broker: run here and now)."""
        from analytics.tasks import rollups_refresh_task
        from dialix.queueing import task_enqueue

        self.flushed = True
        zones = dict(Company.objects.filter(pk__in=list(self.points)).values_list("pk", "time_zone"))
        for company_id, points in self.points.items():
            if company_id not in zones:
                continue
            zone = ZoneInfo(zones[company_id])
            keys = sorted({(at.astimezone(zone).date().isoformat(), operator) for operator, at in points}, key=repr)
            try:
                task_enqueue(rollups_refresh_task, company_id, [list(key) for key in keys], company_id=company_id)
            except Exception:  # the Beat re-check repairs what a lost refresh left behind
                logger.exception("rollups_refresh_not_queued", extra={"company_id": company_id})
        self.points.clear()


def rollups_on_figures_changed(sender, *, company_id: int, points, **kwargs) -> None:
    """Receiver of calls.signals.call_figures_changed: the keys are refreshed by a task queued once the transaction
    commits (one per transaction and company, however many times the signal came)."""
    conn = transaction.get_connection()
    pending = getattr(conn, "_dialix_rollups_pending", None)
    registered = pending is not None and not pending.flushed and any(e[1] == pending.flush for e in conn.run_on_commit)
    if conn.in_atomic_block and registered:
        pending.add(company_id, points)
        return
    pending = _Pending()
    pending.add(company_id, points)
    conn._dialix_rollups_pending = pending
    transaction.on_commit(pending.flush)


def rollups_recheck(*, days: int | None = None) -> int:
    """Recomputes the last ``days`` local days (DIALIX_ROLLUP_RECHECK_DAYS) of every company: repairs any drift (a
    lost refresh, a write that bypassed the services). Returns the companies re-checked."""
    days = settings.DIALIX_ROLLUP_RECHECK_DAYS if days is None else days
    count = 0
    for company in Company.objects.order_by("pk"):
        today = company_today(company=company)
        rollups_refresh(company_id=company.pk, start=today - dt.timedelta(days=days - 1), end=today)
        count += 1
    return count


def rollups_rebuild(*, company_id: int, chunk_days: int = 31) -> int:
    """Every day of the company's calls, recomputed a month at a time (short transactions). Returns rows written."""
    company = Company.objects.get(pk=company_id)
    zone = ZoneInfo(company.time_zone)
    calls = Call.objects.filter(company_id=company_id).order_by("started_at")
    first = calls.values_list("started_at", flat=True).first()
    last = calls.order_by("-started_at").values_list("started_at", flat=True).first()
    with transaction.atomic():  # rows of days that no longer have calls
        for model in (DailyCallRollup, HourlyCallRollup, DailyItemRollup, DailyTopicRollup):
            model.objects.filter(company_id=company_id).delete()
    if first is None:
        return 0
    day, final, written = first.astimezone(zone).date(), last.astimezone(zone).date(), 0
    while day <= final:
        until = min(day + dt.timedelta(days=chunk_days - 1), final)
        written += rollups_refresh(company_id=company_id, start=day, end=until)
        day = until + dt.timedelta(days=1)
    return written
