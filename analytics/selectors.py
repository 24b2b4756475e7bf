"""Figures for dashboards and BI (issues 13 and 15): one selector per figure, shared by the analysts' dashboard and
the aggregates API (analytics.api), so both always show the same numbers.

Each figure reads the daily rollups (analytics.models) when every filter is a rollup dimension (period in whole local
days, operators, direction, language, and outcome for the call figures), and otherwise falls back to the same grouping
computed directly over the calls (a checklist filter on call figures, an outcome filter on item / topic figures, or
any other calls-list filter the API passes as a queryset). Both paths group with the same sums (``call_sums()`` is
also what analytics.services writes into the rollups), so they agree by construction; ``direct=True`` forces the
scan (tests and the bench compare the two). Every selector runs a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.db.models import Count, DateField, Exists, F, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay, Trunc
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.models import DailyCallRollup, DailyItemRollup, DailyTopicRollup, HourlyCallRollup, TopicKind
from calls.filters import OUTCOMES
from calls.models import Call, CallStatus, Direction
from checklists.models import Answer, CallAnalysis, Checklist, ItemResult, Scorecard, Sentiment
from companies.models import LANGUAGE_CODES, Company
from operators.models import Operator

Interval = Literal["day", "week"]
INTERVALS: tuple[str, ...] = ("day", "week")
SENTIMENTS: tuple[str, ...] = tuple(Sentiment.values)
OUTCOME_VALUES: tuple[str, ...] = tuple(value for value, _ in OUTCOMES)
ITEM_ANSWERS: tuple[str, ...] = (Answer.MET, Answer.NOT_MET, Answer.NA, Answer.NEEDS_REVIEW)
PERIODS: tuple[str, ...] = ("today", "7d", "30d", "90d", "month", "custom")
MAX_CUSTOM_DAYS = 400
SPARKLINE_DAILY_MAX_DAYS = 92  # longer periods: one point per week
ITEM_TREND_DAILY_MAX_DAYS = 31
LEADERBOARD_SORTS: tuple[str, ...] = (
    "calls",
    "mean_score",
    "auto_fail_rate",
    "mean_handle_seconds",
    "talk_ratio",
    "silence_share",
    "interruptions",
    "speech_rate",
    "name",
)


# --- filters -----------------------------------------------------------------------------------------------------


class FilterError(ValueError):
    """Bad filter parameters: ``errors`` maps each parameter to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class DashboardFilters:
    """A period of whole local days (inclusive; None = open) and the dashboard's filters."""

    start: dt.date | None
    end: dt.date | None
    operator_ids: tuple[int, ...] = ()
    direction: str = ""
    language: str = ""
    checklist_id: int | None = None
    outcome: str = ""
    period: str = "30d"

    @property
    def days(self) -> int:
        if self.start is None or self.end is None:
            raise ValueError("an open period has no length")
        return (self.end - self.start).days + 1

    def previous(self) -> DashboardFilters:
        """The period of the same length just before, with the same other filters."""
        length = dt.timedelta(days=self.days)
        return replace(self, start=self.start - length, end=self.end - length, period="custom")

    def bounds(self, time_zone: str) -> tuple[dt.datetime | None, dt.datetime | None]:
        """Local midnight of the first day .. local midnight after the last day, as aware datetimes."""
        zone = ZoneInfo(time_zone)
        start = None if self.start is None else dt.datetime.combine(self.start, dt.time(), zone)
        end = None if self.end is None else dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), zone)
        return start, end

    def as_params(self) -> dict[str, str | list[str]]:
        params: dict[str, str | list[str]] = {"period": self.period}
        if self.period == "custom" and self.start and self.end:
            params.update(date_from=self.start.isoformat(), date_to=self.end.isoformat())
        if self.operator_ids:
            params["operator"] = [str(pk) for pk in self.operator_ids]
        for name in ("direction", "language", "outcome"):
            if getattr(self, name):
                params[name] = getattr(self, name)
        if self.checklist_id is not None:
            params["checklist"] = str(self.checklist_id)
        return params


def company_today(*, company: Company) -> dt.date:
    return timezone.now().astimezone(ZoneInfo(company.time_zone)).date()


