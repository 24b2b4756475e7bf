from django.contrib import admin

from calls.models import Call
from companies.admin import CompanyScopedAdmin


@admin.register(Call)
class CallAdmin(CompanyScopedAdmin):
    list_display = ["started_at", "operator", "direction", "customer_phone", "duration_seconds", "status"]
    list_select_related = ["operator", "company"]
    list_filter = ["status", "direction"]
    search_fields = ["pbx_call_id", "customer_phone", "operator__name"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    readonly_fields = ["pbx_call_id", "started_at", "duration_seconds", "status"]
