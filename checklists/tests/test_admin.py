"""The checklist builder in the console, as a supervisor submits it (the admin's own forms and inline formsets)."""

import pytest

from checklists.models import Checklist, ChecklistItem, ChecklistSection, ChecklistVersion
from checklists.services import versions_for
from checklists.tests.factories import ChecklistFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/checklists/checklist/add/"


def _inline(prefix: str, rows: list[dict], initial: int = 0) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data.update({f"{prefix}-{index}-{key}": value for key, value in row.items()})
    return data


def _checklist_form(name: str, sections: list[dict] | None = None, items: list[dict] | None = None, **extra) -> dict:
    return {
        "name": name,
        "description": "",
        "is_active": "on",
        **_inline("sections", sections or []),
        **_inline("items", items or []),
        **extra,
    }


def _item(section_id: int, criterion: str, **extra) -> dict:
    return {
        "section": str(section_id),
        "criterion": criterion,
        "weight": "1",
        "speaker": "operator",
        "example_phrases": "",
        "order": "0",
        **extra,
    }


def test_supervisor_builds_a_checklist_with_sections_then_items(supervisor_client, company):
    response = supervisor_client.post(
        ADD,
        _checklist_form("Sales", sections=[{"title": "Opening", "order": "1"}, {"title": "Closing", "order": "2"}]),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    checklist = Checklist.objects.get(company=company, name="Sales")
    sections = list(ChecklistSection.objects.filter(checklist=checklist).order_by("order"))
    assert [s.title for s in sections] == ["Opening", "Closing"]
    assert {s.company_id for s in sections} == {company.pk}
    assert not checklist.versions.exists()  # no items yet: a draft, never published

    existing = [
        {"id": str(s.pk), "checklist": str(checklist.pk), "title": s.title, "order": str(s.order)} for s in sections
    ]
    data = {
        "name": "Sales",
        "description": "",
        "is_active": "on",
        **_inline("sections", existing, initial=2),
        **_inline("items", [_item(sections[0].pk, "Greets the customer"), _item(sections[1].pk, "Says goodbye")]),
    }
    response = supervisor_client.post(f"/admin/checklists/checklist/{checklist.pk}/change/", data, follow=True)
    assert response.status_code == 200
    items = ChecklistItem.objects.filter(checklist=checklist)
    assert items.count() == 2 and {i.company_id for i in items} == {company.pk}
    assert "Published version 1" in response.content.decode()
    assert ChecklistVersion.objects.get(checklist=checklist).items.count() == 2


def test_a_checklist_with_a_name_only_is_a_draft_that_scores_nothing(supervisor_client, company):
    response = supervisor_client.post(ADD, _checklist_form("Empty"), follow=True)
    assert "is a draft" in response.content.decode()
    assert not ChecklistVersion.objects.filter(checklist__company=company).exists()
    assert versions_for(company=company, operator_id=None, direction="inbound") == []


def test_item_section_choices_are_the_same_checklists_sections(supervisor_client, company):
    mine = ChecklistFactory(company=company, name="Mine")
    other = ChecklistFactory(company=company, name="Other")
    ChecklistSection.objects.create(company=company, checklist=mine, title="My section")
    ChecklistSection.objects.create(company=company, checklist=other, title="Foreign section")
    page = supervisor_client.get(f"/admin/checklists/checklist/{mine.pk}/change/").content.decode()
    assert "My section" in page and "Foreign section" not in page


def test_a_second_checklist_with_the_same_name_is_a_field_error(supervisor_client, company):
    ChecklistFactory(company=company, name="Sales")
    response = supervisor_client.post(ADD, _checklist_form("Sales"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["name"] == ["Another checklist of your company has this name."]
    assert Checklist.objects.filter(company=company, name="Sales").count() == 1


def test_the_same_name_in_another_company_is_fine(supervisor_client, company, other_company):
    ChecklistFactory(company=other_company, name="Sales")
    assert supervisor_client.post(ADD, _checklist_form("Sales")).status_code == 302


def test_directions_are_checkboxes_and_bad_values_are_refused(supervisor_client, company):
    response = supervisor_client.post(ADD, _checklist_form("Inbound only", directions=["inbound"]))
    assert response.status_code == 302
    assert Checklist.objects.get(company=company, name="Inbound only").directions == ["inbound"]
    response = supervisor_client.post(ADD, _checklist_form("Broken", directions="5"))
    assert response.status_code == 200 and "directions" in response.context["adminform"].form.errors
    assert not Checklist.objects.filter(company=company, name="Broken").exists()


def test_directions_validator_refuses_what_would_break_analysis(company):
    from django.core.exceptions import ValidationError

    for bad in (5, "inbound", ["sideways"], ["inbound", "inbound"], [["inbound"]]):
        checklist = Checklist(company=company, name=f"x{bad!r}", directions=bad)
        with pytest.raises(ValidationError):
            checklist.full_clean()


def test_a_bad_directions_row_written_elsewhere_does_not_break_analysis(company):
    Checklist.objects.create(company=company, name="Legacy", directions=5)
    assert versions_for(company=company, operator_id=None, direction="inbound") == []


