"""The analysts' dashboard (issue 15): server-rendered pages whose charts load their data from the aggregates API
(analytics.api) with the analyst's session, so the dashboard is the API's first client and both show the same
figures. Every number links to the console calls list filtered to exactly the calls it counts (analytics.filters).

Each page reads a constant number of queries: the session, the user, the membership with its company, the filter
bar's operators and checklists, what the company has set up, then one query per figure (asserted in
analytics/tests/test_dashboard_views.py)."""

from __future__ import annotations

import zoneinfo
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from analytics.exports import (
    KPI_LABELS,
    TABLES,
    ExportUnavailable,
    export_job_create,
    export_job_get,
    export_job_status,
    export_open,
    export_response,
    kpi_change,
    kpi_value,
)
from analytics.filters import (
    KPI_DRILLS,
    OUTCOME_LABELS,
    PERIOD_LABELS,
    SENTIMENT_LABELS,
    FilterBarForm,
    console_params,
    console_url,
    dashboard_filters,
    filter_query,
    operator_console_value,
)
from analytics.models_exports import ExportFormat, ExportJob
from analytics.selectors import (
    item_compliance,
    operator_detail,
    operator_leaderboard,
    overview_kpis,
    top_topics,
)
from analytics.selectors_crm import crm_conversion
from analytics.selectors_dashboard import (
    dashboard_calls,
    dashboard_choices,
    dashboard_setup,
    item_missed_examples,
    operator_coaching_notes,
    operator_recent_calls,
)
from companies.audit import AuditEvent, audit_access
from companies.roles import DASHBOARD_ROLES
from companies.tenancy import CompanyMixin, RoleRequiredMixin

LEADERBOARD_COLUMNS = [
    # (sort key, label, row key, kind): kind says how the cell is shown (and exported)
    ("name", _("Operator"), "operator_name", "name"),
    ("calls", _("Calls"), "calls", "int"),
    ("mean_score", _("Mean score"), "mean_score", "score"),
    ("auto_fail_rate", _("Auto-fail"), "auto_fail_rate", "pct"),
    ("mean_handle_seconds", _("Handle time"), "mean_handle_seconds", "seconds"),
    ("talk_ratio", _("Talk ratio"), "talk_ratio", "pct"),
    ("silence_share", _("Silence"), "silence_share", "pct"),
    ("interruptions", _("Interruptions"), "interruptions", "num"),
    ("speech_rate", _("Words/min"), "speech_rate", "num"),
]
SORT_KEYS = {key for key, *_ in LEADERBOARD_COLUMNS}
PAGES = [
    ("dashboard:home", _("Overview")),
    ("dashboard:operators", _("Operators")),
    ("dashboard:items", _("Checklist items")),
    ("dashboard:conversion", _("QA vs conversion")),
]


def _admin_url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:  # an app's console page not registered in this build
        return None


def _export(filters, table: str, **extra: str) -> dict[str, Any]:
    """A table's export links (CSV, XLSX) for the page's view."""
    base = reverse("dashboard:export")
    return {
        "table": table,
        "title": TABLES[table].title,
        "links": [
            (f.label, f"{base}?{filter_query(filters, table=table, file=f.value, **extra)}") for f in ExportFormat
        ],
    }


class DashboardPage(RoleRequiredMixin, CompanyMixin, TemplateView):
    """What every dashboard page shares: the filters from the URL, the filter bar, the navigation, the set-up
    state for the empty states, and the links (console, exports, API) the page and its script need."""

    allowed_roles = DASHBOARD_ROLES
    page_name = "dashboard:home"
    tables: tuple[str, ...] = ()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        company = self.company
        parsed = dashboard_filters(company=company, params=self.request.GET)
        filters = parsed.filters
        self.filters = filters
        choices = dashboard_choices(company=company)
        query = filter_query(filters)
        previous = filters.previous()
        context.update(
            company=company,
            filters=filters,
            filter_errors=parsed.errors,
            form=FilterBarForm(
                filters=filters, company=company, operators=choices["operators"], checklists=choices["checklists"]
            ),
            setup=dashboard_setup(company=company),
            query=query,
            pages=[(name, label, name == self.page_name) for name, label in PAGES],
            period_label=PERIOD_LABELS.get(filters.period, ""),
            previous=previous,
            zone=company.time_zone,
            console_base=console_params(filters),
            console_calls_url=console_url(filters),
            exports=[_export(filters, table) for table in self.tables],
            pbx_admin_url=_admin_url("admin:integrations_pbxaccount_add"),
            checklist_admin_url=_admin_url("admin:checklists_checklist_add"),
            crm_admin_url=_admin_url("admin:integrations_crmconnection_changelist"),
            print_url=f"{reverse('dashboard:print')}?{query}",
            api={},
            labels={
                "no_data": str(_("No calls in this period.")),
                "error": str(
                    _("The figures could not be loaded. Reload the page; if it keeps failing, tell your administrator.")
                ),
            },
            filter_pairs=[
                (key, value)
                for key, values in filters.as_params().items()
                for value in (values if isinstance(values, list | tuple) else [values])
            ],
            export_keep_hours=settings.DIALIX_EXPORT_KEEP_HOURS,
        )
        return context


