"""The dashboard's exports (issue 15): each table as CSV or XLSX, with the figures the page shows (same selectors,
same rounding), and the calls behind a view as a background job (ExportJob) with progress and a file kept for
settings.DIALIX_EXPORT_KEEP_HOURS.

Every text cell that a spreadsheet would read as a formula (it begins with = + - @, a tab or a carriage return) is
written with a leading apostrophe (OWASP "CSV injection"): an operator's name or a topic comes from people and
from the analyser, and must never run in an analyst's Excel."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import tempfile
import uuid
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.db import transaction
from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook

from analytics.filters import OUTCOME_LABELS
from analytics.models_exports import ExportFormat, ExportJob, ExportStatus
from analytics.selectors import (
    DashboardFilters,
    calls_series,
    filters_from_params,
    item_compliance,
    operator_leaderboard,
    overview_kpis,
    top_topics,
)
from analytics.selectors_crm import crm_conversion
from analytics.selectors_dashboard import dashboard_calls
from analytics.tasks_exports import export_run_task
from calls.redaction import redact_text
from companies.models import Company
from dialix.queueing import PRIORITY_PERSON, task_enqueue

logger = logging.getLogger(__name__)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PROGRESS_EVERY_ROWS = 500  # one UPDATE of the job per this many rows: the bar moves, the database is not flooded
CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ExportUnavailable(Exception):
    """The job's file is not there (not finished, failed, or expired and deleted)."""


