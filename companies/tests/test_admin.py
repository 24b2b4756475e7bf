import pytest

from companies.models import Role
from operators.models import Operator
from operators.tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db


def test_supervisor_cannot_open_another_companys_operator(supervisor_client, other_company):
    theirs = OperatorFactory(company=other_company, name="Their operator")
    response = supervisor_client.get(f"/admin/operators/operator/{theirs.pk}/change/", follow=True)
    assert "Their operator" not in response.content.decode()
    assert "doesn’t exist" in response.content.decode()  # answered like a missing object, not 'forbidden'


def test_supervisor_edits_own_operator(supervisor_client, company):
    mine = OperatorFactory(company=company, name="Mine")
    response = supervisor_client.post(
        f"/admin/operators/operator/{mine.pk}/change/",
        {"name": "Mine renamed", "pbx_extension": "150", "email": "", "is_active": "on"},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert (mine.name, mine.pbx_extension, mine.company_id) == ("Mine renamed", "150", company.pk)


def test_supervisor_adds_operator_into_own_company(supervisor_client, company):
    response = supervisor_client.post("/admin/operators/operator/add/", {"name": "New", "pbx_extension": "777"})
    assert response.status_code == 302
    assert Operator.objects.get(pbx_extension="777").company == company


def test_analyst_sees_but_cannot_edit(client, company, make_member):
    analyst = make_member(company, Role.ANALYST)
    op = OperatorFactory(company=company, name="Read only")
    client.force_login(analyst.user)
    page = client.get(f"/admin/operators/operator/{op.pk}/change/")
    assert page.status_code == 200 and "Read only" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()  # view-only form, no save button
    response = client.post(f"/admin/operators/operator/{op.pk}/change/", {"name": "Hacked", "pbx_extension": "1"})
    assert response.status_code == 403
    op.refresh_from_db()
    assert op.name == "Read only"
    assert client.get("/admin/operators/operator/add/").status_code == 403


def test_integrator_cannot_use_the_console(client, company, make_member):
    integrator = make_member(company, Role.INTEGRATOR)
    client.force_login(integrator.user)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_foreign_key_choices_are_limited_to_own_company(supervisor_client, company, other_company):
    from calls.tests.factories import CallFactory

    call = CallFactory(company=company)
    OperatorFactory(company=other_company, name="Foreign agent")
    page = supervisor_client.get(f"/admin/calls/call/{call.pk}/change/").content.decode()
    assert call.operator.name in page
    assert "Foreign agent" not in page


def test_owner_creates_api_token_shown_once_and_stored_hashed(client, company, make_member):
    from companies.models import ApiToken

    owner = make_member(company, Role.OWNER)
    client.force_login(owner.user)
    response = client.post("/admin/companies/apitoken/add/", {"name": "CRM connector", "scope": "read"}, follow=True)
    text = response.content.decode()
    token = ApiToken.objects.for_company(company).get(name="CRM connector")
    assert token.scope == "read" and token.created_by == owner.user
    raw = text.split("API token created: ")[1].split(" ")[0]
    assert raw.startswith("dlx_") and raw[:12] == token.prefix
    assert raw not in token.key_hash and len(token.key_hash) == 64
    assert raw not in client.get(f"/admin/companies/apitoken/{token.pk}/change/").content.decode()


def test_supervisor_cannot_manage_tokens(supervisor_client):
    assert supervisor_client.get("/admin/companies/apitoken/").status_code == 403
