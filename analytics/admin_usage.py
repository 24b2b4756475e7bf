"""The console's usage and cost page (issue 16): the company's months from analytics.selectors_usage, the same
figures as /api/v1/usage/. Owners only (what the calls cost is theirs); Dialix staff pick a company with ?company=.
Mounted at /admin/usage/ by dialix/urls.py inside the console (admin_view: login, the console's frame)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext

from analytics.selectors_usage import MAX_MONTHS, usage_months
from companies.models import Company, Role
from companies.tenancy import membership_for_user


def _company(request: HttpRequest) -> Company:
    if request.user.is_superuser:
        raw = request.GET.get("company", "")
        company = (
            Company.objects.filter(pk=int(raw)).first() if raw.isdigit() else Company.objects.order_by("id").first()
        )
        if company is None:
            raise Http404("No such company.")
        return company
    membership = membership_for_user(request.user)
    if membership is None or membership.role != Role.OWNER or not membership.company.is_active:
        raise PermissionDenied("Usage and cost are for the company's owner.")
    return membership.company


def usage_page(request: HttpRequest) -> HttpResponse:
    company = _company(request)
    raw = request.GET.get("months", "12")
    months = int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_MONTHS else 12
    usage = usage_months(company=company, months=months)
    context = {
        **admin.site.each_context(request),
        "title": gettext("Usage and cost"),
        "company": company,
        "usage": usage,
        "months": months,
        "companies": Company.objects.order_by("name") if request.user.is_superuser else None,
    }
    return TemplateResponse(request, "admin/analytics/usage.html", context)


usage_admin_view = admin.site.admin_view(usage_page)
