import pytest

from operators.tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db


def test_operator_list_is_scoped_and_query_count_is_flat(
    token_client, company, other_company, django_assert_num_queries
):
    OperatorFactory.create_batch(4, company=company)
    OperatorFactory.create_batch(2, company=other_company)
    with django_assert_num_queries(3):  # token with company, page count, one page
        response = token_client.get("/api/v1/operators/")
    assert response.json()["count"] == 4


def test_operator_list_filters_active(token_client, company):
    OperatorFactory(company=company, is_active=False)
    OperatorFactory(company=company, is_active=True, name="Active one")
    names = [o["name"] for o in token_client.get("/api/v1/operators/?is_active=true").json()["results"]]
    assert names == ["Active one"]
