"""Figures for dashboards and BI (issue 13): one selector per figure, shared by the analysts' dashboard and the
aggregates API (analytics.api), so both always show the same numbers. Each one is a single grouped query over the
company's calls, or over a subset of them the caller filtered (e.g. with calls.filters.CallFilter)."""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, DateField, F, Q, QuerySet
from django.db.models.functions import Trunc

from calls.filters import OUTCOMES
from calls.models import Call, CallStatus
from checklists.models import Answer, ItemResult, Sentiment
from companies.models import Company

Interval = Literal["day", "week"]
INTERVALS: tuple[str, ...] = ("day", "week")
SENTIMENTS: tuple[str, ...] = tuple(Sentiment.values)
OUTCOME_VALUES: tuple[str, ...] = tuple(value for value, _ in OUTCOMES)
ITEM_ANSWERS: tuple[str, ...] = (Answer.MET, Answer.NOT_MET, Answer.NA, Answer.NEEDS_REVIEW)


def dashboard_summary(*, company: Company) -> dict[str, int]:
    """Headline counts for the dashboard, in one query."""
    return Call.objects.for_company(company).aggregate(
        calls=Count("id"),
        done=Count("id", filter=Q(status=CallStatus.DONE)),
        failed=Count("id", filter=Q(status=CallStatus.FAILED)),
    )


def analytics_calls(*, company: Company) -> QuerySet[Call]:
    """The company's calls, as the base a caller filters before asking for a figure (nothing joined: the figures
    group and join what they need)."""
    return Call.objects.for_company(company).order_by()


def _scoped(company: Company, calls: QuerySet[Call] | None) -> QuerySet[Call]:
    # Whatever the caller passes, the figures only ever count this company's calls.
    return (calls if calls is not None else Call.objects.all()).filter(company=company).order_by()


def _call_figures() -> dict[str, Any]:
    """The figures of a group of calls, as aggregate expressions. The score and the auto-fail rate count scored
    calls only: a low-confidence transcript leaves the score None, so it counts in neither."""
    scored = Q(score__isnull=False)
    figures: dict[str, Any] = {
        "calls": Count("id"),
        "answered": Count("id", filter=~Q(status=CallStatus.SKIPPED)),
        "scored": Count("id", filter=scored),
        "mean_score": Avg("score"),
        "auto_failed": Count("id", filter=scored & Q(auto_fail=True)),
        "talk_ratio": Avg("talk_ratio"),
        "silence_share": Avg("silence_share"),
    }
    for sentiment in SENTIMENTS:
        figures[f"sentiment_{sentiment}"] = Count("id", filter=Q(customer_sentiment=sentiment))
    for outcome in OUTCOME_VALUES:
        figures[f"outcome_{outcome}"] = Count("id", filter=Q(outcome=outcome))
    return figures


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    """A grouped row as the API and the dashboard show it: rates and means rounded, mixes as objects."""
    scored = row.pop("scored")
    auto_failed = row.pop("auto_failed")
    row["scored"] = scored
    row["mean_score"] = None if row["mean_score"] is None else round(row["mean_score"], 1)
    row["auto_fail_rate"] = round(auto_failed / scored, 4) if scored else None
    for name in ("talk_ratio", "silence_share"):
        row[name] = None if row[name] is None else round(row[name], 4)
    row["sentiment"] = {s: row.pop(f"sentiment_{s}") for s in SENTIMENTS}
    row["outcome"] = {o: row.pop(f"outcome_{o}") for o in OUTCOME_VALUES}
    return row


def calls_period_aggregates(
    *, company: Company, calls: QuerySet[Call] | None = None, interval: Interval = "day"
) -> list[dict[str, Any]]:
    """Per day (or per week, starting on Monday) in the company's time zone, oldest first: calls, answered, scored,
    mean score, auto-fail rate, customer sentiment and outcome mixes, mean talk ratio and silence share. One query;
    periods without calls are left out."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}")
    period = Trunc("started_at", interval, output_field=DateField(), tzinfo=ZoneInfo(company.time_zone))
    rows = (
        _scoped(company, calls)
        .annotate(period_start=period)
        .values("period_start")
        .annotate(**_call_figures())
        .order_by("period_start")
    )
    return [_shape(dict(row)) for row in rows]


def calls_operator_aggregates(*, company: Company, calls: QuerySet[Call] | None = None) -> list[dict[str, Any]]:
    """The same figures per operator, by name (calls without an operator last, as operator None). One query."""
    rows = (
        _scoped(company, calls)
        .values("operator_id")
        .annotate(operator_name=F("operator__name"), **_call_figures())
        .order_by(F("operator__name").asc(nulls_last=True), "operator_id")
    )
    return [_shape(dict(row)) for row in rows]


def checklist_item_compliance(*, company: Company, calls: QuerySet[Call] | None = None) -> list[dict[str, Any]]:
    """Per checklist version item, the answers that count (a supervisor's correction wins) over the calls: met, not
    met, not applicable, needs review, and the compliance rate met / (met + not met). By checklist, version, item
    order. One query."""
    counts = {a: Count("id", filter=Q(answer=a)) for a in ITEM_ANSWERS}
    rows = (
        ItemResult.objects.for_company(company)
        .filter(call__in=_scoped(company, calls).values("id"))
        .values(
            "version_item_id",
            checklist_id=F("version_item__version__checklist_id"),
            checklist_name=F("version_item__version__checklist__name"),
            version=F("version_item__version__number"),
            section=F("version_item__section_title"),
            criterion=F("version_item__criterion"),
            is_critical=F("version_item__is_critical"),
        )
        .annotate(**counts)
        .order_by("checklist_name", "checklist_id", "version", "version_item__order", "version_item_id")
    )
    shaped = []
    for row in rows:
        row = dict(row)
        row["item_id"] = row.pop("version_item_id")
        decided = row[Answer.MET] + row[Answer.NOT_MET]
        row["compliance"] = round(row[Answer.MET] / decided, 4) if decided else None
        shaped.append(row)
    return shaped
