import pytest

from calls.tests.factories import CallFactory

pytestmark = pytest.mark.django_db


def test_call_list_newest_first_with_operator_and_flat_query_count(token_client, company, django_assert_num_queries):
    calls = CallFactory.create_batch(3, company=company)
    with django_assert_num_queries(3):  # token with company, page count, one page with operator joined
        response = token_client.get("/api/v1/calls/")
    results = response.json()["results"]
    assert [r["id"] for r in results] == [c.id for c in sorted(calls, key=lambda c: c.started_at, reverse=True)]
    assert results[0]["operator"] is not None
