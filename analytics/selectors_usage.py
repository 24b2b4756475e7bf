"""Usage and cost per company and month (issue 16): audio received, audio transcribed per engine, LLM tokens and
cost per engine, storage. The console's usage page and /api/v1/usage/ both read usage_months, so they agree.

Where each figure comes from (months are the company's time zone's calendar months):
- audio received: calls whose recording was stored in the month (``recording_stored_at``), their recordings' length
  (``recording_duration_seconds``) and size (``recording_bytes``). Both stay on the call after the retention policy
  deleted the file, so a past month never changes.
- transcribed: the calls' current transcripts, by the month they were made and their engine (``Transcript.engine``),
  their audio length (``duration_ms``); STT cost = minutes x the engine's price (calls.usage, a setting).
- LLM: the calls' current analyses by month and engine: prompt and completion tokens and the cost the analyser
  recorded (``CallAnalysis.cost_usd``; empty for the offline rules, which cost nothing).
- storage: bytes of the recordings stored now (a point in time, not a month's).
A re-transcription or re-analysis replaces the call's transcript or analysis, so only the latest run of a call is
counted (the month of that run): runs that were replaced are not billed twice here. Four queries in all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from calls.models import Call, Transcript
from calls.usage import stt_cost
from checklists.models import CallAnalysis
from companies.models import Company

MAX_MONTHS = 36


@dataclass
class EngineMinutes:
    engine: str
    calls: int
    minutes: float
    cost_usd: Decimal | None


@dataclass
class EngineTokens:
    engine: str
    analyses: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal


@dataclass
class UsageMonth:
    month: dt.date  # the first day of the month
    calls_received: int = 0
    audio_minutes_received: float = 0.0
    storage_added_bytes: int = 0
    transcribed: list[EngineMinutes] = field(default_factory=list)
    llm: list[EngineTokens] = field(default_factory=list)

    @property
    def audio_minutes_transcribed(self) -> float:
        return round(sum(row.minutes for row in self.transcribed), 1)

    @property
    def llm_tokens(self) -> int:
        return sum(row.prompt_tokens + row.completion_tokens for row in self.llm)

    @property
    def cost_usd(self) -> Decimal:
        stt = sum((row.cost_usd or Decimal(0) for row in self.transcribed), Decimal(0))
        return (stt + sum((row.cost_usd for row in self.llm), Decimal(0))).quantize(Decimal("0.0001"))


@dataclass
class Usage:
    storage_bytes: int
    recordings_stored: int
    months: list[UsageMonth]


def _month_start(day: dt.date, back: int) -> dt.date:
    year, month = day.year, day.month - back
    while month <= 0:
        month, year = month + 12, year - 1
    return dt.date(year, month, 1)


def usage_months(*, company: Company, months: int = 12, today: dt.date | None = None) -> Usage:
    """The last `months` calendar months (this one included), newest first, every month present even when empty."""
    months = max(1, min(months, MAX_MONTHS))
    zone = ZoneInfo(company.time_zone)
    today = today or timezone.localdate(timezone=zone)
    first = _month_start(today, months - 1)
    since = dt.datetime.combine(first, dt.time.min, zone)
    by_month = {_month_start(today, back): UsageMonth(month=_month_start(today, back)) for back in range(months)}

    def month_of(value: dt.datetime | dt.date) -> dt.date:
        value = value.astimezone(zone).date() if isinstance(value, dt.datetime) else value
        return value.replace(day=1)

    received = (
        Call.objects.for_company(company)
        .filter(recording_stored_at__gte=since)
        .annotate(month=TruncMonth("recording_stored_at", tzinfo=zone))
        .values("month")
        .annotate(calls=Count("id"), seconds=Sum("recording_duration_seconds"), size=Sum("recording_bytes"))
        .order_by("month")
    )
    for row in received:
        month = by_month.get(month_of(row["month"]))
        if month is not None:
            month.calls_received = row["calls"]
            month.audio_minutes_received = round((row["seconds"] or 0) / 60, 1)
            month.storage_added_bytes = row["size"] or 0

    transcribed = (
        Transcript.objects.for_company(company)
        .filter(created_at__gte=since)
        .annotate(month=TruncMonth("created_at", tzinfo=zone))
        .values("month", "engine")
        .annotate(calls=Count("id"), ms=Sum("duration_ms"))
        .order_by("month", "engine")
    )
    for row in transcribed:
        month = by_month.get(month_of(row["month"]))
        if month is not None:
            minutes = round((row["ms"] or 0) / 60000, 1)
            month.transcribed.append(
                EngineMinutes(row["engine"], row["calls"], minutes, stt_cost(row["engine"], minutes))
            )

    analysed = (
        CallAnalysis.objects.for_company(company)
        .filter(created_at__gte=since)
        .annotate(month=TruncMonth("created_at", tzinfo=zone))
        .values("month", "engine")
        .annotate(n=Count("id"), prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"), cost=Sum("cost_usd"))
        .order_by("month", "engine")
    )
    for row in analysed:
        month = by_month.get(month_of(row["month"]))
        if month is not None:
            month.llm.append(
                EngineTokens(
                    row["engine"],
                    row["n"],
                    row["prompt"] or 0,
                    row["completion"] or 0,
                    Decimal(row["cost"] or 0).quantize(Decimal("0.0001")),
                )
            )

    stored = (
        Call.objects.for_company(company).exclude(recording="").aggregate(n=Count("id"), size=Sum("recording_bytes"))
    )
    return Usage(
        storage_bytes=stored["size"] or 0,
        recordings_stored=stored["n"] or 0,
        months=[by_month[key] for key in sorted(by_month, reverse=True)],
    )
