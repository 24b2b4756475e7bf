import pytest

from checklists.models import ChecklistItem, ChecklistSection, VersionItem
from checklists.services import checklist_publish, versions_for
from checklists.tests.factories import ChecklistFactory
from operators.tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db


def _checklist_with_item(company, criterion="Greets the customer", **kwargs):
    checklist = ChecklistFactory(company=company, **kwargs)
    section = ChecklistSection.objects.create(company=company, checklist=checklist, title="Opening")
    item = ChecklistItem.objects.create(
        company=company, checklist=checklist, section=section, criterion=criterion, weight=2
    )
    return checklist, item


def test_publish_freezes_items_and_publishing_unchanged_makes_no_new_version(company):
    checklist, _ = _checklist_with_item(company)
    first = checklist_publish(checklist=checklist)
    assert first.number == 1
    assert list(first.items.values_list("criterion", "weight")) == [("Greets the customer", 2)]
    assert checklist_publish(checklist=checklist) is None


def test_editing_an_item_makes_a_new_version_and_leaves_the_old_one_alone(company):
    checklist, item = _checklist_with_item(company)
    first = checklist_publish(checklist=checklist)
    item.criterion, item.weight = "Greets the customer by name", 5
    item.save()
    second = checklist_publish(checklist=checklist)
    assert second.number == 2
    old = VersionItem.objects.get(version=first)
    assert (old.criterion, old.weight) == ("Greets the customer", 2)  # old results keep their meaning
    assert VersionItem.objects.get(version=second).weight == 5


def test_versions_for_call_follow_direction_operator_and_active_flag(company):
    op_a, op_b = OperatorFactory(company=company), OperatorFactory(company=company)
    everyone, _ = _checklist_with_item(company, name="All")
    inbound_only, _ = _checklist_with_item(company, name="Inbound", directions=["inbound"])
    for_b, _ = _checklist_with_item(company, name="Only B")
    for_b.operators.add(op_b)
    inactive, _ = _checklist_with_item(company, name="Off", is_active=False)
    unpublished = ChecklistFactory(company=company, name="Draft")
    for checklist in (everyone, inbound_only, for_b, inactive):
        checklist_publish(checklist=checklist)
    assert unpublished.versions.count() == 0

    versions = versions_for(company=company, operator_id=op_a.pk, direction="outbound")
    assert [v.checklist.name for v in versions] == ["All"]
    versions = versions_for(company=company, operator_id=op_b.pk, direction="inbound")
    assert [v.checklist.name for v in versions] == ["All", "Inbound", "Only B"]


def test_versions_for_call_use_the_latest_version(company):
    checklist, item = _checklist_with_item(company)
    checklist_publish(checklist=checklist)
    item.weight = 9
    item.save()
    checklist_publish(checklist=checklist)
    (version,) = versions_for(company=company, operator_id=None, direction="inbound")
    assert version.number == 2


def test_publishing_a_checklist_without_items_is_refused(company):
    from checklists.services import ChecklistEmpty

    checklist = ChecklistFactory(company=company)
    with pytest.raises(ChecklistEmpty):
        checklist_publish(checklist=checklist)
    assert checklist.versions.count() == 0


def test_changes_of_a_never_published_checklist_are_all_its_items(company):
    from checklists.services import checklist_changes

    checklist, _ = _checklist_with_item(company)
    changes = checklist_changes(checklist=checklist)
    assert (changes.latest_number, changes.next_number, changes.item_count) == (None, 1, 1)
    assert [i.criterion for i in changes.added] == ["Greets the customer"] and changes.can_publish


def test_a_new_order_of_the_same_items_is_a_change_and_publishes(company):
    from checklists.services import checklist_changes

    checklist, first = _checklist_with_item(company)
    second = ChecklistItem.objects.create(
        company=company, checklist=checklist, section=first.section, criterion="Says goodbye", order=1
    )
    checklist_publish(checklist=checklist)
    first.order, second.order = 2, 0
    first.save()
    second.save()
    changes = checklist_changes(checklist=checklist)
    assert changes.reordered and not (changes.added or changes.removed or changes.changed)
    assert checklist_publish(checklist=checklist).number == 2
    assert not checklist_changes(checklist=checklist).has_changes


def test_a_section_named_by_title_is_reused_in_any_case_or_added_last(company):
    from checklists.services import checklist_section_for_title

    checklist, item = _checklist_with_item(company)
    assert checklist_section_for_title(checklist=checklist, title="  opening ") == item.section
    added = checklist_section_for_title(checklist=checklist, title="Closing")
    assert (added.title, added.company_id, added.order) == ("Closing", company.pk, item.section.order + 1)
    assert ChecklistSection.objects.filter(checklist=checklist).count() == 2
