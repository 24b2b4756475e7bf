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


def test_create_update_and_deactivate_an_operator(token_client, company):
    created = token_client.post("/api/v1/operators/", {"name": "Dilnoza", "pbx_extension": "105"}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    changed = token_client.patch(f"/api/v1/operators/{pk}/", {"email": "d@example.com"}, format="json")
    assert changed.status_code == 200 and changed.json()["email"] == "d@example.com"
    gone = token_client.post(f"/api/v1/operators/{pk}/deactivate/")
    assert gone.status_code == 200 and gone.json()["is_active"] is False
    assert token_client.get(f"/api/v1/operators/{pk}/").json()["is_active"] is False


def test_an_extension_taken_in_the_company_is_400_on_that_field(token_client, company, other_company):
    OperatorFactory(company=company, pbx_extension="101")
    OperatorFactory(company=other_company, pbx_extension="102")
    taken = token_client.post("/api/v1/operators/", {"name": "X", "pbx_extension": "101"}, format="json")
    assert taken.status_code == 400 and list(taken.json()["error"]["details"]) == ["pbx_extension"]
    assert (
        token_client.post("/api/v1/operators/", {"name": "Y", "pbx_extension": "102"}, format="json").status_code == 201
    )
    invalid = token_client.post("/api/v1/operators/", {"email": "nope"}, format="json")
    assert invalid.status_code == 400 and set(invalid.json()["error"]["details"]) == {"name", "email"}


def test_analyst_cannot_write_operators_and_other_companys_operator_is_404(
    client, token_client, company, other_company, make_member
):
    from companies.models import Role

    theirs = OperatorFactory(company=other_company)
    assert token_client.patch(f"/api/v1/operators/{theirs.pk}/", {"name": "x"}, format="json").status_code == 404
    assert token_client.post(f"/api/v1/operators/{theirs.pk}/deactivate/").status_code == 404
    client.force_login(make_member(company, Role.ANALYST).user)
    assert client.get("/api/v1/operators/").status_code == 200
    refused = client.post("/api/v1/operators/", {"name": "Z"}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"


def test_operator_page_size_parameter(token_client, company):
    OperatorFactory.create_batch(3, company=company)
    body = token_client.get("/api/v1/operators/?page_size=2").json()
    assert len(body["results"]) == 2 and body["count"] == 3 and body["next"]
