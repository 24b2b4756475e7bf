from django.contrib import admin

from companies.admin import CompanyScopedAdmin
from operators.models import Operator


@admin.register(Operator)
class OperatorAdmin(CompanyScopedAdmin):
    list_display = ["name", "pbx_extension", "email", "is_active", "user"]
    list_select_related = ["user", "company"]
    list_filter = ["is_active"]
    search_fields = ["name", "pbx_extension", "email"]
    raw_id_fields = []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            from companies.tenancy import company_for

            # Only logins of the same company can be linked to an operator.
            kwargs["queryset"] = db_field.remote_field.model._default_manager.filter(
                membership__company=company_for(request)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
