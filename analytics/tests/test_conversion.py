"""QA vs conversion (issue 14): won rate of closed deals by score band and per checklist item, each deal once,
checked against a computation by hand on seeded calls."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from analytics.selectors_crm import crm_conversion
from calls.tests.factories import CallFactory
from calls.tests.test_api import analysed_call
from checklists.models import ItemResult
from checklists.tests.factories import ChecklistFactory
from companies.services import api_token_create
from operators.tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db

GREETS, OFFERS = "Greets the customer", "Offers help"
DAY = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def _call(company, operator, checklist, deal, semantic, score, *, greets="met", offers="met", hours=0):
    call = analysed_call(
        company,
        checklist=checklist,
        score=score,
        operator=operator,
        started_at=DAY + dt.timedelta(hours=hours),
        crm_link_state="linked",
        crm_entity_kind="contact",
        crm_entity_id="7",
        crm_deal_id=deal,
        crm_deal_semantic=semantic,
    )
    for criterion, answer in ((GREETS, greets), (OFFERS, offers)):
        ItemResult.objects.filter(call=call, version_item__criterion=criterion).update(answer=answer)
    return call


@pytest.fixture
def seeded(company, other_company):
    """Operator Ana's deals (hand computation in the tests' comments), one deal of Bob and one of another company."""
    ana, bob = OperatorFactory(company=company, name="Ana"), OperatorFactory(company=company, name="Bob")
    first = analysed_call(company, operator=ana, started_at=DAY - dt.timedelta(days=30))  # publishes the checklist
    checklist = first.scorecards.get().version.checklist
    # D1 won, scores 90 and 80 -> mean 85 (85-100); greets met twice; offers met once of two -> met (half)
    _call(company, ana, checklist, "D1", "won", 90.0, hours=1)
    _call(company, ana, checklist, "D1", "won", 80.0, offers="not_met", hours=2)
    # D2 won, 72 (70-84); greets met, offers not met
    _call(company, ana, checklist, "D2", "won", 72.0, offers="not_met", hours=3)
    # D3 lost, 40 and 60 -> 50 (50-69); greets not met twice; offers met once of two -> met
    _call(company, ana, checklist, "D3", "lost", 40.0, greets="not_met", hours=4)
    _call(company, ana, checklist, "D3", "lost", 60.0, greets="not_met", offers="not_met", hours=5)
    # D4 lost, 30 (0-49); neither item met
    _call(company, ana, checklist, "D4", "lost", 30.0, greets="not_met", offers="not_met", hours=6)
    # D5 won, 95 (85-100); both met
    _call(company, ana, checklist, "D5", "won", 95.0, hours=7)
    # D6 still open: counted as open only
    _call(company, ana, checklist, "D6", "open", 88.0, hours=8)
    # D7 lost but its only call has no score (low confidence) and its items were not applicable: left out
    _call(company, ana, checklist, "D7", "lost", None, greets="na", offers="na", hours=9)
    # Bob's D8 won, 20 (0-49)
    _call(company, bob, checklist, "D8", "won", 20.0, greets="not_met", offers="not_met", hours=10)
    # A call without a deal and another company's deal of the same id count nowhere
    CallFactory(company=company, operator=ana, score=99.0, started_at=DAY)
    _call(other_company, None, None, "D1", "lost", 10.0, hours=1)
    return {"ana": ana, "bob": bob, "checklist": checklist}


def test_conversion_of_one_operator_equals_the_hand_computation(company, seeded):
    figures = crm_conversion(company=company, operator_ids=[seeded["ana"].pk], min_deals=2)

    # D1..D5 are closed and scored: won D1, D2, D5; lost D3, D4. D6 open. D7 unscored.
    assert (figures["deals"], figures["won"], figures["lost"], figures["won_rate"]) == (5, 3, 2, 0.6)
    assert figures["open_deals"] == 1
    bands = [(b["band"], b["deals"], b["won"], b["won_rate"]) for b in figures["bands"]]
    assert bands == [
        ("0-49", 1, 0, None),  # D4; one deal is fewer than the minimum of 2: no rate
        ("50-69", 1, 0, None),  # D3
        ("70-84", 1, 1, None),  # D2
        ("85-100", 2, 2, 1.0),  # D1, D5
    ]
    items = {i["criterion"]: (i["met"], i["not_met"]) for i in figures["items"]}
    assert items[GREETS] == (
        {"deals": 3, "won": 3, "won_rate": 1.0},  # D1, D2, D5
        {"deals": 2, "won": 0, "won_rate": 0.0},  # D3, D4
    )
    assert items[OFFERS] == (
        {"deals": 3, "won": 2, "won_rate": 0.6667},  # D1 (1 of 2), D3 (1 of 2), D5
        {"deals": 2, "won": 1, "won_rate": 0.5},  # D2, D4
    )
    assert [i["checklist_id"] for i in figures["items"]] == [seeded["checklist"].pk] * 2


def test_conversion_of_every_operator_counts_bobs_deal_and_hides_thin_figures(company, seeded):
    figures = crm_conversion(company=company)  # the default minimum: 5 deals

    assert (figures["deals"], figures["won"], figures["won_rate"]) == (6, 4, 0.6667)  # D1..D5 and D8
    assert [(b["deals"], b["won"], b["won_rate"]) for b in figures["bands"]] == [
        (2, 1, None),  # D4, D8: fewer than 5 deals, so no figure
        (1, 0, None),
        (1, 1, None),
        (2, 2, None),
    ]


def test_conversion_by_period_and_checklist(company, seeded):
    late = crm_conversion(company=company, started_after=DAY + dt.timedelta(hours=6), min_deals=1)
    # calls from 15:00: D4 (lost, 30), D5 (won, 95), D6 open, D7 unscored, D8 (won, 20)
    assert (late["deals"], late["won"], late["open_deals"]) == (3, 2, 1)
    other = ChecklistFactory(company=company)
    assert crm_conversion(company=company, checklist_id=other.pk)["deals"] == 0
    same = crm_conversion(company=company, checklist_id=seeded["checklist"].pk, operator_ids=[seeded["ana"].pk])
    assert (same["deals"], same["won"]) == (5, 3)


def test_conversion_api_serves_the_selectors_figures(token_client, company, seeded):
    response = token_client.get("/api/v1/aggregates/conversion/", {"operator": seeded["ana"].pk, "min_deals": 2})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == crm_conversion(company=company, operator_ids=[seeded["ana"].pk], min_deals=2)
    assert body["bands"][3] == {"band": "85-100", "low": 85, "high": 100, "deals": 2, "won": 2, "won_rate": 1.0}


def test_conversion_api_hides_other_companies_deals(other_company, seeded):
    _token, raw = api_token_create(company=other_company, name="bravo")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = client.get("/api/v1/aggregates/conversion/", {"min_deals": 1}).json()
    assert (body["deals"], body["won"], body["lost"]) == (1, 0, 1)  # only Bravo's own D1


def test_conversion_api_refuses_another_companys_checklist(token_client, other_company):
    foreign = ChecklistFactory(company=other_company)
    response = token_client.get("/api/v1/aggregates/conversion/", {"checklist": foreign.pk})
    assert response.status_code == 400
    assert "checklist" in response.json()["error"]["details"]