def escape_cell(value: Any) -> Any:
    """A cell as written: numbers stay numbers; a text that a spreadsheet would run as a formula gets an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def percent(rate: float | None) -> float | None:
    """A 0..1 rate as the page shows it: a percentage with one decimal (the template filter uses this too)."""
    return None if rate is None else round(rate * 100, 1)


# --- the tables ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    title: Any  # lazy text
    headers: Callable[[], list[Any]]
    rows: Callable[..., Iterable[list[Any]]]  # (company, filters, **options) -> rows
    is_big: bool = False  # the calls behind a view: always a background job


KPI_LABELS = {
    "calls": _("Calls"),
    "answered": _("Answered"),
    "analysed": _("Analysed"),
    "mean_score": _("Mean score"),
    "auto_fail_rate": _("Auto-fail rate (%)"),
    "needs_review": _("Needs review"),
    "mean_handle_seconds": _("Mean handle time (s)"),
}


def kpi_value(key: str, value: float | None) -> float | None:
    return percent(value) if key == "auto_fail_rate" else value


def kpi_change(key: str, change: float | None) -> float | None:
    """The change as the tiles show it: percent for relative changes, points for score and auto-fail rate."""
    if change is None:
        return None
    if key == "mean_score":
        return round(change, 1)
    return round(change * 100, 1)


def _kpi_rows(company: Company, filters: DashboardFilters, **options: Any) -> Iterator[list[Any]]:
    kpis = overview_kpis(company=company, filters=filters)
    for key, label in KPI_LABELS.items():
        yield [
            str(label),
            kpi_value(key, kpis["current"].get(key)),
            kpi_value(key, kpis["previous"].get(key)),
            kpi_change(key, kpis["change"].get(key)),
        ]


def _day_rows(company: Company, filters: DashboardFilters, **options: Any) -> Iterator[list[Any]]:
    for point in calls_series(company=company, filters=filters)["points"]:
        yield [
            point["start"],
            point["calls"],
            point["answered"],
            point["scored"],
            point["mean_score"],
            percent(point["auto_fail_rate"]),
        ]


def _topic_rows(company: Company, filters: DashboardFilters, **options: Any) -> Iterator[list[Any]]:
    topics = top_topics(company=company, filters=filters)
    for kind, label in (("purposes", _("Purpose")), ("topics", _("Topic"))):
        for row in topics[kind]:
            # The analyser's own words: a card or phone number it echoed never leaves in a file (issue 16).
            yield [str(label), redact_text(row["value"] or ""), row["calls"]]


def _operator_rows(
    company: Company, filters: DashboardFilters, sort: str = "-calls", **options: Any
) -> Iterator[list[Any]]:
    for row in operator_leaderboard(company=company, filters=filters, sort=sort)["rows"]:
        yield [
            row["operator_name"] or str(_("No operator")),
            row["calls"],
            row["answered"],
            row["scored"],
            row["mean_score"],
            percent(row["auto_fail_rate"]),
            row["mean_handle_seconds"],
            percent(row["talk_ratio"]),
            percent(row["silence_share"]),
            row["interruptions"],
            row["speech_rate"],
            row["sentiment"]["negative"],
            row["sentiment"]["neutral"],
            row["sentiment"]["positive"],
        ]


def _item_rows(company: Company, filters: DashboardFilters, **options: Any) -> Iterator[list[Any]]:
    for item in item_compliance(company=company, filters=filters)["items"]:
        yield [
            item["checklist_name"],
            item["version"],
            item["section"],
            item["criterion"],
            str(_("yes")) if item["is_critical"] else "",
            item["met"],
            item["not_met"],
            item["na"],
            item["needs_review"],
            percent(item["compliance"]),
        ]


def _conversion_band_rows(company: Company, filters: DashboardFilters, **options: Any) -> Iterator[list[Any]]:
    conversion = crm_conversion(
        company=company,
        calls=dashboard_calls(company=company, filters=filters),
        checklist_id=filters.checklist_id,
    )
    for band in conversion["bands"]:
        yield [band["band"], band["deals"], band["won"], percent(band["won_rate"])]


def _conversion_item_rows(company: Company, filters: DashboardFilters, **options: Any) -> Iterator[list[Any]]:
    conversion = crm_conversion(
        company=company,
        calls=dashboard_calls(company=company, filters=filters),
        checklist_id=filters.checklist_id,
    )
    for item in conversion["items"]:
        met, not_met = item["met"], item["not_met"]
        yield [
            item["checklist_name"],
            item["section"],
            item["criterion"],
            met["deals"],
            met["won"],
            percent(met["won_rate"]),
            not_met["deals"],
            not_met["won"],
            percent(not_met["won_rate"]),
        ]


def _call_rows(company: Company, filters: DashboardFilters, **options: Any) -> Iterator[list[Any]]:
    zone = zoneinfo.ZoneInfo(company.time_zone)
    calls = (
        dashboard_calls(company=company, filters=filters)
        .order_by("started_at", "id")
        .values_list(
            "id",
            "started_at",
            "operator__name",
            "direction",
            "duration_seconds",
            "status",
            "language",
            "score",
            "auto_fail",
            "needs_review",
            "customer_sentiment",
            "outcome",
        )
    )
    for (
        pk,
        started_at,
        operator,
        direction,
        seconds,
        status,
        language,
        score,
        auto_fail,
        review,
        mood,
        outcome,
    ) in calls.iterator(chunk_size=2000):
        yield [
            pk,
            timezone.localtime(started_at, zone).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds"),
            operator or "",
            direction,
            seconds,
            status,
            language,
            None if score is None else round(score, 1),
            int(auto_fail),
            int(review),
            mood,
            str(OUTCOME_LABELS.get(outcome, outcome)) if outcome else "",
        ]


def _call_count(company: Company, filters: DashboardFilters) -> int:
    return dashboard_calls(company=company, filters=filters).count()


TABLES: dict[str, Table] = {
    "kpis": Table(
        _("Key figures"), lambda: [_("Figure"), _("This period"), _("Previous period"), _("Change")], _kpi_rows
    ),
    "days": Table(
        _("Calls per day"),
        lambda: [_("Day"), _("Calls"), _("Answered"), _("Scored"), _("Mean score"), _("Auto-fail rate (%)")],
        _day_rows,
    ),
    "topics": Table(_("Top purposes and topics"), lambda: [_("Kind"), _("Value"), _("Calls")], _topic_rows),
    "operators": Table(
        _("Operators"),
        lambda: [
            _("Operator"),
            _("Calls"),
            _("Answered"),
            _("Scored"),
            _("Mean score"),
            _("Auto-fail rate (%)"),
            _("Mean handle time (s)"),
            _("Talk ratio (%)"),
            _("Silence (%)"),
            _("Interruptions per call"),
            _("Speech rate (words/min)"),
            _("Negative customers"),
            _("Neutral customers"),
            _("Positive customers"),
        ],
        _operator_rows,
    ),
    "items": Table(
        _("Checklist items"),
        lambda: [
            _("Checklist"),
            _("Version"),
            _("Section"),
            _("Item"),
            _("Critical"),
            _("Met"),
            _("Not met"),
            _("N/A"),
            _("Needs review"),
            _("Compliance (%)"),
        ],
        _item_rows,
    ),
    "conversion_bands": Table(
        _("Won rate by score band"),
        lambda: [_("Score band"), _("Closed deals"), _("Won"), _("Won rate (%)")],
        _conversion_band_rows,
    ),
    "conversion_items": Table(
        _("Won rate by checklist item"),
        lambda: [
            _("Checklist"),
            _("Section"),
            _("Item"),
            _("Deals where met"),
            _("Won where met"),
            _("Won rate where met (%)"),
            _("Deals where not met"),
            _("Won where not met"),
            _("Won rate where not met (%)"),
        ],
        _conversion_item_rows,
    ),
    "calls": Table(
        _("Calls"),
        lambda: [
            _("Call id"),
            _("Started (local time)"),
            _("Operator"),
            _("Direction"),
            _("Duration (s)"),
            _("Status"),
            _("Language"),
            _("Score"),
            _("Auto-fail"),
            _("Needs review"),
            _("Customer sentiment"),
            _("Outcome"),
        ],
        _call_rows,
        is_big=True,
    ),
}


def export_filename(*, company: Company, table: str, fmt: str, filters: DashboardFilters) -> str:
    return f"dialix-{company.slug}-{table}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.{fmt}"


# --- writers ------------------------------------------------------------------------------------------------------


class _Echo:
    """csv.writer's file: hands each written line back, so a response streams it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(headers: list[Any], rows: Iterable[list[Any]]) -> Iterator[str]:
    """The CSV text line by line, a BOM first so Excel reads UTF-8 (Uzbek and Russian names)."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    yield writer.writerow([escape_cell(str(h)) for h in headers])
    for row in rows:
        yield writer.writerow(["" if v is None else escape_cell(v) for v in row])


def xlsx_write(out: Any, *, title: str, headers: list[Any], rows: Iterable[list[Any]]) -> None:
    """An XLSX workbook in openpyxl's write-only mode (rows streamed to a temporary file, memory flat)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "Dialix")  # Excel's limit on a sheet name
    sheet.append([escape_cell(str(h)) for h in headers])
    for row in rows:
        sheet.append([escape_cell(v) for v in row])
    workbook.save(out)


