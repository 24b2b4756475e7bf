"""What a company's calls cost (issue 16): the engines' prices, and the estimate shown before bulk work (a bulk
re-analysis in the console). The monthly figures are analytics.selectors_usage's; both use these prices.

Prices are settings (DIALIX_STT_USD_PER_MINUTE: engine -> USD per audio minute), because they are the vendor's and
change without a release. The LLM's cost is what the analyser recorded per analysis (CallAnalysis.cost_usd, from the
vendor's token counts), so an estimate of a re-analysis is the company's own recent average per analysis."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Avg, Count, QuerySet, Sum
from django.utils import timezone

from calls.models import Call
from checklists.models import CallAnalysis
from companies.models import Company

# Defaults of DIALIX_STT_USD_PER_MINUTE: OpenAI's published whisper-1 price; UzbekVoice's is per contract (set it);
# the offline engine runs on our servers (no per-minute price).
DEFAULT_STT_USD_PER_MINUTE = {"offline": "0", "whisper_local": "0", "openai": "0.006", "uzbekvoice": "0"}
ESTIMATE_SAMPLE = 200  # the company's latest analyses an estimate averages


def stt_usd_per_minute() -> dict[str, Decimal]:
    prices = {**DEFAULT_STT_USD_PER_MINUTE, **getattr(settings, "DIALIX_STT_USD_PER_MINUTE", {})}
    return {engine: Decimal(str(price)) for engine, price in prices.items()}


def stt_cost(engine: str, minutes: float) -> Decimal | None:
    """USD for `minutes` of audio on `engine` (its name before any ':' detail); None when the price is unknown."""
    price = stt_usd_per_minute().get(engine.split(":", 1)[0])
    return None if price is None else (price * Decimal(str(minutes))).quantize(Decimal("0.0001"))


@dataclass(frozen=True)
class Estimate:
    calls: int
    audio_minutes: float
    llm_tokens: int | None  # None: no analysis of this company to average yet
    llm_cost_usd: Decimal | None
    based_on: int  # how many recent analyses the averages come from
    engine: str


def reanalysis_estimate(*, company: Company, calls: QuerySet[Call], engine: str | None = None) -> Estimate:
    """Minutes and LLM cost of analysing these calls again, from the company's latest analyses (with `engine` when
    given). Two queries: the selection's count and minutes, the averages."""
    selection = calls.filter(company=company).aggregate(n=Count("id"), seconds=Sum("duration_seconds"))
    recent = CallAnalysis.objects.for_company(company).order_by("-created_at")
    if engine:
        recent = recent.filter(engine__startswith=engine)
    sample = recent.values("id")[:ESTIMATE_SAMPLE]
    averages = CallAnalysis.objects.filter(id__in=sample).aggregate(
        n=Count("id"), prompt=Avg("prompt_tokens"), completion=Avg("completion_tokens"), cost=Avg("cost_usd")
    )
    count = selection["n"] or 0
    tokens = cost = None
    if averages["n"]:
        tokens = round(((averages["prompt"] or 0) + (averages["completion"] or 0)) * count)
        cost = (Decimal(str(averages["cost"] or 0)) * count).quantize(Decimal("0.0001"))
    return Estimate(
        calls=count,
        audio_minutes=round((selection["seconds"] or 0) / 60, 1),
        llm_tokens=tokens,
        llm_cost_usd=cost,
        based_on=averages["n"] or 0,
        engine=engine or "",
    )


BACKFILL_SAMPLE_DAYS = 30  # the recent days whose calls a backfill estimate extrapolates


def backfill_estimate(*, company_id: int) -> dict:
    """What one day of a company's PBX history costs to bring in, from its last BACKFILL_SAMPLE_DAYS days: calls and
    audio minutes per day, and the cost per day (speech-to-text at the default engine's price plus the company's
    average LLM cost per analysis). Receiver of integrations.signals.backfill_estimate_requested."""
    since = timezone.now() - dt.timedelta(days=BACKFILL_SAMPLE_DAYS)
    recent = Call.objects.filter(company_id=company_id, started_at__gte=since).aggregate(
        n=Count("id"), seconds=Sum("duration_seconds")
    )
    calls_per_day = (recent["n"] or 0) / BACKFILL_SAMPLE_DAYS
    minutes_per_day = (recent["seconds"] or 0) / 60 / BACKFILL_SAMPLE_DAYS
    llm = CallAnalysis.objects.filter(company_id=company_id, created_at__gte=since).aggregate(cost=Avg("cost_usd"))
    stt = stt_cost(settings.DIALIX_STT_ENGINE, minutes_per_day)
    cost = None
    if stt is not None:
        cost = (stt + Decimal(str(llm["cost"] or 0)) * Decimal(str(calls_per_day))).quantize(Decimal("0.01"))
    return {
        "calls_per_day": round(calls_per_day, 1),
        "minutes_per_day": round(minutes_per_day, 1),
        "cost_usd_per_day": cost,
        "based_on_days": BACKFILL_SAMPLE_DAYS,
    }


def on_backfill_estimate_requested(sender, *, company_id: int, **kwargs) -> dict:
    return backfill_estimate(company_id=company_id)