def _kpi_tiles(filters, kpis: dict[str, Any]) -> list[dict[str, Any]]:
    tiles = []
    for key, label in KPI_LABELS.items():
        change = kpi_change(key, kpis["change"].get(key))
        tiles.append(
            {
                "key": key,
                "label": label,
                "value": kpi_value(key, kpis["current"].get(key)),
                "previous": kpi_value(key, kpis["previous"].get(key)),
                "change": change,
                "change_is_points": key in ("mean_score", "auto_fail_rate"),
                # Up is good for most figures; for the auto-fail rate, needs review and handle time, down is.
                "change_is_good": None
                if not change
                else (change > 0) != (key in ("auto_fail_rate", "needs_review", "mean_handle_seconds")),
                "url": console_url(filters, **KPI_DRILLS[key]),
                "previous_url": console_url(filters.previous(), **KPI_DRILLS[key]),
            }
        )
    return tiles


class OverviewView(DashboardPage):
    template_name = "analytics/overview.html"
    page_name = "dashboard:home"
    tables = ("kpis", "days", "topics")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filters = self.filters
        kpis = overview_kpis(company=self.company, filters=filters)
        topics = top_topics(company=self.company, filters=filters)
        context.update(
            kpis=kpis,
            tiles=_kpi_tiles(filters, kpis),
            purposes=[{**row, "url": console_url(filters, purpose=row["value"])} for row in topics["purposes"]],
            topics=[{**row, "url": console_url(filters, topic=row["value"])} for row in topics["topics"]],
            labels={
                **context["labels"],
                "calls": str(_("Calls")),
                "answered": str(_("Answered")),
                "mean_score": str(_("Mean score")),
                "missed": str(_("Missed calls")),
                "sentiment": {k: str(v) for k, v in SENTIMENT_LABELS.items()},
                "outcome": {k: str(v) for k, v in OUTCOME_LABELS.items()},
                "weekdays": [str(d) for d in (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))],
            },
            api={
                "series": reverse("analytics:api-aggregates-series"),
                "mix": reverse("analytics:api-aggregates-mix"),
                "heatmap": reverse("analytics:api-aggregates-heatmap"),
            },
            calls_export_formats=list(ExportFormat),
        )
        return context


class OperatorsView(DashboardPage):
    template_name = "analytics/operators.html"
    page_name = "dashboard:operators"
    tables = ("operators",)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filters = self.filters
        sort = _leaderboard_sort(self.request.GET.get("sort", ""))
        board = operator_leaderboard(company=self.company, filters=filters, sort=sort)
        rows = []
        for row in board["rows"]:
            operator = operator_console_value(row["operator_id"])
            rows.append(
                {
                    **row,
                    "url": None
                    if row["operator_id"] is None
                    else f"{reverse('dashboard:operator', args=[row['operator_id']])}?{filter_query(filters)}",
                    "calls_url": console_url(filters, operator=operator),
                    "scored_url": console_url(filters, operator=operator, flag="scored"),
                    "auto_fail_url": console_url(filters, operator=operator, flag="auto_fail"),
                }
            )
        columns = []
        for key, label, row_key, kind in LEADERBOARD_COLUMNS:
            current = sort.lstrip("-") == key
            descending = sort.startswith("-")
            next_sort = key if current and descending else f"-{key}"
            columns.append(
                {
                    "key": key,
                    "label": label,
                    "row_key": row_key,
                    "kind": kind,
                    "sorted": ("descending" if descending else "ascending") if current else "none",
                    "url": f"?{filter_query(filters, sort=next_sort)}",
                }
            )
        context.update(
            board=board,
            rows=rows,
            columns=columns,
            sort=sort,
            api={"leaderboard": reverse("analytics:api-aggregates-leaderboard")},
            labels={**context["labels"], "mean_score": str(_("Mean score"))},
        )
        context["exports"] = [_export(filters, "operators", sort=sort)]
        return context