def export_response(
    *, company: Company, table: str, fmt: str, filters: DashboardFilters, options: dict[str, Any] | None = None
) -> HttpResponse:
    """A small table (the page's own rows, in its order: `options` such as the leaderboard's sort) as a download."""
    spec = TABLES[table]
    name = export_filename(company=company, table=table, fmt=fmt, filters=filters)
    headers, rows = spec.headers(), spec.rows(company, filters, **(options or {}))
    if fmt == ExportFormat.CSV:
        response: HttpResponse = StreamingHttpResponse(csv_lines(headers, rows), content_type=CONTENT_TYPES[fmt])
    else:
        buffer = io.BytesIO()
        xlsx_write(buffer, title=str(spec.title), headers=headers, rows=rows)
        response = HttpResponse(buffer.getvalue(), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- background jobs ----------------------------------------------------------------------------------------------


def _fixed_params(filters: DashboardFilters) -> dict[str, Any]:
    """The filters with the period pinned to its days: a job queued before midnight exports the days it was asked
    for, whenever a worker runs it."""
    params = dict(filters.as_params())
    params.update(period="custom", date_from=filters.start.isoformat(), date_to=filters.end.isoformat())
    return params


def export_job_create(
    *, company: Company, user: AbstractBaseUser | None, table: str, fmt: str, filters: DashboardFilters
) -> ExportJob:
    """Queues the export of a table; the worker (in process without a broker) writes the file."""
    if table not in TABLES or fmt not in ExportFormat.values:
        raise ValueError(f"unknown export {table}.{fmt}")
    with transaction.atomic():
        job = ExportJob.objects.create(
            company=company,
            requested_by=user if user is not None and user.is_authenticated else None,
            table=table,
            format=fmt,
            params=_fixed_params(filters),
        )
        transaction.on_commit(
            lambda: task_enqueue(export_run_task, job.pk, company_id=company.pk, priority=PRIORITY_PERSON)
        )
    return job


def _job_filters(job: ExportJob) -> DashboardFilters:
    params = QueryDict(mutable=True)
    for key, value in job.params.items():
        params.setlist(key, value if isinstance(value, list) else [value])
    return filters_from_params(company=job.company, params=params)


class _RowCounter:
    """Passes rows through, counting them, and reports the count every PROGRESS_EVERY_ROWS rows."""

    def __init__(self, rows: Iterable[list[Any]], report: Callable[[int], None]) -> None:
        self.rows, self.report, self.count = rows, report, 0

    def __iter__(self) -> Iterator[list[Any]]:
        for row in self.rows:
            yield row
            self.count += 1
            if self.count % PROGRESS_EVERY_ROWS == 0:
                self.report(self.count)


def export_run(*, job_id: int) -> None:
    """Writes the job's file. Idempotent: only a QUEUED job starts (a conditional update), so a second delivery of
    the task does nothing; a crash midway leaves it RUNNING, and the file is written under a fresh name each run."""
    if not ExportJob.objects.filter(pk=job_id, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING, updated_at=timezone.now()
    ):
        return
    job = ExportJob.objects.select_related("company").get(pk=job_id)
    spec = TABLES[job.table]
    try:
        filters = _job_filters(job)
        total = _call_count(job.company, filters) if spec.is_big else None
        ExportJob.objects.filter(pk=job.pk).update(rows_total=total)

        def progress(done: int) -> None:
            ExportJob.objects.filter(pk=job.pk).update(rows_done=done, updated_at=timezone.now())

        name = export_filename(company=job.company, table=job.table, fmt=job.format, filters=filters)
        counter = _RowCounter(spec.rows(job.company, filters), progress)
        with tempfile.TemporaryFile() as out:
            if job.format == ExportFormat.CSV:
                text = io.TextIOWrapper(out, encoding="utf-8", newline="")
                text.writelines(csv_lines(spec.headers(), counter))
                text.flush()
                text.detach()  # the file stays open for the storage to read
            else:
                xlsx_write(out, title=str(spec.title), headers=spec.headers(), rows=counter)
            written = counter.count
            out.seek(0)
            job.file.save(f"{uuid.uuid4().hex}/{name}", File(out), save=False)
    except Exception as exc:  # the boundary of a background job: record why, so the page can say so
        logger.exception("export_failed", extra={"company_id": job.company_id, "export_id": job.pk})
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportStatus.FAILED, error=f"{type(exc).__name__}"[:300], finished_at=timezone.now()
        )
        return
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.DONE,
        file=job.file.name,
        rows_total=written,
        rows_done=written,
        finished_at=now,
        expires_at=now + dt.timedelta(hours=settings.DIALIX_EXPORT_KEEP_HOURS),
        updated_at=now,
    )
    logger.info("export_done", extra={"company_id": job.company_id, "export_id": job.pk, "rows": written})


