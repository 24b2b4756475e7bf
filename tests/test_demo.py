import pytest

from companies.models import ApiToken, Membership
from companies.services import api_token_authenticate
from dialix.demo import DEMO_OPERATORS, demo_seed
from operators.models import Operator

pytestmark = pytest.mark.django_db


def test_demo_seed_twice_changes_nothing_but_the_printed_token():
    first = demo_seed()
    second = demo_seed()
    assert first.company == second.company
    assert Operator.objects.for_company(first.company).count() == len(DEMO_OPERATORS)
    assert Membership.objects.filter(company=first.company).count() == 3
    assert api_token_authenticate(raw=first.api_token) is None  # the earlier demo token was revoked
    assert api_token_authenticate(raw=second.api_token).company == first.company
    assert ApiToken.objects.for_company(first.company).filter(revoked_at__isnull=True).count() == 1
