from django.db.models import QuerySet

from checklists.models import Checklist
from companies.models import Company


def checklist_list(*, company: Company) -> QuerySet[Checklist]:
    return Checklist.objects.for_company(company).order_by("name", "id")


def checklist_api_list(*, company: Company) -> QuerySet[Checklist]:
    """The company's checklists with their sections, items, operators and latest version number (constant queries)."""
    from django.db.models import Max, Prefetch

    from checklists.models import ChecklistItem, ChecklistSection

    items = ChecklistItem.objects.order_by("order", "id")
    sections = ChecklistSection.objects.order_by("order", "id").prefetch_related(Prefetch("items", queryset=items))
    return (
        checklist_list(company=company)
        .annotate(latest_version=Max("versions__number"))
        .prefetch_related(Prefetch("sections", queryset=sections), "operators")
    )