def export_job_get(*, company: Company, job_id: int) -> ExportJob:
    """The company's job (ExportJob.DoesNotExist for another company's: it answers like a missing one)."""
    return ExportJob.objects.for_company(company).get(pk=job_id)


def _delete_file(job: ExportJob) -> None:
    if job.file:
        job.file.delete(save=False)
    ExportJob.objects.filter(pk=job.pk).delete()


def export_open(*, company: Company, job_id: int) -> tuple[File, str, str]:
    """The finished file of the company's job: (file, download name, content type). An expired one is deleted
    here (the Beat task deletes the others) and raises ExportUnavailable, as does an unfinished one."""
    job = export_job_get(company=company, job_id=job_id)
    if job.status != ExportStatus.DONE or not job.file:
        raise ExportUnavailable
    if job.expires_at is not None and job.expires_at <= timezone.now():
        _delete_file(job)
        raise ExportUnavailable
    try:
        handle = job.file.open("rb")
    except FileNotFoundError as exc:
        raise ExportUnavailable from exc
    return handle, job.file.name.rsplit("/", 1)[-1], CONTENT_TYPES[job.format]


def exports_expired_delete(*, now: dt.datetime | None = None) -> int:
    """Deletes the files and rows of the jobs past their time, and of jobs stuck unfinished for as long (Beat)."""
    now = now or timezone.now()
    keep = dt.timedelta(hours=settings.DIALIX_EXPORT_KEEP_HOURS)
    stale = ExportJob.objects.filter(expires_at__lte=now) | ExportJob.objects.filter(
        expires_at__isnull=True, created_at__lte=now - keep
    )
    deleted = 0
    for job in stale.order_by("id").iterator():
        _delete_file(job)
        deleted += 1
    if deleted:
        logger.info("exports_expired_deleted", extra={"company_id": None, "count": deleted})
    return deleted


def export_job_status(job: ExportJob) -> dict[str, Any]:
    """The JSON the page polls."""
    return {
        "id": job.pk,
        "status": job.status,
        "status_display": str(job.get_status_display()),
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "progress": job.progress,
        "error": job.error,
        "expires_at": job.expires_at.isoformat() if job.expires_at else None,
    }
