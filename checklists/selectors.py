from django.db.models import QuerySet

from checklists.models import Checklist
from companies.models import Company


def checklist_list(*, company: Company) -> QuerySet[Checklist]:
    return Checklist.objects.for_company(company).order_by("name", "id")