class OperatorView(DashboardPage):
    template_name = "analytics/operator.html"
    page_name = "dashboard:operators"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filters = self.filters
        operator_id = self.kwargs["operator_id"]
        detail = operator_detail(company=self.company, filters=filters, operator_id=operator_id)
        if detail is None:
            raise Http404("No such operator.")
        worst = [
            {
                **item,
                "missed_url": console_url(filters, operator=operator_id, item_result=f"{item['item_id']}:not_met"),
            }
            for item in detail["worst_items"]
        ]
        zone = zoneinfo.ZoneInfo(self.company.time_zone)
        recent = [
            {
                "call": call,
                "local": timezone.localtime(call.started_at, zone),
                "url": reverse("admin:calls_call_change", args=[call.pk]),
            }
            for call in operator_recent_calls(company=self.company, filters=filters, operator_id=operator_id)
        ]
        context.update(
            detail=detail,
            operator=detail["operator"],
            worst_items=worst,
            recent_calls=recent,
            notes=operator_coaching_notes(company=self.company, operator_id=operator_id),
            calls_url=console_url(filters, operator=operator_id),
            auto_fail_url=console_url(filters, operator=operator_id, flag="auto_fail"),
            api={"operator": reverse("analytics:api-aggregates-operator", args=[operator_id])},
            labels={**context["labels"], "calls": str(_("Calls")), "mean_score": str(_("Mean score"))},
            back_url=f"{reverse('dashboard:operators')}?{filter_query(filters)}",
        )
        return context


class ItemsView(DashboardPage):
    template_name = "analytics/items.html"
    page_name = "dashboard:items"
    tables = ("items",)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filters = self.filters
        compliance = item_compliance(company=self.company, filters=filters)
        items = compliance["items"]
        examples = item_missed_examples(
            company=self.company, filters=filters, item_ids=[i["item_id"] for i in items if i["not_met"]]
        )
        rows = []
        for item in items:
            rows.append(
                {
                    **item,
                    "met_url": console_url(filters, item_result=f"{item['item_id']}:met"),
                    "not_met_url": console_url(filters, item_result=f"{item['item_id']}:not_met"),
                    "na_url": console_url(filters, item_result=f"{item['item_id']}:na"),
                    "auto_fail_url": console_url(filters, item_result=f"{item['item_id']}:not_met", flag="auto_fail")
                    if item["is_critical"]
                    else None,
                    "examples": [
                        {**e, "url": reverse("admin:calls_call_change", args=[e["call_id"]])}
                        for e in examples.get(item["item_id"], [])
                    ],
                }
            )
        context.update(
            compliance=compliance,
            rows=rows,
            api={"items": reverse("analytics:api-aggregates-items-trend")},
            labels={**context["labels"], "compliance": str(_("Compliance"))},
        )
        return context


class ConversionView(DashboardPage):
    template_name = "analytics/conversion.html"
    page_name = "dashboard:conversion"
    tables = ("conversion_bands", "conversion_items")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        conversion = None
        if context["setup"]["has_crm"]:
            conversion = crm_conversion(
                company=self.company,
                calls=dashboard_calls(company=self.company, filters=self.filters),
                checklist_id=self.filters.checklist_id,
            )
        context.update(
            conversion=conversion,
            api={"conversion": self._conversion_api()} if conversion is not None else {},
            labels={**context["labels"], "won_rate": str(_("Won rate")), "deals": str(_("Closed deals"))},
        )
        return context

    def _conversion_api(self) -> str | None:
        """The conversion endpoint takes the calls list's parameters (crmb's contract), not the dashboard's: the same
        calls, as started_after / started_before and one operator. With several operators it cannot say the same
        thing, so the chart then draws the page's own figures (dash-conversion) instead of asking."""
        filters = self.filters
        if len(filters.operator_ids) > 1:
            return None
        start, end = filters.bounds(self.company.time_zone)
        params = {"started_after": start.isoformat(), "started_before": end.isoformat()}
        if filters.operator_ids:
            params["operator"] = str(filters.operator_ids[0])
        if filters.checklist_id is not None:
            params["checklist"] = str(filters.checklist_id)
        for name in ("direction", "language", "outcome"):
            if getattr(filters, name):
                params[name] = getattr(filters, name)
        try:
            return f"{reverse('analytics:api-aggregates-conversion')}?{urlencode(params)}"
        except NoReverseMatch:
            return None


