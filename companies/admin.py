from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import models
from django.http import HttpRequest

from companies.models import ApiToken, Company, Membership
from companies.services import api_token_create, api_token_revoke
from companies.tenancy import company_for


def _has_company_field(model: type[models.Model]) -> bool:
    return any(f.name == "company" and f.is_relation for f in model._meta.get_fields())


class CompanyScopedAdmin(admin.ModelAdmin):
    """Scopes every changelist, change form, foreign-key choice and action to the user's company.

    Superusers see every company (with a company column and filter). Another company's object answers like a
    missing one. Subclasses must not override get_queryset without calling super().
    """

    def _user_company(self, request: HttpRequest):
        return None if request.user.is_superuser else company_for(request)

    def get_queryset(self, request: HttpRequest):
        qs = super().get_queryset(request)
        company = self._user_company(request)
        return qs if company is None else qs.filter(company=company)

    def get_list_display(self, request: HttpRequest):
        fields = list(super().get_list_display(request))
        if request.user.is_superuser and "company" not in fields:
            fields.append("company")
        return fields

    def get_list_filter(self, request: HttpRequest):
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser and "company" not in filters:
            filters.append("company")
        return filters

    def get_exclude(self, request: HttpRequest, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser:
            exclude.append("company")  # set from the user's membership on save
        return exclude

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if request.user.is_superuser and obj is not None and "company" not in readonly:
            readonly.append("company")  # moving rows between tenants would orphan their relations
        return readonly

    def _limit_to_company(self, request: HttpRequest, db_field, kwargs: dict) -> None:
        related = db_field.remote_field.model
        company = self._user_company(request)
        if company is not None and _has_company_field(related):
            base = kwargs.get("queryset", related._default_manager.all())
            kwargs["queryset"] = base.filter(company=company)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        self._limit_to_company(request, db_field, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        self._limit_to_company(request, db_field, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        company = self._user_company(request)
        if company is not None and not change:
            obj.company = company
        super().save_model(request, obj, form, change)


class CompanyScopedInline(admin.TabularInline):
    """Inline whose foreign-key choices are limited to the parent's company."""

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if not request.user.is_superuser and _has_company_field(db_field.remote_field.model):
            kwargs["queryset"] = db_field.remote_field.model._default_manager.filter(company=company_for(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    """Tenants are managed by Dialix staff (superusers) only."""

    list_display = ["name", "slug", "time_zone", "languages", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission


@admin.register(Membership)
class MembershipAdmin(CompanyScopedAdmin):
    list_display = ["user", "role", "created_at"]
    list_select_related = ["user", "company"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("user", "company")

    def get_raw_id_fields(self, request: HttpRequest, obj=None):
        # A raw-id user picker would let an owner browse every login on the platform; owners pick by typing a name.
        return ["user"] if request.user.is_superuser else []

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly.append("user")
        return readonly

    def has_add_permission(self, request: HttpRequest) -> bool:
        # People are added with `manage.py` or by staff for now: picking a user needs a platform-wide user list.
        return request.user.is_superuser


@admin.register(ApiToken)
class ApiTokenAdmin(CompanyScopedAdmin):
    list_display = ["name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["created_by", "company"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ["company", "name"] if request.user.is_superuser else ["name"]
        return super().get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        company = obj.company if request.user.is_superuser else company_for(request)
        token, raw = api_token_create(company=company, name=obj.name, created_by=request.user)
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = token.pk, token.prefix, token.key_hash, token.created_at
        self.message_user(
            request,
            f"API token created: {raw} — copy it now; it is stored only as a hash and will not be shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset) -> None:
        for token in queryset:
            api_token_revoke(company=token.company, token_id=token.pk)
        self.message_user(request, f"{queryset.count()} token(s) revoked.")


class DialixUserAdmin(UserAdmin):
    """Users are platform-wide: only superusers manage them; owners see their people through Memberships."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, DialixUserAdmin)
