"""The calls list's filters and paginator. Each stays cheap on a million calls: a filter's choices come from the model's
choices, the company's settings or a small table (operators, checklists), never from a DISTINCT over the calls, and the
paginator counts at most a few pages' worth of rows."""

import datetime as dt
import json
import zoneinfo

from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast, ExtractHour, ExtractIsoWeekDay
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from calls.filters import OUTCOMES
from calls.models import Call, CallStatus
from checklists.models import Answer, Checklist, ItemResult, Scorecard, Sentiment
from companies.models import Company
from companies.tenancy import company_for
from operators.models import Operator

# The score bands a QA team reads at a glance; the badge of the list uses the same bands and colours.
SCORE_BANDS: list[tuple[str, str, float, float]] = [
    ("red", _("0–49 (poor)"), 0, 50),
    ("orange", _("50–69 (weak)"), 50, 70),
    ("yellow", _("70–84 (good)"), 70, 85),
    ("green", _("85–100 (excellent)"), 85, 101),
]
NOT_SCORED = "none"
LANGUAGES = [("uz", _("Uzbek")), ("ru", _("Russian")), ("en", _("English"))]


def score_band(score: float | None) -> str:
    """The band's key for a score ("red" ... "green"), or NOT_SCORED."""
    if score is None:
        return NOT_SCORED
    for key, _label, low, high in SCORE_BANDS:
        if low <= score < high:
            return key
    return "green"


def request_company(request: HttpRequest) -> Company | None:
    """The member's company (cached on the request by company_for); None for Dialix staff, who see every company."""
    return None if request.user.is_superuser else company_for(request)


def request_zone(request: HttpRequest) -> zoneinfo.ZoneInfo:
    company = request_company(request)
    return zoneinfo.ZoneInfo(company.time_zone if company else settings.TIME_ZONE)