class PrintView(DashboardPage):
    """The overview for a meeting: a page made for paper (a print stylesheet; the browser's "Save as PDF" makes the
    PDF, with the Uzbek and Cyrillic text rendered by the browser's own fonts)."""

    template_name = "analytics/print.html"
    page_name = "dashboard:home"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filters = self.filters
        kpis = overview_kpis(company=self.company, filters=filters)
        topics = top_topics(company=self.company, filters=filters, limit=5)
        board = operator_leaderboard(company=self.company, filters=filters, sort="-calls")
        items = item_compliance(company=self.company, filters=filters)["items"]
        context.update(
            tiles=_kpi_tiles(filters, kpis),
            topics=topics,
            operators=board["rows"][:10],
            worst_items=[i for i in items if i["compliance"] is not None][:10],
            printed_at=timezone.localtime(timezone=zoneinfo.ZoneInfo(self.company.time_zone)),
        )
        return context


class ExportView(RoleRequiredMixin, CompanyMixin, View):
    """GET: a page's table as a CSV or XLSX download (`table`, `file`, and the page's filters)."""

    allowed_roles = DASHBOARD_ROLES

    def get(self, request: HttpRequest) -> HttpResponse:
        table, fmt = request.GET.get("table", ""), request.GET.get("file", "")
        spec = TABLES.get(table)
        if spec is None or spec.is_big or fmt not in ExportFormat.values:
            raise Http404("No such export.")
        parsed = dashboard_filters(company=self.company, params=request.GET)
        options = {"sort": _leaderboard_sort(request.GET.get("sort", ""))} if table == "operators" else {}
        response = export_response(company=self.company, table=table, fmt=fmt, filters=parsed.filters, options=options)
        details = {"table": table, "format": fmt, "filters": parsed.filters.as_params()}
        audit_access(request, None, AuditEvent.EXPORT_DOWNLOADED, details, company=self.company)
        return response


def _leaderboard_sort(sort: str) -> str:
    return sort if sort.lstrip("-") in SORT_KEYS else "-calls"


class ExportJobCreateView(RoleRequiredMixin, CompanyMixin, View):
    """POST: queues a background export (the calls behind the view); answers the job's status JSON (202)."""

    allowed_roles = DASHBOARD_ROLES

    def post(self, request: HttpRequest) -> HttpResponse:
        table, fmt = request.POST.get("table", ""), request.POST.get("file", "")
        if table not in TABLES or fmt not in ExportFormat.values:
            return JsonResponse({"error": {"code": "invalid", "message": str(_("Unknown export."))}}, status=400)
        params = request.POST.copy()
        parsed = dashboard_filters(company=self.company, params=params)
        job = export_job_create(company=self.company, user=request.user, table=table, fmt=fmt, filters=parsed.filters)
        job = export_job_get(company=self.company, job_id=job.pk)  # as the worker left it (in process: finished)
        return JsonResponse(_job_json(job), status=202)


def _job_json(job: ExportJob) -> dict[str, Any]:
    body = export_job_status(job)
    body["status_url"] = reverse("dashboard:export-job", args=[job.pk])
    body["download_url"] = reverse("dashboard:export-download", args=[job.pk]) if job.status == "done" else None
    return body


class ExportJobStatusView(RoleRequiredMixin, CompanyMixin, View):
    """GET: the job's progress, polled by the page's progress bar."""

    allowed_roles = DASHBOARD_ROLES

    def get(self, request: HttpRequest, job_id: int) -> HttpResponse:
        try:
            job = export_job_get(company=self.company, job_id=job_id)
        except ExportJob.DoesNotExist as exc:
            raise Http404("No such export.") from exc
        return JsonResponse(_job_json(job))


class ExportDownloadView(RoleRequiredMixin, CompanyMixin, View):
    """GET: the finished file of the company's job; 404 for another company's, 410 once expired."""

    allowed_roles = DASHBOARD_ROLES

    def get(self, request: HttpRequest, job_id: int) -> HttpResponse:
        try:
            handle, name, content_type = export_open(company=self.company, job_id=job_id)
        except ExportJob.DoesNotExist as exc:
            raise Http404("No such export.") from exc
        except ExportUnavailable:
            return HttpResponse(
                _("This export is no longer available: export the table again."), status=410, content_type="text/plain"
            )
        response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
        audit_access(
            request, None, AuditEvent.EXPORT_DOWNLOADED, {"export_id": job_id, "file": name}, company=self.company
        )
        return response
