"""django-filter FilterSets of the calls API. Every choice that names another row is limited to the request's company,
so another company's id answers exactly like a missing one (no existence oracle)."""

import datetime as dt

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _

from calls.models import Call, CallStatus, Direction, ReviewState
from calls.phones import normalise_phone
from calls.selectors import calls_said
from checklists.models import Checklist, Scorecard
from companies.models import LANGUAGES
from companies.tenancy import company_for
from operators.models import Operator

# The analysed outcomes with their labels: the API's filter, the console's list filter and the dashboard share them.
OUTCOMES = [
    ("sale", _("Sale")),
    ("agreed", _("Agreed")),
    ("callback", _("Callback")),
    ("refused", _("Refused")),
    ("not_resolved", _("Not resolved")),
    ("information", _("Information")),
    ("other", _("Other")),
]


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 time with any offset Python accepts, compared in UTC (PostgreSQL refuses offsets past ±15:59)."""

    def to_python(self, value) -> dt.datetime | None:
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError as exc:
            raise forms.ValidationError("This time is out of range.", code="invalid") from exc


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


def _company_operators(request):
    if request is None:
        return Operator.objects.none()
    return Operator.objects.for_company(company_for(request))


def _company_checklists(request):
    if request is None:
        return Checklist.objects.none()
    return Checklist.objects.for_company(company_for(request))


class CallFilter(django_filters.FilterSet):
    started_after = UtcIsoDateTimeFilter(
        field_name="started_at",
        lookup_expr="gte",
        help_text="Calls started at or after this ISO 8601 time, e.g. 2026-11-20T09:00:00+05:00.",
    )
    started_before = UtcIsoDateTimeFilter(
        field_name="started_at", lookup_expr="lt", help_text="Calls started before this ISO 8601 time."
    )
    operator = django_filters.ModelChoiceFilter(
        queryset=_company_operators, help_text="An operator id of your company."
    )
    status = django_filters.ChoiceFilter(choices=CallStatus.choices, help_text="The pipeline state.")
    direction = django_filters.ChoiceFilter(choices=Direction.choices)
    language = django_filters.ChoiceFilter(choices=LANGUAGES, help_text="The spoken language.")
    score_min = django_filters.NumberFilter(field_name="score", lookup_expr="gte", help_text="Score at least (0..100).")
    score_max = django_filters.NumberFilter(field_name="score", lookup_expr="lte", help_text="Score at most (0..100).")
    auto_fail = django_filters.BooleanFilter(help_text="A critical checklist item was not met.")
    needs_review = django_filters.BooleanFilter(help_text="Some evidence could not be verified.")
    review_state = django_filters.ChoiceFilter(choices=ReviewState.choices)
    checklist = django_filters.ModelChoiceFilter(
        queryset=_company_checklists, method="filter_checklist", help_text="Calls scored with this checklist (id)."
    )
    outcome = django_filters.ChoiceFilter(
        choices=OUTCOMES, field_name="analysis__outcome", help_text="The analysed outcome of the call."
    )
    customer_phone = django_filters.CharFilter(
        method="filter_customer_phone",
        max_length=64,
        help_text="The customer's number in any written form: +998 90 123-45-67, 901234567, 998901234567 ...",
    )
    said = django_filters.CharFilter(
        method="filter_said", max_length=200, help_text="Words said in the call (either side), e.g. `refund`."
    )

    class Meta:
        model = Call
        fields = ["status", "direction", "operator", "source"]

    def filter_checklist(self, calls: QuerySet[Call], name: str, value: Checklist) -> QuerySet[Call]:
        scored = Scorecard.objects.filter(call_id=OuterRef("pk"), version__checklist_id=value.pk)
        return calls.filter(Exists(scored))

    def filter_customer_phone(self, calls: QuerySet[Call], name: str, value: str) -> QuerySet[Call]:
        value = value.strip()
        if not value:
            return calls
        return calls.filter(customer_phone=normalise_phone(value) or value)

    def filter_said(self, calls: QuerySet[Call], name: str, value: str) -> QuerySet[Call]:
        return calls_said(calls=calls, term=value)
