from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, models
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from companies.models import ApiToken, Company, LoginLockout, Membership, Role
from companies.services import (
    PeopleError,
    api_token_create,
    api_token_revoke,
    member_role_change,
    member_set_active,
    person_add,
    set_password_path,
)
from companies.tenancy import company_for, membership_for_user
from dialix.security import login_lockouts, login_unlock, two_factor_reset


def _has_company_field(model: type[models.Model]) -> bool:
    return any(f.name == "company" and f.is_relation for f in model._meta.get_fields())


def _company_unique_errors(instance: models.Model, form: forms.BaseForm) -> list[tuple[str | None, str]]:
    """The model's unique constraints that include `company`, checked against the database for this instance.

    Django skips them in an admin form because `company` is not a form field (it is set from the user's membership),
    so a duplicate would reach the database and answer 500. Each violation becomes a (form field or None, message).
    """
    if getattr(instance, "company_id", None) is None:
        return []
    model = type(instance)
    found: list[tuple[str | None, str]] = []
    for constraint in model._meta.constraints:
        fields = list(getattr(constraint, "fields", ()) or ())
        if not isinstance(constraint, models.UniqueConstraint) or "company" not in fields:
            continue
        others = [name for name in fields if name != "company"]
        if any(name in form.errors for name in others):
            continue  # the value is already wrong for another reason
        try:
            constraint.validate(model, instance, using=DEFAULT_DB_ALIAS)
        except ValidationError:
            visible = [name for name in others if name in form.fields]
            if visible:
                labels = ", ".join(_lower_first(str(form.fields[name].label or name)) for name in visible)
                text = gettext("Another %(thing)s of your company has this %(fields)s.")
                found.append((visible[0], text % {"thing": model._meta.verbose_name, "fields": labels}))
            else:
                text = gettext("Only one %(thing)s per company: edit the existing one instead.")
                found.append((None, text % {"thing": model._meta.verbose_name}))
    return found