def _values(params: Mapping, name: str) -> list[str]:
    if hasattr(params, "getlist"):
        return [v for v in params.getlist(name) if v != ""]
    value = params.get(name)
    if value in (None, ""):
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def filters_from_params(*, company: Company, params: Mapping, today: dt.date | None = None) -> DashboardFilters:
    """The dashboard's URL parameters (see /tmp contract: period, date_from, date_to, operator (repeatable),
    direction, language, checklist, outcome) as filters; FilterError on bad input. Two queries at most (the
    operators and the checklist are checked against the company)."""
    errors: dict[str, list[str]] = {}
    today = today or company_today(company=company)
    period = (_values(params, "period") or ["30d"])[0]
    start = end = None
    if period not in PERIODS:
        errors["period"] = [_("Choose one of: %(periods)s.") % {"periods": ", ".join(PERIODS)}]
    elif period == "custom":
        raw_from, raw_to = (_values(params, "date_from") or [""])[0], (_values(params, "date_to") or [""])[0]
        start, end = _date(raw_from), _date(raw_to)
        if start is None:
            errors["date_from"] = [_("Give the first day as YYYY-MM-DD.")]
        if end is None:
            errors["date_to"] = [_("Give the last day as YYYY-MM-DD.")]
        if start and end:
            if start > end:
                errors["date_to"] = [_("The last day is before the first day.")]
            elif (end - start).days + 1 > MAX_CUSTOM_DAYS:
                errors["date_to"] = [_("A period is at most %(days)d days.") % {"days": MAX_CUSTOM_DAYS}]
            elif start.year < 2000 or end.year > 2100:
                errors["date_from"] = [_("Choose days between 2000 and 2100.")]
    else:
        end = today
        lengths = {"today": 1, "7d": 7, "30d": 30, "90d": 90}
        start = today.replace(day=1) if period == "month" else today - dt.timedelta(days=lengths[period] - 1)

    operator_ids: list[int] = []
    raw_operators = _values(params, "operator")
    if any(not v.isdigit() or len(v) > 18 for v in raw_operators):
        errors["operator"] = [_("Operators are given by their ids.")]
    elif raw_operators:
        wanted = sorted({int(v) for v in raw_operators})
        found = set(Operator.objects.for_company(company).filter(pk__in=wanted).values_list("pk", flat=True))
        if found != set(wanted):
            errors["operator"] = [_("Not an operator of your company.")]
        operator_ids = wanted

    direction = (_values(params, "direction") or [""])[0]
    if direction and direction not in Direction.values:
        errors["direction"] = [_("Choose inbound or outbound.")]
    language = (_values(params, "language") or [""])[0]
    if language and language not in LANGUAGE_CODES:
        errors["language"] = [_("Choose one of: %(languages)s.") % {"languages": ", ".join(LANGUAGE_CODES)}]
    outcome = (_values(params, "outcome") or [""])[0]
    if outcome and outcome not in OUTCOME_VALUES:
        errors["outcome"] = [_("Choose one of: %(outcomes)s.") % {"outcomes": ", ".join(OUTCOME_VALUES)}]
    checklist_id = None
    raw_checklist = (_values(params, "checklist") or [""])[0]
    if raw_checklist:
        if not raw_checklist.isdigit() or len(raw_checklist) > 18:
            errors["checklist"] = [_("A checklist is given by its id.")]
        elif not Checklist.objects.for_company(company).filter(pk=int(raw_checklist)).exists():
            errors["checklist"] = [_("Not a checklist of your company.")]
        else:
            checklist_id = int(raw_checklist)
    if errors:
        raise FilterError(errors)
    return DashboardFilters(
        start=start,
        end=end,
        operator_ids=tuple(operator_ids),
        direction=direction,
        language=language,
        checklist_id=checklist_id,
        outcome=outcome,
        period=period,
    )


# --- the sums both paths group with ------------------------------------------------------------------------------

CALL_SUM_FIELDS: tuple[str, ...] = (
    "calls",
    "answered",
    "analysed",
    "scored",
    "score_sum",
    "auto_failed",
    "needs_review",
    "handle_seconds",
    "talk_ratio_sum",
    "talk_ratio_count",
    "silence_share_sum",
    "silence_share_count",
    "interruptions_sum",
    "interruptions_count",
    "speech_rate_sum",
    "speech_rate_count",
    *(f"sentiment_{s}" for s in SENTIMENTS),
)
HOUR_SUM_FIELDS: tuple[str, ...] = ("calls", "answered", "scored", "score_sum", "auto_failed")
ITEM_SUM_FIELDS: tuple[str, ...] = ("met", "not_met", "na", "needs_review")


