from django.contrib import admin
from django.http import HttpRequest


class DialixAdminSite(admin.AdminSite):
    """The supervisors' console: open to superusers and to members whose role works in the admin."""

    site_header = "Dialix console"
    site_title = "Dialix"
    index_title = "Call analytics"

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
