from django.contrib.auth.backends import BaseBackend

from companies.roles import permissions_for_role
from companies.tenancy import membership_for_user


class RolePermissionBackend(BaseBackend):
    """Grants a member the permissions of their role. Scoping to the company is the admin's and selectors' job."""

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous:
            return set()
        membership = membership_for_user(user_obj)
        if membership is None or not membership.company.is_active:
            return set()
        return set(permissions_for_role(membership.role))

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        return any(perm.startswith(f"{app_label}.") for perm in self.get_all_permissions(user_obj))
