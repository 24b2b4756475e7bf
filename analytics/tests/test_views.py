import pytest

from calls.tests.factories import CallFactory
from companies.models import Role

pytestmark = pytest.mark.django_db


def test_analyst_lands_on_dashboard_with_company_name_and_empty_state(client, company, make_member):
    analyst = make_member(company, Role.ANALYST)
    client.force_login(analyst.user)
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/"
    text = response.content.decode()
    assert company.name in text
    assert "No calls yet" in text


def test_dashboard_counts_only_own_calls(client, company, other_company, make_member, django_assert_num_queries):
    from analytics.services import rollups_refresh

    CallFactory.create_batch(3, company=company)
    CallFactory.create_batch(5, company=other_company)
    for owner in (company, other_company):  # factories bypass the services that keep the rollups
        rollups_refresh(company_id=owner.pk)
    client.force_login(make_member(company, Role.ANALYST).user)
    # session, user, membership with company, the filter bar's operators and checklists, the set-up EXISTS, the KPIs
    # of both periods, the top purposes and topics (analytics/tests/test_dashboard_views.py has the rest)
    with django_assert_num_queries(8):
        text = client.get("/dashboard/").content.decode()
    assert 'data-testid="kpi-calls-value">3<' in text


def test_anonymous_is_sent_to_login(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_integrator_cannot_open_dashboard(client, company, make_member):
    client.force_login(make_member(company, Role.INTEGRATOR).user)
    assert client.get("/dashboard/").status_code == 403


def test_login_page_logs_an_analyst_in(client, company, make_member):
    make_member(company, Role.ANALYST, username="ana")
    response = client.post("/accounts/login/", {"username": "ana", "password": "pw-123456"}, follow=True)
    assert company.name in response.content.decode()
