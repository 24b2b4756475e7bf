"""Checklist versions. A checklist is edited freely; publishing freezes its items as a version that results refer to.

The analysis of calls against these versions lives in calls.services.analysis: checklists never imports calls."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Max, Q

from checklists.models import Checklist, ChecklistItem, ChecklistVersion, VersionItem
from companies.models import Company


def _snapshot(checklist: Checklist) -> list[tuple]:
    items = (
        ChecklistItem.objects.filter(checklist=checklist)
        .select_related("section")
        .order_by("section__order", "section_id", "order", "id")
    )
    return [
        (i.pk, i.section.title, i.criterion.strip(), i.weight, i.is_critical, i.allow_na, tuple(i.examples), i.speaker)
        for i in items
    ]


def _version_snapshot(version: ChecklistVersion) -> list[tuple]:
    return [
        (
            v.source_item_id,
            v.section_title,
            v.criterion,
            v.weight,
            v.is_critical,
            v.allow_na,
            tuple(v.examples),
            v.speaker,
        )
        for v in version.items.order_by("order", "id")
    ]


@transaction.atomic
def checklist_publish(*, checklist: Checklist, by=None) -> ChecklistVersion | None:
    """Freezes the checklist's current items as a new version when they differ from the latest one.
    Returns the new version, or None when nothing changed (publishing twice makes one version)."""
    checklist = Checklist.objects.select_for_update().get(pk=checklist.pk)
    latest = checklist.versions.order_by("-number").first()
    snapshot = _snapshot(checklist)
    if latest is not None and _version_snapshot(latest) == snapshot:
        return None
    version = ChecklistVersion.objects.create(
        company_id=checklist.company_id, checklist=checklist, number=(latest.number + 1) if latest else 1, created_by=by
    )
    VersionItem.objects.bulk_create(
        [
            VersionItem(
                company_id=checklist.company_id,
                version=version,
                source_item_id=item_id,
                section_title=section,
                criterion=criterion,
                weight=weight,
                is_critical=critical,
                allow_na=allow_na,
                examples=list(examples),
                speaker=speaker,
                order=index,
            )
            for index, (item_id, section, criterion, weight, critical, allow_na, examples, speaker) in enumerate(
                snapshot
            )
        ]
    )
    return version


def versions_for(*, company: Company, operator_id: int | None, direction: str) -> list[ChecklistVersion]:
    """The latest version of every active checklist that applies to a call of this operator and direction."""
    checklists = (
        Checklist.objects.for_company(company)
        .filter(is_active=True)
        .annotate(operator_count=Count("operators"), latest=Max("versions__number"))
        .filter(latest__isnull=False)
    )
    if operator_id:
        checklists = checklists.filter(Q(operator_count=0) | Q(operators=operator_id))
    else:
        checklists = checklists.filter(operator_count=0)
    chosen = [
        c
        for c in checklists.distinct()
        if not c.directions or (isinstance(c.directions, list) and direction in c.directions)
    ]
    if not chosen:
        return []
    wanted = Q()
    for checklist in chosen:
        wanted |= Q(checklist_id=checklist.pk, number=checklist.latest)
    return list(
        ChecklistVersion.objects.filter(wanted)
        .select_related("checklist")
        .prefetch_related("items")
        .order_by("checklist__name")
    )
