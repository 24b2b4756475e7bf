"""Tenancy: every business row belongs to a company, and every query a person or token can reach starts here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from companies.models import Company, Membership


class TimeStamped(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class CompanyQuerySet(models.QuerySet):
    def for_company(self, company: Company) -> Self:
        return self.filter(company=company)


class CompanyOwned(TimeStamped):
    """Abstract base of every business model. The isolation test creates one of each for two companies."""

    company = models.ForeignKey(
        "companies.Company", on_delete=models.CASCADE, related_name="+", verbose_name=_("company")
    )
    objects = CompanyQuerySet.as_manager()

    class Meta:
        abstract = True


_MEMBERSHIP_CACHE = "_dialix_membership"


def membership_for_user(user) -> Membership | None:
    """The user's membership with its company, one query per user object (cached on it)."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return None
    if not hasattr(user, _MEMBERSHIP_CACHE):
        from companies.models import Membership

        membership = Membership.objects.select_related("company").filter(user_id=user.pk).first()
        setattr(user, _MEMBERSHIP_CACHE, membership)
    return getattr(user, _MEMBERSHIP_CACHE)


def company_for(request: HttpRequest) -> Company:
    """The company a request acts for: the API token's, or the logged-in member's. PermissionDenied otherwise.

    Not middleware, because DRF authenticates tokens inside the view.
    """
    cached = getattr(request, "_dialix_company", None)
    if cached is not None:
        return cached
    from companies.api_auth import TokenPrincipal

    user = getattr(request, "user", None)
    if isinstance(user, TokenPrincipal):
        company = user.company
    else:
        membership = membership_for_user(user)
        if membership is None or not membership.company.is_active:
            raise PermissionDenied("Your account does not belong to an active company.")
        company = membership.company
    request._dialix_company = company
    return company


class CompanyMixin:
    """Gives a view `self.company`, resolved once per request."""

    @property
    def company(self) -> Company:
        return company_for(self.request)


class RoleRequiredMixin(AccessMixin):
    """Server-rendered pages: only members whose role is listed may open the page (others get 403)."""

    allowed_roles: tuple[str, ...] = ()

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        membership = membership_for_user(request.user)
        if membership is None or membership.role not in self.allowed_roles or not membership.company.is_active:
            raise PermissionDenied("Your role cannot open this page.")
        request._dialix_company = membership.company
        return super().dispatch(request, *args, **kwargs)
