from django.contrib import admin

from checklists.models import Checklist
from companies.admin import CompanyScopedAdmin


@admin.register(Checklist)
class ChecklistAdmin(CompanyScopedAdmin):
    list_display = ["name", "is_active", "updated_at"]
    list_select_related = ["company"]
    list_filter = ["is_active"]
    search_fields = ["name"]
