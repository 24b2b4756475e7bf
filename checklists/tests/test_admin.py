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


def _publish_url(checklist: Checklist) -> str:
    return f"/admin/checklists/checklist/{checklist.pk}/publish/"


def _change_url(checklist: Checklist) -> str:
    return f"/admin/checklists/checklist/{checklist.pk}/change/"


def _built(company, items: list[tuple[str, str, int]]) -> Checklist:
    """A checklist with items (section title, criterion, weight), saved as a draft."""
    checklist = ChecklistFactory(company=company, name="Built")
    for order, (title, criterion, weight) in enumerate(items):
        section, _ = ChecklistSection.objects.get_or_create(company=company, checklist=checklist, title=title)
        ChecklistItem.objects.create(
            company=company, checklist=checklist, section=section, criterion=criterion, weight=weight, order=order
        )
    return checklist


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _publish(client, checklist: Checklist):
    """Opens the preview, then confirms it, as the page's own form does."""
    preview = client.get(_publish_url(checklist))
    assert preview.status_code == 200
    return client.post(_publish_url(checklist), {"fingerprint": preview.context["changes"].fingerprint}, follow=True)


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
    response = supervisor_client.post(_change_url(checklist), data, follow=True)
    assert response.status_code == 200
    items = ChecklistItem.objects.filter(checklist=checklist)
    assert items.count() == 2 and {i.company_id for i in items} == {company.pk}


def test_saving_items_keeps_a_draft_that_scores_no_call(supervisor_client, company):
    sections = [{"title": "Opening", "order": "1"}]
    items = [{**_item(0, "Greets the customer"), "section": "", "section_title": "Opening"}]
    response = supervisor_client.post(ADD, _checklist_form("Sales", sections=sections, items=items), follow=True)
    checklist = Checklist.objects.get(company=company, name="Sales")
    assert checklist.items.count() == 1
    assert not checklist.versions.exists()
    assert any("saved as a draft: no call is scored with it until you publish it" in m for m in _messages(response))
    assert versions_for(company=company, operator_id=None, direction="inbound") == []
    assert "Published" not in response.content.decode()


def test_a_whole_checklist_is_built_in_one_save_with_section_titles_on_the_items(supervisor_client, company):
    rows = [
        ("Opening", "Greets the customer"),
        ("opening ", "Says the company name"),
        ("Closing", "Confirms the next step"),
        ("Wrap-up", "Says goodbye"),
    ]
    items = [{**_item(0, criterion), "section": "", "section_title": title} for title, criterion in rows]
    sections = [{"title": "Opening", "order": "1"}, {"title": "Closing", "order": "2"}]
    response = supervisor_client.post(ADD, _checklist_form("Sales", sections=sections, items=items))
    assert response.status_code == 302, response.content.decode()[:3000]
    checklist = Checklist.objects.get(company=company, name="Sales")
    # The titles reuse the sections of the section rows saved with them (any case), and a new one is added last.
    placed = [(i.section.title, i.criterion) for i in checklist.items.select_related("section").order_by("id")]
    assert placed == [
        ("Opening", "Greets the customer"),
        ("Opening", "Says the company name"),
        ("Closing", "Confirms the next step"),
        ("Wrap-up", "Says goodbye"),
    ]
    assert list(checklist.sections.order_by("order").values_list("title", flat=True)) == [
        "Opening",
        "Closing",
        "Wrap-up",
    ]
    assert {s.company_id for s in checklist.sections.all()} == {company.pk}


def test_an_item_without_a_section_is_a_field_error(supervisor_client, company):
    items = [{**_item(0, "Greets the customer"), "section": ""}]
    response = supervisor_client.post(ADD, _checklist_form("Sales", items=items))
    assert response.status_code == 200
    formset = next(f for f in response.context["inline_admin_formsets"] if f.formset.prefix == "items").formset
    assert formset.errors[0]["section"] == ["Choose a section or type a section title."]
    assert not Checklist.objects.filter(company=company, name="Sales").exists()


def test_publish_button_saves_the_draft_and_opens_the_preview(supervisor_client, company):
    items = [{**_item(0, "Greets the customer"), "section": "", "section_title": "Opening"}]
    response = supervisor_client.post(ADD, _checklist_form("Sales", items=items, _publish="1"))
    checklist = Checklist.objects.get(company=company, name="Sales")
    assert response.status_code == 302 and response["Location"] == _publish_url(checklist)
    assert not checklist.versions.exists()  # the preview comes first
    preview = supervisor_client.get(response["Location"]).content.decode()
    assert "The first version will have 1 item" in preview and "Greets the customer" in preview
    assert "Publish version 1" in preview