def call_sums(prefix: str = "") -> dict[str, Any]:
    """The rollup's sums of a group of calls, as aggregates over Call (``prefix`` reaches the call from another
    model). A low-confidence transcript leaves the score None, so it counts in neither the score nor auto-fail."""
    p = prefix
    scored = Q(**{f"{p}score__isnull": False})
    answered = ~Q(**{f"{p}status": CallStatus.SKIPPED})
    sums: dict[str, Any] = {
        "calls": Count(f"{p}id"),
        "answered": Count(f"{p}id", filter=answered),
        "analysed": Count(f"{p}id", filter=Q(**{f"{p}status": CallStatus.DONE})),
        "scored": Count(f"{p}id", filter=scored),
        "score_sum": Coalesce(Sum(f"{p}score"), Value(0.0)),
        "auto_failed": Count(f"{p}id", filter=scored & Q(**{f"{p}auto_fail": True})),
        "needs_review": Count(f"{p}id", filter=Q(**{f"{p}needs_review": True})),
        "handle_seconds": Coalesce(Sum(f"{p}duration_seconds", filter=answered), Value(0)),
        "talk_ratio_sum": Coalesce(Sum(f"{p}talk_ratio"), Value(0.0)),
        "talk_ratio_count": Count(f"{p}talk_ratio"),
        "silence_share_sum": Coalesce(Sum(f"{p}silence_share"), Value(0.0)),
        "silence_share_count": Count(f"{p}silence_share"),
        "interruptions_sum": Coalesce(Sum(f"{p}interruptions"), Value(0)),
        "interruptions_count": Count(f"{p}interruptions"),
        "speech_rate_sum": Coalesce(Sum(f"{p}operator_words_per_minute"), Value(0.0)),
        "speech_rate_count": Count(f"{p}operator_words_per_minute"),
    }
    for sentiment in SENTIMENTS:
        sums[f"sentiment_{sentiment}"] = Count(f"{p}id", filter=Q(**{f"{p}customer_sentiment": sentiment}))
    return sums


def hour_sums() -> dict[str, Any]:
    sums = call_sums()
    return {name: sums[name] for name in HOUR_SUM_FIELDS}


def item_sums() -> dict[str, Any]:
    return {answer: Count("id", filter=Q(answer=answer)) for answer in ITEM_ANSWERS}


def call_groups_direct(tz: ZoneInfo, prefix: str = "") -> dict[str, Any]:
    """The grouping expressions over Call of the rollup dimensions (``g_`` names: a rollup's own field names)."""
    p = prefix
    return {
        "g_day": Trunc(f"{p}started_at", "day", output_field=DateField(), tzinfo=tz),
        "g_week": Trunc(f"{p}started_at", "week", output_field=DateField(), tzinfo=tz),
        "g_hour": ExtractHour(f"{p}started_at", tzinfo=tz),
        "g_weekday": ExtractIsoWeekDay(f"{p}started_at", tzinfo=tz),
        "g_operator_id": F(f"{p}operator_id"),
        "g_direction": F(f"{p}direction"),
        "g_language": F(f"{p}language"),
        "g_outcome": F(f"{p}outcome"),
        "g_operator_name": F(f"{p}operator__name"),
    }


ROLLUP_GROUPS: dict[str, Any] = {
    "g_day": F("day"),
    "g_week": Trunc("day", "week", output_field=DateField()),
    "g_hour": F("hour"),
    "g_weekday": ExtractIsoWeekDay("day"),
    "g_operator_id": F("operator_id"),
    "g_direction": F("direction"),
    "g_language": F("language"),
    "g_outcome": F("outcome"),
    "g_operator_name": F("operator__name"),
}


# --- where the rows come from ------------------------------------------------------------------------------------


def _zone(company: Company) -> ZoneInfo:
    return ZoneInfo(company.time_zone)


def _scoped(company: Company, calls: QuerySet[Call] | None) -> QuerySet[Call]:
    # Whatever the caller passes, the figures only ever count this company's calls.
    return (calls if calls is not None else Call.objects.all()).filter(company=company).order_by()


def _direct_calls(company: Company, filters: DashboardFilters | None, calls: QuerySet[Call] | None) -> QuerySet[Call]:
    rows = _scoped(company, calls)
    if filters is None:
        return rows
    start, end = filters.bounds(company.time_zone)
    if start is not None:
        rows = rows.filter(started_at__gte=start)
    if end is not None:
        rows = rows.filter(started_at__lt=end)
    if filters.operator_ids:
        rows = rows.filter(operator_id__in=filters.operator_ids)
    for name in ("direction", "language", "outcome"):
        if getattr(filters, name):
            rows = rows.filter(**{name: getattr(filters, name)})
    if filters.checklist_id is not None:
        rows = rows.filter(
            Exists(Scorecard.objects.filter(call_id=OuterRef("pk"), version__checklist_id=filters.checklist_id))
        )
    return rows


def _grain(filters: DashboardFilters, keys: Iterable[str]) -> str:
    """The coarsest rollup grain that answers: direction or language filtered needs every dimension; operators
    filtered or grouped by need the per-operator sums; anything else reads the company's."""
    if filters.direction or filters.language:
        return "full"
    if filters.operator_ids or {"g_operator_id", "g_operator_name"} & set(keys):
        return "operator"
    return "company"


