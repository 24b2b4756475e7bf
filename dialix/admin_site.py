from django.contrib import admin
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

# Our models' names as the console's index lists them (capitalised verbose_name_plural), marked for translation here
# so that the index reads in the person's language without a migration for every model's Meta (issue 12).
MODEL_NAMES = (
    gettext_noop("Companies"),
    gettext_noop("Memberships"),
    gettext_noop("API tokens"),
    gettext_noop("Operators"),
    gettext_noop("Coaching notes"),
    gettext_noop("Calls"),
    gettext_noop("Item results"),
    gettext_noop("Checklists"),
    gettext_noop("Checklist versions"),
    gettext_noop("PBX accounts"),
    gettext_noop("Sync runs"),
    gettext_noop("Engine settings"),
    gettext_noop("People"),
)


class DialixAdminSite(admin.AdminSite):
    """The supervisors' console: open to superusers and to members whose role works in the admin."""

    site_header = _("Dialix console")
    site_title = "Dialix"
    index_title = _("Call analytics")

    def has_permission(self, request: HttpRequest) -> bool:
        from companies.roles import role_uses_admin
        from companies.tenancy import membership_for_user

        user = request.user
        if not (user.is_active and user.is_authenticated):
            return False
        if user.is_superuser:
            return True
        membership = membership_for_user(user)
        return membership is not None and role_uses_admin(membership.role)

    def each_context(self, request: HttpRequest) -> dict:
        """The header names the time zone every time on the page is in (the member's company's, dialix.middleware)."""
        context = super().each_context(request)
        context["site_header"] = f"{self.site_header} · {timezone.get_current_timezone_name()}"
        context["time_zone"] = timezone.get_current_timezone_name()
        return context

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list:
        """The Calls app also lists the review queue (a page, not a model): one click from the console's home."""
        app_list = super().get_app_list(request, app_label)
        if request.user.is_superuser:
            return app_list  # the queue is a company's: staff review by logging in as a member
        for app in app_list:
            for model in app["models"]:
                if model["name"] in MODEL_NAMES:
                    model["name"] = gettext(model["name"])
            if app["app_label"] == "calls" and any(m["object_name"] == "Call" for m in app["models"]):
                try:
                    url = reverse("admin:calls_call_review_queue", current_app=self.name)
                except NoReverseMatch:
                    break
                entry = {"name": gettext("Review queue"), "object_name": "ReviewQueue", "perms": {"view": True}}
                app["models"].insert(0, {**entry, "admin_url": url, "add_url": None, "view_only": True})
        return app_list
