"""Checklist versions. A checklist is edited freely; publishing freezes its items as a version that results refer to.

The analysis of calls against these versions lives in calls.services.analysis: checklists never imports calls."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils.translation import gettext_lazy

from checklists.models import (
    Checklist,
    ChecklistItem,
    ChecklistSection,
    ChecklistVersion,
    ItemSpeaker,
    VersionItem,
)
from companies.models import Company
from dialix.errors import DialixError


class ChecklistEmpty(DialixError):
    code, http_status = "checklist_empty", 409
    default_message = gettext_lazy("A checklist without items cannot be published: add at least one item and save it.")


class ChecklistChangedSincePreview(DialixError):
    code, http_status = "checklist_changed_since_preview", 409
    default_message = gettext_lazy(
        "The draft was edited after this preview: look at the changes again before publishing."
    )


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


def _fingerprint(snapshot: list[tuple]) -> str:
    return hashlib.sha256(repr(snapshot).encode()).hexdigest()[:16]


# The fields of an item a supervisor edits, as (snapshot index, label) in the order the preview lists them.
_COMPARED = [
    (1, gettext_lazy("section")),
    (2, gettext_lazy("criterion")),
    (3, gettext_lazy("weight")),
    (4, gettext_lazy("critical")),
    (5, gettext_lazy("N/A allowed")),
    (6, gettext_lazy("examples")),
    (7, gettext_lazy("speaker")),
]


def _shown(index: int, value: object) -> str:
    if isinstance(value, bool):
        return str(gettext_lazy("yes") if value else gettext_lazy("no"))
    if index == 6:
        return " / ".join(value) if value else "—"
    if index == 7:
        return str(ItemSpeaker(value).label)
    return str(value)


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class ItemChange:
    section: str
    criterion: str
    fields: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True)
class ChecklistChanges:
    """What publishing now would change, compared with the latest version (everything is added when there is none)."""

    latest_number: int | None
    item_count: int
    added: list[ItemChange]
    removed: list[ItemChange]
    changed: list[ItemChange]
    reordered: bool
    fingerprint: str  # of the draft previewed: publishing checks it, so what is published is what was shown

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.reordered)

    @property
    def next_number(self) -> int:
        return (self.latest_number or 0) + 1

    @property
    def can_publish(self) -> bool:
        return self.item_count > 0 and self.has_changes


def checklist_changes(*, checklist: Checklist) -> ChecklistChanges:
    """The difference between the draft (the editable items) and the latest published version, item by item:
    an item is matched with its frozen copy through VersionItem.source_item."""
    latest = checklist.versions.order_by("-number").first()
    draft = _snapshot(checklist)
    published = _version_snapshot(latest) if latest is not None else []
    before = {row[0]: row for row in published if row[0] is not None}
    now_ids = {row[0] for row in draft}
    added = [ItemChange(section=row[1], criterion=row[2]) for row in draft if row[0] not in before]
    removed = [ItemChange(section=row[1], criterion=row[2]) for row in published if row[0] not in now_ids]
    changed = []
    for row in draft:
        old = before.get(row[0])
        if old is None:
            continue
        diffs = [
            FieldChange(field=str(label), before=_shown(index, old[index]), after=_shown(index, row[index]))
            for index, label in _COMPARED
            if old[index] != row[index]
        ]
        if diffs:
            changed.append(ItemChange(section=row[1], criterion=row[2], fields=diffs))
    kept_before = [row[0] for row in published if row[0] in now_ids]
    kept_now = [row[0] for row in draft if row[0] in before]
    return ChecklistChanges(
        latest_number=latest.number if latest is not None else None,
        item_count=len(draft),
        added=added,
        removed=removed,
        changed=changed,
        reordered=kept_before != kept_now,
        fingerprint=_fingerprint(draft),
    )


@transaction.atomic
def checklist_publish(
    *, checklist: Checklist, by=None, expected_fingerprint: str | None = None
) -> ChecklistVersion | None:
    """Freezes the checklist's current items as a new version when they differ from the latest one.
    Returns the new version, or None when nothing changed (publishing twice makes one version).
    Raises ChecklistEmpty without items, and ChecklistChangedSincePreview when `expected_fingerprint` (from
    checklist_changes) no longer matches the draft."""
    checklist = Checklist.objects.select_for_update().get(pk=checklist.pk)
    latest = checklist.versions.order_by("-number").first()
    snapshot = _snapshot(checklist)
    if not snapshot:
        raise ChecklistEmpty(details={"checklist_id": checklist.pk})
    if expected_fingerprint is not None and expected_fingerprint != _fingerprint(snapshot):
        raise ChecklistChangedSincePreview(details={"checklist_id": checklist.pk})
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


@transaction.atomic
def checklist_section_for_title(*, checklist: Checklist, title: str) -> ChecklistSection:
    """The checklist's section with this title (any case), created after the last one when there is none: an item row
    names its section by title, so a whole checklist is built in one save."""
    title = " ".join(title.split())
    found = ChecklistSection.objects.filter(checklist=checklist, title__iexact=title).order_by("order", "id").first()
    if found is not None:
        return found
    last = ChecklistSection.objects.filter(checklist=checklist).aggregate(last=Max("order"))["last"]
    return ChecklistSection.objects.create(
        company_id=checklist.company_id, checklist=checklist, title=title, order=(last or 0) + 1
    )


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


# --- The checklists API (issue 13): a checklist with its sections and items written in one request ---


class ChecklistInvalid(DialixError):
    code, http_status = "invalid", 400
    default_message = "Invalid input."


@transaction.atomic
def checklist_save(
    *,
    company: Company,
    checklist: Checklist | None = None,
    fields: dict,
    operator_ids: list[int] | None = None,
    sections: list[dict] | None = None,
) -> Checklist:
    """Creates (checklist=None) or changes a checklist's draft. `fields`: name, description, is_active, directions.
    `operator_ids` (None: unchanged) must be the company's operators. `sections` (None: unchanged) replaces the
    draft's sections and items: [{"title", "items": [{"criterion", "weight", "is_critical", "allow_na",
    "examples", "speaker"}]}]. Published versions never change; publish to freeze the draft."""
    from operators.models import Operator

    checklist = checklist or Checklist(company=company)
    for name, value in fields.items():
        setattr(checklist, name, value)
    name_taken = Checklist.objects.for_company(company).filter(name=checklist.name).exclude(pk=checklist.pk).exists()
    if name_taken:
        raise ChecklistInvalid(details={"name": ["Another checklist has this name."]})
    checklist.save()
    if operator_ids is not None:
        found = list(Operator.objects.for_company(company).filter(pk__in=operator_ids))
        if len(found) != len(set(operator_ids)):
            raise ChecklistInvalid(details={"operator_ids": ["No such operator in your company."]})
        checklist.operators.set(found)
    if sections is not None:
        ChecklistSection.objects.filter(checklist=checklist).delete()  # its items go with it
        for order, section in enumerate(sections, start=1):
            row = ChecklistSection.objects.create(
                company_id=company.pk, checklist=checklist, title=section["title"], order=order
            )
            ChecklistItem.objects.bulk_create(
                ChecklistItem(
                    company_id=company.pk,
                    checklist=checklist,
                    section=row,
                    criterion=item["criterion"],
                    weight=item.get("weight", 1),
                    is_critical=item.get("is_critical", False),
                    allow_na=item.get("allow_na", False),
                    example_phrases="\n".join(item.get("examples", [])),
                    speaker=item.get("speaker", ItemSpeaker.OPERATOR),
                    order=index,
                )
                for index, item in enumerate(section.get("items", []), start=1)
            )
    return checklist