def _rollup_rows(model, company: Company, filters: DashboardFilters, *, outcome: bool, grain: str) -> QuerySet:
    rows = model.objects.filter(company=company, grain=grain)
    if filters.start is not None:
        rows = rows.filter(day__gte=filters.start)
    if filters.end is not None:
        rows = rows.filter(day__lte=filters.end)
    if filters.operator_ids:
        rows = rows.filter(operator_id__in=filters.operator_ids)
    for name in ("direction", "language"):
        if getattr(filters, name):
            rows = rows.filter(**{name: getattr(filters, name)})
    if outcome and filters.outcome:
        rows = rows.filter(outcome=filters.outcome)
    if model is DailyItemRollup and filters.checklist_id is not None:
        rows = rows.filter(checklist_id=filters.checklist_id)
    return rows.order_by()


def _servable(filters: DashboardFilters | None, calls, direct: bool, *, outcome: bool, checklist: bool) -> bool:
    """Whether the rollups answer: no extra calls queryset, and every filter a dimension of that rollup."""
    if direct or calls is not None or filters is None:
        return False
    if filters.outcome and not outcome:
        return False
    if filters.checklist_id is not None and not checklist:
        return False
    return True


def _rename(row: dict[str, Any]) -> dict[str, Any]:
    return {(k[2:] if k.startswith(("g_", "m_")) else k): v for k, v in row.items()}


