from django.db.models import QuerySet

from companies.models import Company
from operators.models import Operator


def operator_list(*, company: Company) -> QuerySet[Operator]:
    return Operator.objects.for_company(company).order_by("name", "id")
