from django.db.models import Prefetch, QuerySet

from calls.models import Call
from checklists.models import CallAnalysis, Checklist, ItemResult, Scorecard
from companies.models import Company


def checklist_list(*, company: Company) -> QuerySet[Checklist]:
    return Checklist.objects.for_company(company).order_by("name", "id")


def call_analysis(*, call: Call) -> CallAnalysis | None:
    return CallAnalysis.objects.filter(call=call, company_id=call.company_id).first()


def call_scorecards(*, call: Call) -> list[Scorecard]:
    """The call's scorecards with their item results and items, in checklist order (3 queries)."""
    results = ItemResult.objects.select_related("version_item", "overridden_by").order_by("version_item__order", "id")
    return list(
        Scorecard.objects.filter(call=call, company_id=call.company_id)
        .select_related("version__checklist")
        .prefetch_related(Prefetch("results", queryset=results))
        .order_by("version__checklist__name")
    )
