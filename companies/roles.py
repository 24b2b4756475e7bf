"""What each role may touch. The admin asks Django permissions; RolePermissionBackend answers them from this table."""

from functools import cache

from django.apps import apps

from companies.models import Role

FULL = ("view", "add", "change", "delete")
EDIT = ("view", "add", "change")
VIEW = ("view",)

# Keys are "app_label" (every model of the app) or "app_label.model" (overrides the app entry).
ROLE_GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    Role.OWNER: {
        "companies.membership": FULL,
        "companies.apitoken": EDIT,  # revoke instead of delete: the audit trail stays
        "operators": FULL,
        "calls": FULL,
        "checklists": FULL,
        "integrations": FULL,
        "analytics": VIEW,
    },
    Role.SUPERVISOR: {
        "operators": FULL,
        "calls": EDIT,
        "checklists": FULL,
        "integrations": EDIT,
        "analytics": VIEW,
    },
    Role.ANALYST: {"operators": VIEW, "calls": VIEW, "checklists": VIEW, "integrations": VIEW, "analytics": VIEW},
    Role.INTEGRATOR: {},  # API only: never logs into the console
}
ADMIN_ROLES = frozenset({Role.OWNER, Role.SUPERVISOR, Role.ANALYST})
DASHBOARD_ROLES = (Role.OWNER, Role.SUPERVISOR, Role.ANALYST)


def role_uses_admin(role: str) -> bool:
    return role in ADMIN_ROLES


@cache
def permissions_for_role(role: str) -> frozenset[str]:
    grants = ROLE_GRANTS.get(role, {})
    perms: set[str] = set()
    for model in apps.get_models():
        label = model._meta.app_label
        actions = grants.get(f"{label}.{model._meta.model_name}", grants.get(label, ()))
        perms.update(f"{label}.{action}_{model._meta.model_name}" for action in actions)
    return frozenset(perms)
