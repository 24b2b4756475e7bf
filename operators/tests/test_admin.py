"""Unique rules of company-owned rows are checked in the console's forms: a duplicate is a field error, never a 500."""

import pytest

from integrations.models import EngineSettings
from operators.models import Operator

pytestmark = pytest.mark.django_db


def _operator_form(**values) -> dict:
    return {"name": "Aziza", "pbx_extension": "101", "email": "", "is_active": "on", **values}


def test_an_operator_with_an_existing_extension_is_a_field_error(supervisor_client, company):
    Operator.objects.create(company=company, name="Bobur", pbx_extension="101")
    response = supervisor_client.post("/admin/operators/operator/add/", _operator_form())
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["pbx_extension"] == [
        "Another operator of your company has this PBX extension."
    ]
    assert Operator.objects.filter(company=company).count() == 1


def test_operators_without_extension_and_other_companies_extensions_do_not_clash(
    supervisor_client, company, other_company
):
    Operator.objects.create(company=other_company, name="Elsewhere", pbx_extension="101")
    Operator.objects.create(company=company, name="No extension", pbx_extension="")
    assert supervisor_client.post("/admin/operators/operator/add/", _operator_form()).status_code == 302
    assert supervisor_client.post("/admin/operators/operator/add/", _operator_form(pbx_extension="")).status_code == 302


def test_a_second_engine_settings_row_is_a_form_error(supervisor_client, company):
    EngineSettings.objects.create(company=company)
    data = {
        "engine_uz": "",
        "engine_ru": "",
        "engine_en": "",
        "engine_unknown": "",
        "fallback_engine": "offline",
        "analyzer_engine": "",
    }
    response = supervisor_client.post("/admin/integrations/enginesettings/add/", data)
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "Only one engine settings per company: edit the existing one instead."
    ]
    assert EngineSettings.objects.filter(company=company).count() == 1