class OperatorFilter(admin.SimpleListFilter):
    """The company's operators (one query on the small operators table; the stock related filter would list every
    company's operators, or run a DISTINCT over the calls with RelatedOnlyFieldListFilter)."""

    title = _("operator")
    parameter_name = "operator"

    def lookups(self, request, model_admin):
        company = request_company(request)
        operators = Operator.objects.all() if company is None else Operator.objects.for_company(company)
        return [(str(pk), name) for pk, name in operators.order_by("name", "id").values_list("pk", "name")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if value == "none":  # the dashboard's row of calls matched to no operator
            return queryset.filter(operator__isnull=True)
        ids = value.split(",")  # the dashboard drills down into several operators at once: "3,5"
        if not all(pk.isdigit() for pk in ids):
            return queryset.none()
        return queryset.filter(operator_id__in=[int(pk) for pk in ids])


class ChecklistFilter(admin.SimpleListFilter):
    """Calls scored against a checklist (any of its versions)."""

    title = _("checklist")
    parameter_name = "checklist"

    def lookups(self, request, model_admin):
        company = request_company(request)
        checklists = Checklist.objects.all() if company is None else Checklist.objects.for_company(company)
        return [(str(pk), name) for pk, name in checklists.order_by("name", "id").values_list("pk", "name")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        # A semi-join, so a call with several scorecards is listed once without a DISTINCT over the list.
        return queryset.filter(pk__in=Scorecard.objects.filter(version__checklist_id=int(value)).values("call_id"))


class ScoreBandFilter(admin.SimpleListFilter):
    title = _("score")
    parameter_name = "score_band"

    def lookups(self, request, model_admin):
        return [(key, label) for key, label, _low, _high in SCORE_BANDS] + [(NOT_SCORED, _("not scored"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == NOT_SCORED:
            return queryset.filter(score__isnull=True)
        for key, _label, low, high in SCORE_BANDS:
            if value == key:
                return queryset.filter(score__gte=low, score__lt=high)
        return queryset


class LanguageFilter(admin.SimpleListFilter):
    """The company's languages (from its settings, no query), or all three for staff."""

    title = _("language")
    parameter_name = "language"

    def lookups(self, request, model_admin):
        company = request_company(request)
        wanted = set(company.languages or []) if company is not None else set()
        return [(code, label) for code, label in LANGUAGES if not wanted or code in wanted]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(language=value) if value else queryset


class FlagFilter(admin.SimpleListFilter):
    title = _("flag")
    parameter_name = "flag"

    def lookups(self, request, model_admin):
        return [
            ("auto_fail", _("auto-fail")),
            ("needs_review", _("needs review")),
            ("low_confidence", _("low-confidence transcript")),
            ("answered", _("answered")),
            ("scored", _("scored")),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "auto_fail":
                return queryset.filter(auto_fail=True)
            case "needs_review":
                return queryset.filter(needs_review=True)
            case "low_confidence":
                return queryset.filter(transcript__low_confidence=True)
            case "answered":  # the dashboard's "answered": every call but the skipped (not answered) ones
                return queryset.exclude(status=CallStatus.SKIPPED)
            case "scored":
                return queryset.filter(score__isnull=False)
        return queryset


class OutcomeFilter(admin.SimpleListFilter):
    """The analysed outcome kept on the call (the dashboard's outcome mix counts the same field)."""

    title = _("outcome")
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return OUTCOMES

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(outcome=value) if value else queryset


class SentimentFilter(admin.SimpleListFilter):
    """The customer's sentiment kept on the call (the dashboard's sentiment mix)."""

    title = _("customer sentiment")
    parameter_name = "sentiment"

    def lookups(self, request, model_admin):
        return list(Sentiment.choices)

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(customer_sentiment=value) if value else queryset


class DrillDownFilter(admin.SimpleListFilter):
    """A filter the dashboard's links set and a person never picks: shown in the sidebar only while it is on (so the
    list says what it is narrowed to, with "All" to clear it)."""

    def describe(self, value: str) -> str:
        return value

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, self.describe(value))] if value else []


class WeekHourFilter(DrillDownFilter):
    """Calls that started in one hour of the week in the company's zone: "<weekday>-<hour>", Monday = 0 (a cell of
    the dashboard's missed-calls heat map)."""

    title = _("hour of the week")
    parameter_name = "weekhour"

    def describe(self, value: str) -> str:
        parsed = self._parse(value)
        if parsed is None:
            return value
        weekday, hour = parsed
        return f"{dt.date(2024, 1, 1 + weekday):%a} {hour:02d}:00"  # 2024-01-01 was a Monday

    @staticmethod
    def _parse(value: str | None) -> tuple[int, int] | None:
        weekday, _sep, hour = (value or "").partition("-")
        if not (weekday.isdigit() and hour.isdigit()) or int(weekday) > 6 or int(hour) > 23:
            return None
        return int(weekday), int(hour)

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        parsed = self._parse(self.value())
        if parsed is None:
            return queryset.none()
        zone = request_zone(request)
        return queryset.annotate(
            dlx_weekday=ExtractIsoWeekDay("started_at", tzinfo=zone), dlx_hour=ExtractHour("started_at", tzinfo=zone)
        ).filter(dlx_weekday=parsed[0] + 1, dlx_hour=parsed[1])


class ItemResultFilter(DrillDownFilter):
    """Calls where one checklist version item got one answer: "<version item id>:<answer>", e.g. "12:not_met" (a
    supervisor's correction counts, as on the dashboard's checklist items page)."""

    title = _("checklist item")
    parameter_name = "item_result"

    @staticmethod
    def _parse(value: str | None) -> tuple[int, str] | None:
        item_id, _sep, answer = (value or "").partition(":")
        if not item_id.isdigit() or answer not in Answer.values:
            return None
        return int(item_id), answer

    def describe(self, value: str) -> str:
        parsed = self._parse(value)
        return value if parsed is None else f"#{parsed[0]}: {Answer(parsed[1]).label}"

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        parsed = self._parse(self.value())
        if parsed is None:
            return queryset.none()
        answered = ItemResult.objects.filter(version_item_id=parsed[0], answer=parsed[1]).values("call_id")
        return queryset.filter(pk__in=answered)


class PurposeFilter(DrillDownFilter):
    """Calls whose analysed purpose is exactly this text (the dashboard's top purposes)."""

    title = _("purpose")
    parameter_name = "purpose"

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(analysis__purpose=value) if value else queryset


class TopicFilter(DrillDownFilter):
    """Calls whose analysis lists this topic (the dashboard's top topics)."""

    title = _("topic")
    parameter_name = "topic"

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if connection.features.supports_json_field_contains:
            return queryset.filter(analysis__topics__contains=[value])
        # SQLite (the demo) has no JSON containment: match the quoted entry in the stored text (Django writes it with
        # json.dumps' defaults, so the same call quotes it the same way).
        topics = Cast("analysis__topics", TextField())
        return queryset.annotate(dlx_topics=topics).filter(dlx_topics__contains=json.dumps(value))


class DateRangeFilter(admin.ListFilter):
    """Two calendar inputs (from, to; both days included), read as days of the company's zone."""

    title = _("date")
    template = "admin/calls/call/date_range_filter.html"
    parameters = ("started_from", "started_to")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        for name in self.parameters:
            if name in params:
                self.used_parameters[name] = params.pop(name)[-1]
        self.zone = request_zone(request)

    def day(self, name: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(self.used_parameters.get(name, ""))
        except ValueError:
            return None  # an empty or hand-typed bad value filters nothing rather than failing the page

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return list(self.parameters)

    def queryset(self, request, queryset: QuerySet[Call]) -> QuerySet[Call]:
        start, end = self.day("started_from"), self.day("started_to")
        condition = Q()
        if start is not None:
            condition &= Q(started_at__gte=dt.datetime.combine(start, dt.time.min, tzinfo=self.zone))
        if end is not None:
            next_day = end + dt.timedelta(days=1)
            condition &= Q(started_at__lt=dt.datetime.combine(next_day, dt.time.min, tzinfo=self.zone))
        return queryset.filter(condition)

    def choices(self, changelist):
        """One "choice" for the template: the two values, the zone and the other parameters to keep."""
        kept = [
            (key, value)
            for key, values in changelist.params.items()
            if key not in self.parameters and key != "p"
            for value in (values if isinstance(values, list) else [values])
        ]
        yield {
            "started_from": self.used_parameters.get("started_from", ""),
            "started_to": self.used_parameters.get("started_to", ""),
            "zone": str(self.zone),
            "kept": kept,
            "clear_url": changelist.get_query_string(remove=list(self.parameters)),
            "is_active": bool(self.used_parameters),
        }


class CappedCountPaginator(Paginator):
    """Counts up to COUNT_CAP rows and stops: the admin's exact COUNT(*) reads every matching row (a million for the
    unfiltered list, ~100 ms and growing); past the cap the list says "more than 1,000" and offers filters. 1,000 is
    20 pages: counting 10,000 calls that said a common word took ~400 ms on the 1M-call bench (bench/console.py)."""

    COUNT_CAP = 1_000

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.COUNT_CAP + 1].count()  # any rows will do: no sort

    @property
    def is_capped(self) -> bool:
        return self.count > self.COUNT_CAP


class DealOutcomeFilter(admin.SimpleListFilter):
    """The outcome of the CRM deal the call is linked to (issue 14), as the last poll of the portal saw it."""

    title = _("deal")
    parameter_name = "deal"

    def lookups(self, request, model_admin):
        return [
            ("won", _("Won")),
            ("lost", _("Lost")),
            ("open", _("Open")),
            ("none", _("No deal")),
            ("no_match", _("No CRM match")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value in ("won", "lost", "open"):
            return queryset.filter(crm_deal_semantic=value)
        if value == "none":
            return queryset.filter(crm_link_state="linked", crm_deal_id="")
        if value == "no_match":
            return queryset.filter(crm_link_state="no_match")
        return queryset


class DealStageFilter(DrillDownFilter):
    """Calls whose deal is at this stage (by its name: the same name in two funnels is one choice). Set by the stage
    links of the calls list and the call page, so the list reads no stage list of its own."""

    title = _("deal stage")
    parameter_name = "deal_stage"

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(crm_deal_stage_name=value) if value else queryset