def call_group_rows(
    *,
    company: Company,
    filters: DashboardFilters | None,
    group: Iterable[str],
    calls: QuerySet[Call] | None = None,
    direct: bool = False,
    hourly: bool = False,
    only: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """The call sums grouped by ``group`` (day, week, hour, weekday, operator_id, operator_name, direction, language,
    outcome), from the rollups when they can answer, else from the calls. One query."""
    keys = [f"g_{name}" for name in group]
    fields = HOUR_SUM_FIELDS if hourly else CALL_SUM_FIELDS
    if _servable(filters, calls, direct, outcome=True, checklist=False):
        model = HourlyCallRollup if hourly else DailyCallRollup
        source = _rollup_rows(model, company, filters, outcome=True, grain=_grain(filters, keys))
        groups, sums = ROLLUP_GROUPS, {name: Sum(name) for name in fields}
    else:
        source = _direct_calls(company, filters, calls)
        groups, sums = call_groups_direct(_zone(company)), (hour_sums() if hourly else call_sums())
    if only is not None:  # fewer sums: less to read and to convert (a sparkline needs two)
        sums = {name: sums[name] for name in only}
    rows = source.annotate(**{k: groups[k] for k in keys}).values(*keys).annotate(**sums).order_by(*keys)
    return [_rename(row) for row in rows]


# The item's description, joined into the grouped query (both a rollup row and an item result have version_item).
ITEM_META: dict[str, Any] = {
    "m_checklist_id": F("version_item__version__checklist_id"),
    "m_checklist_name": F("version_item__version__checklist__name"),
    "m_version": F("version_item__version__number"),
    "m_section": F("version_item__section_title"),
    "m_criterion_text": F("version_item__criterion"),
    "m_critical": F("version_item__is_critical"),
    "m_order": F("version_item__order"),
}


def item_group_rows(
    *,
    company: Company,
    filters: DashboardFilters | None,
    group: Iterable[str],
    calls: QuerySet[Call] | None = None,
    direct: bool = False,
    meta: bool = False,
) -> list[dict[str, Any]]:
    """Item answer counts grouped by ``group`` (version_item_id and any of day, week, operator_id); with ``meta``
    the item's checklist, version, section, criterion and order too (a join, same query). One query."""
    keys = [f"g_{name}" for name in group] + (list(ITEM_META) if meta else [])
    if _servable(filters, calls, direct, outcome=False, checklist=True):
        source = _rollup_rows(DailyItemRollup, company, filters, outcome=False, grain=_grain(filters, keys))
        groups = {**ROLLUP_GROUPS, "g_version_item_id": F("version_item_id"), **ITEM_META}
        sums = {name: Sum(name) for name in ITEM_SUM_FIELDS}
    else:
        source = ItemResult.objects.filter(
            company=company, call__in=_direct_calls(company, filters, calls).values("id")
        )
        if filters is not None and filters.checklist_id is not None:
            source = source.filter(version_item__version__checklist_id=filters.checklist_id)
        groups = {
            **call_groups_direct(_zone(company), "call__"),
            "g_version_item_id": F("version_item_id"),
            **ITEM_META,
        }
        sums = item_sums()
    rows = source.order_by().annotate(**{k: groups[k] for k in keys}).values(*keys).annotate(**sums).order_by(*keys)
    return [_rename(row) for row in rows]


def topic_counts_direct(rows: Iterable[tuple]) -> Counter:
    """(key..., purpose, topics) rows of analyses → Counter of (key..., kind, value): a call counts once per topic."""
    counts: Counter = Counter()
    for *key, purpose, topics in rows:
        purpose = (purpose or "").strip()[:300]
        if purpose:
            counts[(*key, TopicKind.PURPOSE, purpose)] += 1
        for topic in {str(t).strip()[:300] for t in (topics or []) if str(t).strip()}:
            counts[(*key, TopicKind.TOPIC, topic)] += 1
    return counts


# --- shaping -----------------------------------------------------------------------------------------------------


def _ratio(part: float | int | None, whole: float | int | None, digits: int) -> float | None:
    if not whole or part is None:
        return None
    return round(part / whole, digits)


def _add(into: dict[str, Any], row: Mapping[str, Any], fields: Iterable[str]) -> None:
    for name in fields:
        into[name] = into.get(name, 0) + (row.get(name) or 0)


def figures(sums: Mapping[str, Any]) -> dict[str, Any]:
    """Summed rollup fields → the figures people read (means and rates; None without data)."""
    s = {name: sums.get(name) or 0 for name in CALL_SUM_FIELDS}
    return {
        "calls": s["calls"],
        "answered": s["answered"],
        "analysed": s["analysed"],
        "scored": s["scored"],
        "mean_score": _ratio(s["score_sum"], s["scored"], 1),
        "auto_fail_rate": _ratio(s["auto_failed"], s["scored"], 4),
        "needs_review": s["needs_review"],
        "mean_handle_seconds": _ratio(s["handle_seconds"], s["answered"], 1),
        "talk_ratio": _ratio(s["talk_ratio_sum"], s["talk_ratio_count"], 4),
        "silence_share": _ratio(s["silence_share_sum"], s["silence_share_count"], 4),
        "interruptions": _ratio(s["interruptions_sum"], s["interruptions_count"], 2),
        "speech_rate": _ratio(s["speech_rate_sum"], s["speech_rate_count"], 1),
        "sentiment": {x: s[f"sentiment_{x}"] for x in SENTIMENTS},
    }


def _fold(rows: Iterable[Mapping[str, Any]], key: str, fields: Iterable[str] = CALL_SUM_FIELDS) -> dict[Any, dict]:
    """Rows grouped by (key, outcome) → per key: the sums and the outcome counts."""
    fields = tuple(fields)
    folded: dict[Any, dict] = {}
    for row in rows:
        into = folded.setdefault(row[key], {"outcome": dict.fromkeys(OUTCOME_VALUES, 0)})
        _add(into, row, fields)
        if row.get("outcome") in into["outcome"]:
            into["outcome"][row["outcome"]] += row["calls"]
    return folded


def _days(start: dt.date, end: dt.date, interval: str) -> list[dt.date]:
    first = start - dt.timedelta(days=start.weekday()) if interval == "week" else start
    step = dt.timedelta(days=7 if interval == "week" else 1)
    buckets, day = [], first
    while day <= end:
        buckets.append(day)
        day += step
    return buckets


def _as_date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


# --- issue 13's figures (the aggregates API's daily / operators / items) ------------------------------------------


def analytics_calls(*, company: Company) -> QuerySet[Call]:
    """The company's calls, as the base a caller filters before asking for a figure (nothing joined: the figures
    group and join what they need)."""
    return Call.objects.for_company(company).order_by()


def _legacy_shape(sums: Mapping[str, Any], outcome: dict[str, int]) -> dict[str, Any]:
    shaped = figures(sums)
    shaped["outcome"] = outcome
    return shaped


def calls_period_aggregates(
    *,
    company: Company,
    calls: QuerySet[Call] | None = None,
    interval: Interval = "day",
    filters: DashboardFilters | None = None,
    direct: bool = False,
) -> list[dict[str, Any]]:
    """Per day (or per week, starting on Monday) in the company's time zone, oldest first: calls, answered, scored,
    mean score, auto-fail rate, customer sentiment and outcome mixes, mean talk ratio and silence share. Periods
    without calls are left out. From the rollups with ``filters`` alone; over ``calls`` (any calls-list filter)
    directly. One query."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}")
    rows = call_group_rows(company=company, filters=filters, group=[interval, "outcome"], calls=calls, direct=direct)
    folded = _fold(rows, interval)
    return [
        {"period_start": _as_date(start), **_legacy_shape(sums, sums["outcome"])}
        for start, sums in sorted(folded.items())
    ]


def calls_operator_aggregates(
    *,
    company: Company,
    calls: QuerySet[Call] | None = None,
    filters: DashboardFilters | None = None,
    direct: bool = False,
) -> list[dict[str, Any]]:
    """The same figures per operator, by name (calls without an operator last, as operator None). One query."""
    rows = call_group_rows(
        company=company, filters=filters, group=["operator_id", "operator_name", "outcome"], calls=calls, direct=direct
    )
    folded = _fold(rows, "operator_id")
    names = {row["operator_id"]: row["operator_name"] for row in rows}
    shaped = [
        {"operator_id": pk, "operator_name": names.get(pk), **_legacy_shape(sums, sums["outcome"])}
        for pk, sums in folded.items()
    ]
    shaped.sort(key=lambda r: (r["operator_name"] is None, r["operator_name"] or "", r["operator_id"] or 0))
    return shaped


def _item_meta(rows: Iterable[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """The items' descriptions, from rows grouped with ``meta=True``."""
    return {row["version_item_id"]: row for row in rows}


def _item_row(item_id: int, meta: Mapping[str, Any], counts: Mapping[str, Any]) -> dict[str, Any]:
    decided = (counts.get(Answer.MET) or 0) + (counts.get(Answer.NOT_MET) or 0)
    return {
        "item_id": item_id,
        "checklist_id": meta["checklist_id"],
        "checklist_name": meta["checklist_name"],
        "version": meta["version"],
        "section": meta["section"],
        "criterion": meta["criterion_text"],
        "is_critical": meta["critical"],
        **{answer: counts.get(answer) or 0 for answer in ITEM_ANSWERS},
        "compliance": _ratio(counts.get(Answer.MET) or 0, decided, 4),
    }


def checklist_item_compliance(
    *,
    company: Company,
    calls: QuerySet[Call] | None = None,
    filters: DashboardFilters | None = None,
    direct: bool = False,
) -> list[dict[str, Any]]:
    """Per checklist version item, the answers that count (a supervisor's correction wins) over the calls: met, not
    met, not applicable, needs review, and the compliance rate met / (met + not met). By checklist, version, item
    order. One query."""
    rows = item_group_rows(
        company=company, filters=filters, group=["version_item_id"], calls=calls, direct=direct, meta=True
    )
    meta = _item_meta(rows)
    shaped = [
        _item_row(row["version_item_id"], meta[row["version_item_id"]], row)
        for row in rows
        if row["version_item_id"] in meta
    ]
    order = {pk: (m["checklist_name"], m["checklist_id"], m["version"], m["order"], pk) for pk, m in meta.items()}
    shaped.sort(key=lambda r: order[r["item_id"]])
    return shaped


# --- issue 15's figures ------------------------------------------------------------------------------------------


def _period(filters: DashboardFilters) -> dict[str, str]:
    return {"start": filters.start.isoformat(), "end": filters.end.isoformat()}


def _change(current: Any, previous: Any, *, relative: bool) -> float | None:
    if current is None or previous is None:
        return None
    if not relative:
        return round(current - previous, 4)
    return None if not previous else round((current - previous) / previous, 4)


KPI_NAMES = ("calls", "answered", "analysed", "scored", "mean_score", "auto_fail_rate", "needs_review",
             "mean_handle_seconds")  # fmt: skip


def overview_kpis(*, company: Company, filters: DashboardFilters, direct: bool = False) -> dict[str, Any]:
    """The headline figures of the period and of the previous period of the same length, with the change: relative
    for counts and means, the difference for the mean score and the auto-fail rate. One query."""
    previous = filters.previous()
    both = replace(filters, start=previous.start)
    rows = call_group_rows(company=company, filters=both, group=["day"], direct=direct)
    cur: dict[str, Any] = {}
    prev: dict[str, Any] = {}
    for row in rows:
        _add(cur if _as_date(row["day"]) >= filters.start else prev, row, CALL_SUM_FIELDS)
    current = {k: figures(cur)[k] for k in KPI_NAMES}
    before = {k: figures(prev)[k] for k in KPI_NAMES}
    change = {k: _change(current[k], before[k], relative=k not in ("mean_score", "auto_fail_rate")) for k in KPI_NAMES}
    return {
        "current": current,
        "previous": before,
        "change": change,
        "period": _period(filters),
        "previous_period": _period(previous),
    }


def _series_point(start: str, sums: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "start": start,
        "calls": sums.get("calls") or 0,
        "answered": sums.get("answered") or 0,
        "scored": sums.get("scored") or 0,
        "mean_score": _ratio(sums.get("score_sum") or 0, sums.get("scored"), 1),
        "auto_fail_rate": _ratio(sums.get("auto_failed") or 0, sums.get("scored"), 4),
    }


def calls_series(*, company: Company, filters: DashboardFilters, direct: bool = False) -> dict[str, Any]:
    """Calls and the mean score per day, or per local hour when the period is one day; every bucket present. One
    query."""
    if filters.days == 1:
        rows = call_group_rows(company=company, filters=filters, group=["hour"], direct=direct, hourly=True)
        by_hour = {row["hour"]: row for row in rows}
        zone = _zone(company)
        points = [
            _series_point(dt.datetime.combine(filters.start, dt.time(hour), zone).isoformat(), by_hour.get(hour, {}))
            for hour in range(24)
        ]
        return {"interval": "hour", "points": points}
    rows = call_group_rows(company=company, filters=filters, group=["day"], direct=direct)
    by_day = {_as_date(row["day"]): row for row in rows}
    points = [_series_point(day.isoformat(), by_day.get(day, {})) for day in _days(filters.start, filters.end, "day")]
    return {"interval": "day", "points": points}


def mix(*, company: Company, filters: DashboardFilters, direct: bool = False) -> dict[str, Any]:
    """The customers' sentiment and the outcomes of the period's calls. One query."""
    rows = call_group_rows(company=company, filters=filters, group=["outcome"], direct=direct)
    sums: dict[str, Any] = {}
    outcome = dict.fromkeys(OUTCOME_VALUES, 0)
    for row in rows:
        _add(sums, row, CALL_SUM_FIELDS)
        if row["outcome"] in outcome:
            outcome[row["outcome"]] += row["calls"]
    return {"sentiment": figures(sums)["sentiment"], "outcome": outcome}


def top_topics(*, company: Company, filters: DashboardFilters, limit: int = 10, direct: bool = False) -> dict:
    """The most frequent purposes and topics of the period's analysed calls (most calls first, then by name). One
    query (two on the direct path's Python count)."""
    if _servable(filters, None, direct, outcome=False, checklist=False):
        rows = (
            _rollup_rows(DailyTopicRollup, company, filters, outcome=False, grain=_grain(filters, ()))
            .values("kind", "value")
            .annotate(total=Sum("calls"))
            .order_by("kind", "-total", "value")
        )
        ranked: dict[str, list[dict[str, Any]]] = {TopicKind.PURPOSE: [], TopicKind.TOPIC: []}
        for row in rows:
            if len(ranked[row["kind"]]) < limit:
                ranked[row["kind"]].append({"value": row["value"], "calls": row["total"]})
    else:
        analyses = CallAnalysis.objects.filter(
            company=company, call__in=_direct_calls(company, filters, None).values("id")
        ).values_list("purpose", "topics")
        counts = topic_counts_direct(analyses)
        ranked = {TopicKind.PURPOSE: [], TopicKind.TOPIC: []}
        for (kind, value), total in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1])):
            if len(ranked[kind]) < limit:
                ranked[kind].append({"value": value, "calls": total})
    return {"purposes": ranked[TopicKind.PURPOSE], "topics": ranked[TopicKind.TOPIC]}


