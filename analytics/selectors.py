from django.db.models import Count, Q

from calls.models import Call, CallStatus
from companies.models import Company


def dashboard_summary(*, company: Company) -> dict[str, int]:
    """Headline counts for the dashboard, in one query."""
    return Call.objects.for_company(company).aggregate(
        calls=Count("id"),
        done=Count("id", filter=Q(status=CallStatus.DONE)),
        failed=Count("id", filter=Q(status=CallStatus.FAILED)),
    )
