import factory

from checklists.models import Checklist
from companies.tests.factories import CompanyFactory


class ChecklistFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Checklist

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Checklist {n}")