def _lower_first(label: str) -> str:
    """'Name' -> 'name', but 'PBX extension' stays as it is."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


class CompanyScopedForm(forms.ModelForm):
    """Admin form of a company-owned row: the row gets the user's company before validation, so the unique rules on
    (company, ...) are checked in the form and a duplicate is a field error, not a database error."""

    dialix_company = None  # set by CompanyScopedAdmin.get_form for members; superusers pick a company in the form

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.dialix_company is not None and self.instance.company_id is None:
            self.instance.company = self.dialix_company

    def _post_clean(self) -> None:
        super()._post_clean()
        for field, message in _company_unique_errors(self.instance, self):
            self.add_error(field, message)


class CompanyInlineFormSet(BaseInlineFormSet):
    """Every inline row belongs to its parent's company: new rows take it before validation and again on save."""

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        if getattr(self.instance, "company_id", None) is not None and form.instance.company_id is None:
            form.instance.company_id = self.instance.company_id
        return form

    def save_new(self, form, commit=True):
        form.instance.company_id = self.instance.company_id
        return super().save_new(form, commit=commit)


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

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (CompanyScopedForm, form), {"dialix_company": self._user_company(request)})

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
    """Inline whose rows take the parent's company and whose foreign-key choices are limited to that company.

    A subclass that narrows a choice further (e.g. the same parent's rows) sets kwargs["queryset"] before calling
    super(): the company filter is applied on top of it, never instead of it."""

    formset = CompanyInlineFormSet

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        related = db_field.remote_field.model
        if not request.user.is_superuser and _has_company_field(related):
            base = kwargs.get("queryset", related._default_manager.all())
            kwargs["queryset"] = base.filter(company=company_for(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def _owner_company(request: HttpRequest) -> Company | None:
    membership = membership_for_user(request.user)
    return membership.company if membership is not None and membership.role == Role.OWNER else None


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    """Tenants are managed by Dialix staff (superusers); an owner opens their own company for its security settings
    (OWNER_FIELDS) and nothing else."""

    list_display = ["name", "slug", "time_zone", "languages", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    # issue 16: security and PII choices; the name is shown read-only
    OWNER_FIELDS = ["name", "require_two_factor", "pii_redacted_roles", "pii_send_original_to_llm"]

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "pii_redacted_roles":  # a JSON list of roles, chosen with checkboxes
            return forms.MultipleChoiceField(
                choices=Role.choices,
                required=False,
                widget=forms.CheckboxSelectMultiple,
                label=db_field.verbose_name,
                help_text=db_field.help_text,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_queryset(self, request: HttpRequest):
        companies = super().get_queryset(request)
        if request.user.is_superuser:
            return companies
        own = _owner_company(request)
        return companies.filter(pk=own.pk) if own is not None else companies.none()

    def get_fields(self, request: HttpRequest, obj=None):
        return super().get_fields(request, obj) if request.user.is_superuser else self.OWNER_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return super().get_readonly_fields(request, obj) if request.user.is_superuser else ["name"]

    def get_prepopulated_fields(self, request: HttpRequest, obj=None):
        return super().get_prepopulated_fields(request, obj) if request.user.is_superuser else {}

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or _owner_company(request) is not None

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        own = _owner_company(request)
        return own is not None and (obj is None or obj.pk == own.pk)

    has_change_permission = has_view_permission

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser


@admin.register(LoginLockout)
class LoginLockoutAdmin(admin.ModelAdmin):
    """Failed logins counted by django-axes, one row per username and address. An owner sees their company's
    people only and unlocks them; staff see everyone's. Nobody edits a row: unlocking forgets the failures."""

    list_display = ["username", "ip_address", "failures_since_start", "locked", "attempt_time"]
    list_filter = ["attempt_time"]
    search_fields = ["username", "ip_address"]
    fields = ["username", "ip_address", "user_agent", "failures_since_start", "attempt_time", "path_info"]
    readonly_fields = fields
    actions = ["unlock"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest):
        if request.user.is_superuser:
            return login_lockouts()
        own = _owner_company(request)
        if own is None:
            return LoginLockout.objects.none()
        usernames = list(get_user_model().objects.filter(membership__company=own).values_list("username", flat=True))
        return LoginLockout.objects.filter(pk__in=login_lockouts(usernames=usernames).values("pk")).order_by(
            "-attempt_time", "-id"
        )

    @admin.display(description=_("Locked"), boolean=True)
    def locked(self, obj: LoginLockout) -> bool:
        from django.conf import settings

        return obj.failures_since_start >= settings.AXES_FAILURE_LIMIT

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or _owner_company(request) is not None

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_module_permission(request)

    has_unlock_permission = has_view_permission

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description=_("Unlock selected logins (forget their failed attempts)"), permissions=["unlock"])
    def unlock(self, request: HttpRequest, queryset) -> None:
        usernames = sorted({row.username for row in queryset if row.username})
        login_unlock(usernames=usernames)
        self.message_user(request, gettext("Unlocked: %(people)s.") % {"people": ", ".join(usernames) or "—"})


class PersonAddForm(forms.ModelForm):
    """An owner adds a person: name, email (their login), role. The login gets no password: the owner passes on a
    one-time set-password link."""

    name = forms.CharField(max_length=150, label=_("Name"))
    email = forms.EmailField(label=_("Email"), help_text=_("The person logs in with this email."))

    class Meta:
        model = Membership
        fields = ["name", "email", "role"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        User = get_user_model()
        if User.objects.filter(username__iexact=email).exists() or User.objects.filter(email__iexact=email).exists():
            raise ValidationError(_("A login with this email exists already."))
        return email


class MembershipChangeForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role"]

    def clean_role(self) -> str:
        role = self.cleaned_data["role"]
        was = self.instance
        if was.pk and was.role == Role.OWNER and role != Role.OWNER:
            others = Membership.objects.filter(company_id=was.company_id, role=Role.OWNER, user__is_active=True)
            if not others.exclude(pk=was.pk).exists():
                raise ValidationError(_("The company needs an owner: make someone else owner first."))
        return role


@admin.register(Membership)
class MembershipAdmin(CompanyScopedAdmin):
    """The company's people. An owner adds a person (and gets a one-time set-password link to pass on), changes
    roles and deactivates people; superusers also attach existing logins."""

    list_display = ["user", "full_name", "person_email", "role", "active", "created_at"]
    list_select_related = ["user", "company"]
    list_filter = ["role", "user__is_active"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name"]
    raw_id_fields = ["user"]
    actions = ["deactivate", "reactivate", "new_set_password_link", "unlock_login", "reset_two_factor"]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("user", "company")

    @admin.display(description=_("Name"), ordering="user__first_name")
    def full_name(self, obj: Membership) -> str:
        return obj.user.get_full_name() or "—"

    @admin.display(description=_("Email"), ordering="user__email")
    def person_email(self, obj: Membership) -> str:
        return obj.user.email or "—"

    @admin.display(description=_("Active"), boolean=True, ordering="user__is_active")
    def active(self, obj: Membership) -> bool:
        return obj.user.is_active

    def get_raw_id_fields(self, request: HttpRequest, obj=None):
        # A raw-id user picker would let an owner browse every login on the platform; owners add people by email.
        return ["user"] if request.user.is_superuser else []

    def get_fields(self, request: HttpRequest, obj=None):
        if request.user.is_superuser:
            return super().get_fields(request, obj)
        if obj is None:
            return ["name", "email", "role"]
        return ["user", "full_name", "person_email", "active", "role"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["user"] if obj is None else ["user", "full_name", "person_email", "active"]
        return readonly

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        if not request.user.is_superuser:
            kwargs["form"] = MembershipChangeForm if obj is not None else PersonAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Superusers attach logins; owners (companies.add_membership) add people by name and email.
        return request.user.is_superuser or super().has_add_permission(request)

    def save_model(self, request: HttpRequest, obj: Membership, form, change: bool) -> None:
        if request.user.is_superuser:
            super().save_model(request, obj, form, change)
            return
        company = company_for(request)
        if change:
            member_role_change(company=company, membership_id=obj.pk, role=obj.role)
            return
        data = form.cleaned_data
        membership, link = person_add(company=company, name=data["name"], email=data["email"], role=data["role"])
        obj.pk, obj.user, obj.company, obj.created_at = membership.pk, membership.user, company, membership.created_at
        self.message_user(
            request,
            format_html(
                gettext(
                    "Set-password link for {email}: <a data-testid='set-password-link' href='{link}'>{url}</a> — pass "
                    "it on now; it works once and is not shown again."
                ),
                email=data["email"],
                link=link,
                url=request.build_absolute_uri(link),
            ),
            messages.WARNING,
        )

    @admin.action(description=_("Deactivate selected people (they can no longer log in)"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset) -> None:
        self._set_active(request, queryset, active=False)

    @admin.action(description=_("Reactivate selected people"), permissions=["change"])
    def reactivate(self, request: HttpRequest, queryset) -> None:
        self._set_active(request, queryset, active=True)

    def _set_active(self, request: HttpRequest, queryset, *, active: bool) -> None:
        done, refused = 0, []
        for membership in queryset.select_related("user", "company"):
            try:
                member_set_active(
                    company=membership.company, membership_id=membership.pk, active=active, by=request.user
                )
                done += 1
            except PeopleError as exc:
                refused.append(f"{membership.user}: {exc.message}")
        text = gettext("%(count)s person(s) reactivated.") if active else gettext("%(count)s person(s) deactivated.")
        self.message_user(request, text % {"count": done})
        if refused:
            refusals = "; ".join(refused)
            self.message_user(request, gettext("Not changed: %(problems)s") % {"problems": refusals}, messages.ERROR)

    @admin.action(description=_("Unlock login (after too many wrong passwords)"), permissions=["change"])
    def unlock_login(self, request: HttpRequest, queryset) -> None:
        usernames = [membership.user.get_username() for membership in queryset.select_related("user")]
        login_unlock(usernames=usernames)
        self.message_user(request, gettext("Unlocked: %(people)s.") % {"people": ", ".join(usernames)})

    @admin.action(description=_("Reset two-factor (a lost phone: enrol again at next login)"), permissions=["change"])
    def reset_two_factor(self, request: HttpRequest, queryset) -> None:
        people = []
        for membership in queryset.select_related("user"):
            two_factor_reset(user=membership.user)
            people.append(membership.user.get_username())
        self.message_user(request, gettext("Two-factor reset for: %(people)s.") % {"people": ", ".join(people)})

    @admin.action(description=_("Make a new set-password link"), permissions=["change"])
    def new_set_password_link(self, request: HttpRequest, queryset) -> None:
        for membership in queryset.select_related("user"):
            link = set_password_path(user=membership.user)
            self.message_user(
                request,
                format_html(
                    gettext("Set-password link for {person}: <a href='{link}'>{url}</a> (works once)."),
                    person=membership.user,
                    link=link,
                    url=request.build_absolute_uri(link),
                ),
                messages.WARNING,
            )


@admin.register(ApiToken)
class ApiTokenAdmin(CompanyScopedAdmin):
    list_display = ["name", "prefix", "scope", "expires_at", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["created_by", "company"]
    list_filter = ["scope"]
    readonly_fields = ["prefix", "scope", "expires_at", "created_by", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", "prefix", "scope", "expires_at", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            add = ["name", "scope", "expires_at"]
            return ["company", *add] if request.user.is_superuser else add
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None:  # scope and expiry are chosen once, at creation: a new need gets a new token
            return []
        return super().get_readonly_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        company = obj.company if request.user.is_superuser else company_for(request)
        token, raw = api_token_create(
            company=company, name=obj.name, created_by=request.user, scope=obj.scope, expires_at=obj.expires_at
        )
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = token.pk, token.prefix, token.key_hash, token.created_at
        self.message_user(
            request,
            gettext(
                "API token created: %(token)s — %(scope)s. Copy it now; it is stored only as a hash and will not be "
                "shown again."
            )
            % {"token": raw, "scope": token.get_scope_display()},
            messages.WARNING,
        )

    @admin.action(description=_("Revoke selected tokens"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset) -> None:
        for token in queryset:
            api_token_revoke(company=token.company, token_id=token.pk)
        self.message_user(request, gettext("%(count)s token(s) revoked.") % {"count": queryset.count()})


class DialixUserAdmin(UserAdmin):
    """Users are platform-wide: only superusers manage them; owners see their people through Memberships."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission


# django-otp's own device admin (keys and QR codes of everyone's devices) stays out of the console: owners reset a
# person's two-factor from Memberships (issue 16).
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)

User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, DialixUserAdmin)

# The audit trail and API token usage (issue 16), read-only for owners.
from companies import admin_audit  # noqa: E402, F401
