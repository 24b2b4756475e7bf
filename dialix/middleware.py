"""Every time a member sees is in their company's zone (issue 12): lists, statuses, history, the review queue."""

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from companies.tenancy import membership_for_user


class CompanyTimeZoneMiddleware:
    """Activates the logged-in member's company time zone for the request, so Django renders every datetime (admin
    lists, templates, forms) in it; superusers and anonymous visitors keep settings.TIME_ZONE. The membership is
    read once and cached on the user (the admin's permission check reuses it), so this costs no extra query there."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = self._zone(request)
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    @staticmethod
    def _zone(request: HttpRequest) -> ZoneInfo | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.is_superuser:
            return None
        membership = membership_for_user(user)
        if membership is None:
            return None
        try:
            return ZoneInfo(membership.company.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return None
