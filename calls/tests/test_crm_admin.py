"""The CRM in the console (issue 14): the calls list's CRM column and its deal filters, and the call page's client
and deal, read from the call's own fields (no query of their own)."""

import re

import pytest

from calls.tests.factories import CallFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/calls/call/"
PORTAL = "https://acme.bitrix24.kz"


def _deal_call(company, client: str, deal: str, stage: str, semantic: str, **fields):
    return CallFactory(
        company=company,
        crm_link_state="linked",
        crm_entity_kind="contact",
        crm_entity_id="75",
        crm_client_name=client,
        crm_deal_id=deal,
        crm_deal_title=f"Deal {deal}",
        crm_deal_stage_name=stage,
        crm_deal_funnel_name="Kurslar",
        crm_deal_semantic=semantic,
        crm_url=f"{PORTAL}/crm/deal/details/{deal}/",
        **fields,
    )


@pytest.fixture
def crm_calls(company):
    return {
        "won": _deal_call(company, "Aziza Rahimova", "410", "Sotildi", "won"),
        "lost": _deal_call(company, "Bekzod Aliev", "411", "Rad etildi", "lost"),
        "open": _deal_call(company, "Nilufar Karimova", "412", "Uchrashuv", "open"),
        "no_deal": CallFactory(
            company=company,
            crm_link_state="linked",
            crm_entity_kind="lead",
            crm_entity_id="9",
            crm_client_name="Lead Olim",
        ),  # fmt: skip
        "no_match": CallFactory(company=company, crm_link_state="no_match"),
        "pending": CallFactory(company=company),
    }


def _listed(client, **params) -> set[int]:
    page = client.get(LIST, params).content.decode()
    return {int(pk) for pk in re.findall(r'href="/admin/calls/call/(\d+)/change/[^"]*"', page)}


def test_the_calls_list_filters_by_deal_outcome_and_stage(supervisor_client, crm_calls):
    ids = {name: call.pk for name, call in crm_calls.items()}
    assert _listed(supervisor_client, deal="won") == {ids["won"]}
    assert _listed(supervisor_client, deal="lost") == {ids["lost"]}
    assert _listed(supervisor_client, deal="open") == {ids["open"]}
    assert _listed(supervisor_client, deal="none") == {ids["no_deal"]}
    assert _listed(supervisor_client, deal="no_match") == {ids["no_match"]}
    assert _listed(supervisor_client, deal_stage="Rad etildi") == {ids["lost"]}
    assert len(_listed(supervisor_client)) == 6


def test_the_crm_column_shows_client_stage_and_outcome_without_a_query(
    supervisor_client, crm_calls, django_assert_num_queries
):
    # The same 10 queries as the list without the column (calls/tests/test_calls_list.py): the column reads the
    # call's own fields.
    with django_assert_num_queries(10):
        page = supervisor_client.get(LIST).content.decode()
    cells = re.findall(r'<span class="dlx-crm[^"]*" data-testid="crm">(.*?)</span></td>', page, re.S)
    text = [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]
    assert "Aziza Rahimova Sotildi Won" in text and "Bekzod Aliev Rad etildi Lost" in text
    assert "Lead Olim" in text and "no match" in text
    assert 'href="?deal_stage=Uchrashuv"' in page


def test_the_call_page_shows_the_client_and_the_deal_with_its_link(supervisor_client, crm_calls):
    page = supervisor_client.get(f"{LIST}{crm_calls['won'].pk}/change/").content.decode()
    assert 'data-testid="crm-client">Aziza Rahimova<' in page
    assert f'href="{PORTAL}/crm/deal/details/410/"' in page and "Deal 410" in page and "Kurslar / " in page
    assert 'data-testid="crm-deal-outcome">Won<' in page
    unmatched = supervisor_client.get(f"{LIST}{crm_calls['no_match'].pk}/change/").content.decode()
    assert 'data-testid="crm-client">No CRM match<' in unmatched
    pending = supervisor_client.get(f"{LIST}{crm_calls['pending'].pk}/change/").content.decode()
    assert "crm-client" not in pending
