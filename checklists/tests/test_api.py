import pytest

from checklists.models import ChecklistVersion
from checklists.tests.factories import ChecklistFactory
from companies.models import Role
from operators.tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db

BODY = {
    "name": "Sales call",
    "directions": ["inbound"],
    "sections": [
        {
            "title": "Opening",
            "items": [
                {"criterion": "Greets the customer", "examples": ["hello", "good morning"]},
                {"criterion": "Names the company", "weight": 2, "is_critical": True},
            ],
        },
        {"title": "Closing", "items": [{"criterion": "Says goodbye", "allow_na": True, "speaker": "any"}]},
    ],
}


def test_create_then_read_a_checklist_with_sections_and_items(token_client, company):
    operator = OperatorFactory(company=company)
    created = token_client.post("/api/v1/checklists/", {**BODY, "operator_ids": [operator.pk]}, format="json")
    assert created.status_code == 201, created.content
    body = token_client.get(f"/api/v1/checklists/{created.json()['id']}/").json()
    assert body["latest_version"] is None and body["operator_ids"] == [operator.pk]
    assert [s["title"] for s in body["sections"]] == ["Opening", "Closing"]
    first, second = body["sections"][0]["items"]
    assert first["examples"] == ["hello", "good morning"] and second["weight"] == 2 and second["is_critical"]


def test_update_replaces_the_draft_and_publish_freezes_it_once(token_client, company):
    pk = token_client.post("/api/v1/checklists/", BODY, format="json").json()["id"]
    published = token_client.post(f"/api/v1/checklists/{pk}/publish/")
    assert published.status_code == 201 and published.json()["version"] == 1
    assert token_client.post(f"/api/v1/checklists/{pk}/publish/").status_code == 200  # nothing changed
    changed = token_client.patch(
        f"/api/v1/checklists/{pk}/",
        {"description": "v2", "sections": [{"title": "All", "items": [{"criterion": "Smiles"}]}]},
        format="json",
    )
    assert changed.status_code == 200 and changed.json()["name"] == "Sales call"
    assert [i["criterion"] for i in changed.json()["sections"][0]["items"]] == ["Smiles"]
    again = token_client.post(f"/api/v1/checklists/{pk}/publish/")
    assert again.status_code == 201 and again.json()["version"] == 2
    assert ChecklistVersion.objects.get(checklist_id=pk, number=1).items.count() == 3  # the old version is frozen


def test_checklist_errors_are_per_field(token_client, company, other_company):
    theirs = OperatorFactory(company=other_company)
    ChecklistFactory(company=company, name="Taken")
    cases = [
        ({"name": "Taken"}, "name"),
        ({"name": "A", "operator_ids": [theirs.pk]}, "operator_ids"),
        ({"name": "B", "directions": ["sideways"]}, "directions"),
        ({"name": "C", "sections": [{"title": "S", "items": [{"criterion": "x", "weight": 0}]}]}, "sections"),
    ]
    for body, field in cases:
        response = token_client.post("/api/v1/checklists/", body, format="json")
        assert response.status_code == 400 and list(response.json()["error"]["details"]) == [field], body


def test_publishing_an_empty_checklist_is_409(token_client, company):
    empty = ChecklistFactory(company=company)
    response = token_client.post(f"/api/v1/checklists/{empty.pk}/publish/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "checklist_empty"


def test_analyst_reads_but_cannot_write_and_another_companys_checklist_is_404(
    client, token_client, company, other_company, make_member, django_assert_max_num_queries
):
    theirs = ChecklistFactory(company=other_company)
    assert token_client.get(f"/api/v1/checklists/{theirs.pk}/").status_code == 404
    assert token_client.post(f"/api/v1/checklists/{theirs.pk}/publish/").status_code == 404
    client.force_login(make_member(company, Role.ANALYST).user)
    assert client.get("/api/v1/checklists/").status_code == 200
    assert client.post("/api/v1/checklists/", BODY, content_type="application/json").status_code == 403


def test_checklist_list_query_count_is_flat(token_client, company, django_assert_num_queries):
    for name in ("A", "B", "C"):
        token_client.post("/api/v1/checklists/", {**BODY, "name": name}, format="json")
    # token, count, page, sections, items, operators
    with django_assert_num_queries(6):
        assert token_client.get("/api/v1/checklists/").json()["count"] == 3