def test_preview_lists_what_changed_since_the_last_version(supervisor_client, company):
    checklist = _built(
        company,
        [
            ("Opening", "Greets the customer", 1),
            ("Opening", "Says the company name", 1),
            ("Closing", "Says goodbye", 1),
        ],
    )
    _publish(supervisor_client, checklist)
    greet, name, bye = checklist.items.order_by("order")
    greet.weight, greet.is_critical, greet.allow_na = 3, True, True
    greet.example_phrases = "Assalomu alaykum\nHello"
    greet.save()
    bye.criterion = "Says goodbye and thanks the customer"
    bye.save()
    name.delete()
    ChecklistItem.objects.create(
        company=company, checklist=checklist, section=bye.section, criterion="Confirms the next step", order=9
    )

    response = supervisor_client.get(_publish_url(checklist))
    changes = response.context["changes"]
    assert [i.criterion for i in changes.added] == ["Confirms the next step"]
    assert [i.criterion for i in changes.removed] == ["Says the company name"]
    by_item = {i.criterion: [(f.field, f.before, f.after) for f in i.fields] for i in changes.changed}
    assert by_item == {
        "Greets the customer": [
            ("weight", "1", "3"),
            ("critical", "no", "yes"),
            ("N/A allowed", "no", "yes"),
            ("examples", "—", "Assalomu alaykum / Hello"),
        ],
        "Says goodbye and thanks the customer": [("criterion", "Says goodbye", "Says goodbye and thanks the customer")],
    }
    page = response.content.decode()
    assert "Version 2 will have 3 items. Compared with version 1:" in page
    assert "Publish version 2" in page
    assert checklist.versions.count() == 1  # a preview publishes nothing


def test_publish_creates_the_next_version_and_scoring_uses_it(supervisor_client, supervisor, company):
    checklist = _built(company, [("Opening", "Greets the customer", 1)])
    response = _publish(supervisor_client, checklist)
    assert "Published version 1 of “Built”" in " ".join(_messages(response))
    item = checklist.items.get()
    item.weight = 4
    item.save()
    (scoring,) = versions_for(company=company, operator_id=None, direction="inbound")
    assert scoring.number == 1 and scoring.items.get().weight == 1  # the unpublished edit scores nothing

    response = _publish(supervisor_client, checklist)
    assert response.redirect_chain[-1][0] == _change_url(checklist)
    assert "Published version 2 of “Built”" in " ".join(_messages(response))
    version = ChecklistVersion.objects.get(checklist=checklist, number=2)
    assert version.created_by == supervisor.user
    (scoring,) = versions_for(company=company, operator_id=None, direction="inbound")
    assert scoring.number == 2 and scoring.items.get().weight == 4


def test_publishing_unchanged_items_makes_no_new_version(supervisor_client, company):
    checklist = _built(company, [("Opening", "Greets the customer", 1)])
    _publish(supervisor_client, checklist)
    preview = supervisor_client.get(_publish_url(checklist)).content.decode()
    assert "Nothing changed since version 1" in preview and "Publish version" not in preview
    response = _publish(supervisor_client, checklist)
    assert "Nothing changed since version 1: no new version was made." in _messages(response)
    assert checklist.versions.count() == 1


def test_an_empty_checklist_cannot_be_published_and_the_button_says_why(supervisor_client, company):
    checklist = ChecklistFactory(company=company, name="Empty")
    page = supervisor_client.get(_change_url(checklist)).content.decode()
    assert 'id="dlx-publish-button"' in page and "disabled>" in page.split('id="dlx-publish-button"')[1][:200]
    assert "A checklist without items cannot be published: add at least one item." in page
    preview = supervisor_client.get(_publish_url(checklist)).content.decode()
    assert "cannot be published" in preview and "Publish version" not in preview
    response = supervisor_client.post(_publish_url(checklist), {"fingerprint": "whatever"}, follow=True)
    assert any("cannot be published" in m for m in _messages(response))
    assert not checklist.versions.exists()


def test_an_edit_after_the_preview_is_shown_again_not_published_unseen(supervisor_client, company):
    checklist = _built(company, [("Opening", "Greets the customer", 1)])
    preview = supervisor_client.get(_publish_url(checklist))
    ChecklistItem.objects.filter(checklist=checklist).update(weight=7)  # someone else edits meanwhile
    response = supervisor_client.post(
        _publish_url(checklist), {"fingerprint": preview.context["changes"].fingerprint}, follow=True
    )
    assert response.redirect_chain[-1][0] == _publish_url(checklist)
    assert any("edited after this preview" in m for m in _messages(response))
    assert not checklist.versions.exists()


def test_another_companys_checklist_cannot_be_previewed_or_published(supervisor_client, other_company):
    foreign = _built(other_company, [("Opening", "Greets the customer", 1)])
    assert supervisor_client.get(_publish_url(foreign)).status_code == 302  # as a missing object: to the index
    supervisor_client.post(_publish_url(foreign), {"fingerprint": "x"})
    assert not foreign.versions.exists()


def test_an_analyst_sees_checklists_but_cannot_publish(client, company, make_member):
    from companies.models import Role

    checklist = _built(company, [("Opening", "Greets the customer", 1)])
    client.force_login(make_member(company, Role.ANALYST).user)
    assert client.get(_publish_url(checklist)).status_code == 403
    assert client.post(_publish_url(checklist), {"fingerprint": "x"}).status_code == 403
    assert "dlx-publish-button" not in client.get(_change_url(checklist)).content.decode()
    assert not checklist.versions.exists()


def test_operator_choices_are_the_companys_own(supervisor_client, company, other_company):
    from operators.tests.factories import OperatorFactory

    OperatorFactory(company=company, name="Aziza")
    OperatorFactory(company=other_company, name="Foreign operator")
    page = supervisor_client.get(ADD).content.decode()
    assert "Aziza" in page and "Foreign operator" not in page
    assert 'type="checkbox" name="directions" value="inbound"' in page


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
