from django.db.models import QuerySet

from calls.models import Call
from companies.models import Company


def call_list(*, company: Company) -> QuerySet[Call]:
    return Call.objects.for_company(company).select_related("operator").order_by("-started_at", "-id")