def missed_heatmap(*, company: Company, filters: DashboardFilters, direct: bool = False) -> dict[str, Any]:
    """Calls nobody answered by local weekday (0 = Monday) and hour, as a 7 × 24 grid. One query."""
    rows = call_group_rows(company=company, filters=filters, group=["weekday", "hour"], direct=direct, hourly=True)
    cells = [[0] * 24 for _ in range(7)]
    for row in rows:
        cells[row["weekday"] - 1][row["hour"]] += (row["calls"] or 0) - (row["answered"] or 0)
    flat = [n for day in cells for n in day]
    return {"cells": cells, "max": max(flat), "total": sum(flat)}


def _sort_rows(rows: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in LEADERBOARD_SORTS:
        raise ValueError(f"sort must be one of {LEADERBOARD_SORTS}")
    if key == "name":
        rows.sort(key=lambda r: (r["operator_name"] is None, (r["operator_name"] or "").lower()), reverse=descending)
        return rows
    present = [r for r in rows if r[key] is not None]
    missing = [r for r in rows if r[key] is None]
    present.sort(key=lambda r: (r[key], (r["operator_name"] or "").lower()), reverse=descending)
    return present + missing


def _leaderboard(
    company: Company, filters: DashboardFilters, *, direct: bool
) -> tuple[str, list[dt.date], list[dict[str, Any]]]:
    interval = "day" if filters.days <= SPARKLINE_DAILY_MAX_DAYS else "week"
    rows = call_group_rows(company=company, filters=filters, group=["operator_id", "operator_name"], direct=direct)
    buckets = call_group_rows(
        company=company, filters=filters, group=["operator_id", interval], direct=direct, only=("score_sum", "scored")
    )
    starts = _days(filters.start, filters.end, interval)
    index = {day: i for i, day in enumerate(starts)}
    per_operator: dict[int | None, dict[str, Any]] = {}
    sparks: dict[int | None, list[float | None]] = defaultdict(lambda: [None] * len(starts))
    for row in rows:
        _add(per_operator.setdefault(row["operator_id"], {}), row, CALL_SUM_FIELDS)
    for row in buckets:
        i = index.get(_as_date(row[interval]))
        if i is not None:
            sparks[row["operator_id"]][i] = _ratio(row["score_sum"], row["scored"], 1)
    names = {row["operator_id"]: row["operator_name"] for row in rows}
    board = [
        {"operator_id": pk, "operator_name": names.get(pk), **figures(sums), "sparkline": sparks[pk]}
        for pk, sums in per_operator.items()
    ]
    for row in board:
        row.pop("needs_review", None)
        row.pop("analysed", None)
    return interval, starts, board


def operator_leaderboard(
    *, company: Company, filters: DashboardFilters, sort: str = "-calls", direct: bool = False
) -> dict[str, Any]:
    """Per operator: calls, mean score, auto-fail rate, handle time, talk ratio, silence share, interruptions,
    operator speech rate and their customers' sentiment, with a mean-score sparkline per day (per week past 92
    days). Two queries (the totals, the sparklines' two sums per bucket)."""
    interval, starts, board = _leaderboard(company, filters, direct=direct)
    if sort in ("calls", "-calls"):
        board.sort(key=lambda r: (r["operator_name"] or "").lower())
        board.sort(key=lambda r: r["calls"], reverse=sort == "-calls")
    else:
        board = _sort_rows(board, sort)
    return {"interval": interval, "starts": [d.isoformat() for d in starts], "rows": board}


def _item_trend_interval(filters: DashboardFilters) -> str:
    return "day" if filters.days <= ITEM_TREND_DAILY_MAX_DAYS else "week"


def item_compliance(*, company: Company, filters: DashboardFilters, direct: bool = False) -> dict[str, Any]:
    """Per checklist version item, met / not met / N/A / needs review and the compliance, worst first, each with its
    compliance per day (per week past 31 days). One query."""
    interval = _item_trend_interval(filters)
    rows = item_group_rows(
        company=company, filters=filters, group=["version_item_id", interval], direct=direct, meta=True
    )
    starts = _days(filters.start, filters.end, interval)
    return {
        "interval": interval,
        "starts": [d.isoformat() for d in starts],
        "items": _items_with_trend(rows, interval, starts),
    }


def _items_with_trend(rows: list[dict[str, Any]], interval: str, starts: list[dt.date]) -> list[dict[str, Any]]:
    index = {day: i for i, day in enumerate(starts)}
    totals: dict[int, dict[str, int]] = {}
    trends: dict[int, list[float | None]] = defaultdict(lambda: [None] * len(starts))
    for row in rows:
        item = row["version_item_id"]
        _add(totals.setdefault(item, {}), row, ITEM_SUM_FIELDS)
        i = index.get(_as_date(row[interval]))
        if i is not None:
            trends[item][i] = _ratio(row[Answer.MET], row[Answer.MET] + row[Answer.NOT_MET], 4)
    meta = _item_meta(rows)
    items = [{**_item_row(pk, meta[pk], counts), "trend": trends[pk]} for pk, counts in totals.items() if pk in meta]
    items.sort(key=lambda r: (r["compliance"] is None, r["compliance"] or 0, r["checklist_name"], r["item_id"]))
    return items


def operator_detail(
    *, company: Company, filters: DashboardFilters, operator_id: int, worst: int = 5, direct: bool = False
) -> dict[str, Any] | None:
    """One operator: their leaderboard row, their trend (calls, mean score, auto-fail rate per day, or week past 92
    days) and their worst items. None for an operator of another company. Five queries."""
    name = Operator.objects.for_company(company).filter(pk=operator_id).values_list("name", flat=True).first()
    if name is None:
        return None
    mine = replace(filters, operator_ids=(operator_id,))
    interval, starts, board = _leaderboard(company, mine, direct=direct)
    rows = call_group_rows(company=company, filters=mine, group=[interval], direct=direct)
    by_start = {_as_date(row[interval]): row for row in rows}
    trend = [_series_point(day.isoformat(), by_start.get(day, {})) for day in starts]
    for point in trend:
        point.pop("answered")
        point.pop("scored")
    item_rows = item_group_rows(company=company, filters=mine, group=["version_item_id"], direct=direct, meta=True)
    meta = _item_meta(item_rows)
    items = [
        _item_row(r["version_item_id"], meta[r["version_item_id"]], r)
        for r in item_rows
        if r["version_item_id"] in meta
    ]
    items = sorted((i for i in items if i["compliance"] is not None), key=lambda r: (r["compliance"], r["item_id"]))
    empty = {"operator_id": operator_id, "operator_name": name, **figures({}), "sparkline": [None] * len(starts)}
    empty.pop("needs_review")
    empty.pop("analysed")
    return {
        "operator": board[0] if board else empty,
        "interval": interval,
        "trend": trend,
        "worst_items": items[:worst],
    }
