import datetime as dt

import factory
from django.utils import timezone

from calls.models import Call, Direction
from companies.tests.factories import CompanyFactory
from operators.tests.factories import OperatorFactory


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call

    company = factory.SubFactory(CompanyFactory)
    operator = factory.SubFactory(OperatorFactory, company=factory.SelfAttribute("..company"))
    pbx_call_id = factory.Faker("uuid4")
    direction = Direction.INBOUND
    customer_phone = factory.Sequence(lambda n: f"+99890{n:07d}")
    started_at = factory.Sequence(lambda n: timezone.now() - dt.timedelta(minutes=n + 1))
    duration_seconds = 60
