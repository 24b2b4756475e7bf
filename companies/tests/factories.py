import factory
from django.contrib.auth import get_user_model

from companies.models import Company, Membership, Role


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")
    languages = factory.LazyFunction(lambda: ["uz", "ru", "en"])


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.django.Password("pw-123456")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    company = factory.SubFactory(CompanyFactory)
    role = Role.SUPERVISOR
    user = factory.SubFactory(
        UserFactory, is_staff=factory.LazyAttribute(lambda u: u.factory_parent.role != Role.INTEGRATOR)
    )
