"""Who may write through the API. One place, so every write endpoint (calls, operators, checklists, webhooks) refuses
the same callers the same way: extend `CanWrite` here (e.g. a token's scopes), never per view."""

from __future__ import annotations

from rest_framework import permissions

from companies.api_auth import TokenPrincipal
from companies.models import Role
from companies.tenancy import membership_for_user

WRITE_ROLES = (Role.OWNER, Role.SUPERVISOR)


def caller_can_write(request) -> bool:
    """Write-scope tokens, owners and supervisors may write; read tokens and analysts are read-only."""
    if isinstance(request.user, TokenPrincipal):
        return bool(getattr(request.user, "can_write", True))
    membership = membership_for_user(request.user)
    return membership is not None and membership.role in WRITE_ROLES


class CanWrite(permissions.BasePermission):
    """Safe methods for every caller of the company; anything else only for callers that may write."""

    message = "Your role or token is read-only."

    def has_permission(self, request, view) -> bool:
        return request.method in permissions.SAFE_METHODS or caller_can_write(request)
