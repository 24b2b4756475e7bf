"""The audit trail in the console (issue 16): an owner sees their company's lines (staff see every company's),
filters them by actor, event, action, object type and date, and downloads what the filters select as CSV. Nobody
adds, changes or deletes a line from the console, superusers included: every permission but view is refused here,
whatever the roles table or a superuser flag says."""

from __future__ import annotations

import csv
import json

from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from companies.audit import AuditEvent, audit_access
from companies.models import ApiTokenUsage, AuditEntry, Role
from companies.tenancy import company_for, membership_for_user

EXPORT_COLUMNS = (
    "timestamp",
    "company",
    "actor",
    "event",
    "action",
    "object_type",
    "object_id",
    "object",
    "changes",
    "details",
    "remote_addr",
)


def _is_owner(request: HttpRequest) -> bool:
    membership = membership_for_user(request.user)
    return membership is not None and membership.role == Role.OWNER and membership.company.is_active


class _ReadOnlyTrail(admin.ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and (request.user.is_superuser or _is_owner(request))

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_actions(self, request: HttpRequest):
        return {}  # not even delete_selected

    def _company(self, request: HttpRequest):
        return None if request.user.is_superuser else company_for(request)

    def get_queryset(self, request: HttpRequest):
        qs = super().get_queryset(request)
        company = self._company(request)
        return qs if company is None else qs.filter(company=company)


class EventFilter(admin.SimpleListFilter):
    title = _("event")
    parameter_name = "event"

    def lookups(self, request, model_admin):
        return AuditEvent.choices + [
            ("call_changed", _("Call changed")),
            ("item_corrected", _("Item corrected")),
            ("checklist_changed", _("Checklist changed")),
            ("operator_changed", _("Operator changed")),
            ("membership_changed", _("Membership changed")),
        ]

    def queryset(self, request, queryset):
        return queryset.filter(event=self.value()) if self.value() else queryset


class ObjectTypeFilter(admin.SimpleListFilter):
    title = _("object type")
    parameter_name = "object_type"

    def lookups(self, request, model_admin):
        from auditlog.registry import auditlog

        types = ContentType.objects.get_for_models(*auditlog.get_models())
        return sorted(((str(ct.pk), str(model._meta.verbose_name)) for model, ct in types.items()), key=lambda x: x[1])

    def queryset(self, request, queryset):
        return queryset.filter(content_type_id=self.value()) if self.value() else queryset


# auditlog's own admin registers the entry model (ours, by AUDITLOG_LOGENTRY_MODEL) unscoped: replaced by ours.
if admin.site.is_registered(AuditEntry):
    admin.site.unregister(AuditEntry)


@admin.register(AuditEntry)
class AuditEntryAdmin(_ReadOnlyTrail):
    list_display = ["timestamp", "actor_label", "event", "action", "content_type", "object_repr", "remote_addr"]
    list_select_related = ["content_type", "company"]
    list_filter = [EventFilter, "action", ObjectTypeFilter, "timestamp"]
    search_fields = ["actor_label", "object_repr", "object_pk"]
    date_hierarchy = "timestamp"
    show_full_result_count = False
    list_per_page = 100
    change_list_template = "admin/companies/auditentry/change_list.html"
    fields = [
        "timestamp",
        "actor_label",
        "actor_email",
        "event",
        "action",
        "content_type",
        "object_pk",
        "object_repr",
        "changes_table",
        "details",
        "remote_addr",
        "remote_port",
        "cid",
    ]
    readonly_fields = fields

    def get_list_display(self, request: HttpRequest):
        fields = list(super().get_list_display(request))
        return [*fields, "company"] if request.user.is_superuser else fields

    def get_list_filter(self, request: HttpRequest):
        filters = list(super().get_list_filter(request))
        return [*filters, "company"] if request.user.is_superuser else filters

    @admin.display(description=_("changes"))
    def changes_table(self, obj: AuditEntry) -> str:
        changes = obj.changes if isinstance(obj.changes, dict) else {}
        if not changes:
            return "—"
        pairs = []
        for field, values in changes.items():
            old, new = (list(values) + [None, None])[:2] if isinstance(values, list) else (values, None)
            pairs.append((field, _short(old), _short(new)))
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", pairs)
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            gettext("Field"),
            gettext("Before"),
            gettext("After"),
            rows,
        )

    @admin.display(description=_("details"))
    def details(self, obj: AuditEntry) -> str:
        return json.dumps(obj.additional_data, ensure_ascii=False, sort_keys=True) if obj.additional_data else "—"

    def get_urls(self):
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_view),
                name="companies_auditentry_export",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        query = request.GET.urlencode()
        export = reverse("admin:companies_auditentry_export") + (f"?{query}" if query else "")
        try:
            usage = reverse("admin-usage")  # the console's usage page (analytics, mounted by dialix/urls.py)
        except NoReverseMatch:
            usage = None
        return super().changelist_view(request, {**(extra_context or {}), "export_url": export, "usage_url": usage})

    def export_view(self, request: HttpRequest):
        """The lines the changelist's filters select (all pages), newest first, as CSV; the export is audited."""
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request).order_by("-timestamp", "-id")
        company = self._company(request)
        filters = {k: v for k, v in request.GET.items()}
        if company is not None:
            audit_access(request, None, AuditEvent.AUDIT_EXPORTED, {"filters": filters}, company=company)

        def rows():
            writer = csv.writer(_Echo())
            yield writer.writerow(EXPORT_COLUMNS)
            for entry in queryset.iterator(chunk_size=2000):
                yield writer.writerow(
                    _csv_safe(cell)
                    for cell in [
                        entry.timestamp.isoformat(),
                        entry.company.name if entry.company_id and entry.company else "",
                        entry.actor_label,
                        entry.event,
                        entry.get_action_display(),
                        entry.content_type.model if entry.content_type_id else "",
                        entry.object_pk,
                        entry.object_repr,
                        json.dumps(entry.changes, ensure_ascii=False) if entry.changes else "",
                        json.dumps(entry.additional_data, ensure_ascii=False) if entry.additional_data else "",
                        entry.remote_addr or "",
                    ]
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return response


@admin.register(ApiTokenUsage)
class ApiTokenUsageAdmin(_ReadOnlyTrail):
    """Which token called which endpoint how often per day (sampled counts, companies.audit.api_token_used)."""

    list_display = ["day", "token", "endpoint", "count"]
    list_select_related = ["token"]
    list_filter = ["day", ("token", admin.RelatedOnlyFieldListFilter)]  # only the company's tokens are offered
    search_fields = ["endpoint"]
    show_full_result_count = False

    def get_list_filter(self, request: HttpRequest):
        filters = list(super().get_list_filter(request))
        return [*filters, "company"] if request.user.is_superuser else filters


class _Echo:
    def write(self, value: str) -> str:
        return value


def _short(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 200 else text[:199] + "…"


def _csv_safe(text: object) -> str:
    """A cell that a spreadsheet would run as a formula (=, +, -, @) gets a leading apostrophe."""
    text = str(text)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text
