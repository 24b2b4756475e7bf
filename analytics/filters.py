"""The dashboard's filter bar (issue 15): the form a person sees, and the links a figure drills down with.

Period parsing itself is the selectors' (analytics.selectors.filters_from_params, shared with the aggregates API), so
a page, its charts' endpoints and an export read the same URL the same way. This module only renders the bar and maps
a DashboardFilters to the console calls list's own parameters (calls/admin_filters.py), so a drill-down lists exactly
the calls a figure counted: the same days of the company's zone, operators, direction, language, checklist, outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from analytics.selectors import PERIODS, DashboardFilters, FilterError, filters_from_params
from calls.filters import OUTCOMES
from calls.models import Direction
from companies.models import LANGUAGES, Company

PERIOD_LABELS = {
    "today": _("Today"),
    "7d": _("Last 7 days"),
    "30d": _("Last 30 days"),
    "90d": _("Last 90 days"),
    "month": _("This month"),
    "custom": _("Custom dates"),
}
OUTCOME_LABELS = dict(OUTCOMES)
SENTIMENT_LABELS = {"negative": _("Negative"), "neutral": _("Neutral"), "positive": _("Positive")}
# The parameters the filter bar owns; anything else in a dashboard URL (sort, a page's own switches) is kept as is.
FILTER_PARAMS = ("period", "date_from", "date_to", "operator", "direction", "language", "checklist", "outcome")


class FilterBarForm(forms.Form):
    """Renders the bar (GET form). Validation is filters_from_params'; this form only offers the choices."""

    period = forms.ChoiceField(label=_("Period"), choices=[(p, PERIOD_LABELS[p]) for p in PERIODS], required=False)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    operator = forms.MultipleChoiceField(
        label=_("Operators"), required=False, widget=forms.SelectMultiple(attrs={"size": 3})
    )
    direction = forms.ChoiceField(label=_("Direction"), required=False)
    language = forms.ChoiceField(label=_("Language"), required=False)
    checklist = forms.ChoiceField(label=_("Checklist"), required=False)
    outcome = forms.ChoiceField(label=_("Outcome"), required=False)

    def __init__(
        self,
        *,
        filters: DashboardFilters,
        company: Company,
        operators: Sequence[tuple[int, str]],
        checklists: Sequence[tuple[int, str]],
    ) -> None:
        super().__init__(
            initial={
                "period": filters.period,
                "date_from": filters.start,
                "date_to": filters.end,
                "operator": [str(pk) for pk in filters.operator_ids],
                "direction": filters.direction,
                "language": filters.language,
                "checklist": "" if filters.checklist_id is None else str(filters.checklist_id),
                "outcome": filters.outcome,
            }
        )
        every = [("", _("All"))]
        wanted = set(company.languages or [])
        self.fields["operator"].choices = [(str(pk), name) for pk, name in operators]
        self.fields["direction"].choices = every + list(Direction.choices)
        self.fields["language"].choices = every + [(c, label) for c, label in LANGUAGES if not wanted or c in wanted]
        self.fields["checklist"].choices = every + [(str(pk), name) for pk, name in checklists]
        self.fields["outcome"].choices = every + list(OUTCOME_LABELS.items())


@dataclass(frozen=True)
class ParsedFilters:
    filters: DashboardFilters
    errors: dict[str, list[str]]  # what was wrong with the URL; the page then shows the default period and says so


def dashboard_filters(*, company: Company, params: Mapping) -> ParsedFilters:
    """The URL's filters, or the default view with the reasons when the URL holds something invalid (a hand-edited
    link should open a page that says what was wrong, not a 400)."""
    try:
        return ParsedFilters(filters_from_params(company=company, params=params), {})
    except FilterError as exc:
        errors = {name: [str(m) for m in messages] for name, messages in exc.errors.items()}
        return ParsedFilters(filters_from_params(company=company, params=QueryDict()), errors)


def filter_query(filters: DashboardFilters, **extra: str | int) -> str:
    """The dashboard's own query string for these filters (a link to another page keeps the view)."""
    params = dict(filters.as_params())
    params.update({k: str(v) for k, v in extra.items() if v not in (None, "")})
    return urlencode(params, doseq=True)


def console_params(filters: DashboardFilters, **extra: str | int | None) -> dict[str, str]:
    """The console calls list's parameters for the calls these filters pick, plus a figure's own (status, flag,
    sentiment...). Names are the list's (calls/admin_filters.py and CallAdmin.list_filter)."""
    params: dict[str, str] = {"started_from": filters.start.isoformat(), "started_to": filters.end.isoformat()}
    if filters.operator_ids:
        params["operator"] = ",".join(str(pk) for pk in filters.operator_ids)
    if filters.direction:
        params["direction__exact"] = filters.direction
    if filters.language:
        params["language"] = filters.language
    if filters.checklist_id is not None:
        params["checklist"] = str(filters.checklist_id)
    if filters.outcome:
        params["outcome"] = filters.outcome
    for key, value in extra.items():
        if value is None or value == "":
            continue
        params[key] = str(value)
    return params


def console_url(filters: DashboardFilters, **extra: str | int | None) -> str:
    """A link to the console calls list, filtered to exactly the calls a figure counts."""
    return f"{reverse('admin:calls_call_changelist')}?{urlencode(console_params(filters, **extra))}"


# A figure's own console parameters (on top of the period's): what each KPI tile and chart segment counts.
KPI_DRILLS: dict[str, dict[str, str]] = {
    "calls": {},
    "answered": {"flag": "answered"},
    "analysed": {"status__exact": "done"},
    "scored": {"flag": "scored"},
    "mean_score": {"flag": "scored"},
    "auto_fail_rate": {"flag": "auto_fail"},
    "needs_review": {"flag": "needs_review"},
    "mean_handle_seconds": {"flag": "answered"},
    "missed": {"status__exact": "skipped"},
}


def operator_console_value(operator_id: int | None) -> str:
    """The console's operator parameter for a leaderboard row ("none" lists the calls matched to no operator)."""
    return "none" if operator_id is None else str(operator_id)
