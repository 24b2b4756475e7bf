import factory

from companies.tests.factories import CompanyFactory
from operators.models import Operator


class OperatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Operator

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Operator {n}")
    pbx_extension = factory.Sequence(lambda n: str(100 + n))
