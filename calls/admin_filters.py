"""The calls list's filters and paginator. Each stays cheap on a million calls: a filter's choices come from the model's
choices, the company's settings or a small table (operators, checklists), never from a DISTINCT over the calls, and the
paginator counts at most a few pages' worth of rows."""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from calls.models import Call
from checklists.models import Checklist, Scorecard
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
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(operator_id=int(value))


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
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "auto_fail":
                return queryset.filter(auto_fail=True)
            case "needs_review":
                return queryset.filter(needs_review=True)
            case "low_confidence":
                return queryset.filter(transcript__low_confidence=True)
        return queryset


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
