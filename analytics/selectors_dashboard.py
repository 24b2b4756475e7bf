"""Reads of the dashboard pages (issue 15) that are not figures: the filter bar's choices, what the company has set
up (for the empty states), example calls of a checklist item, an operator's recent calls and coaching notes. The
figures themselves are analytics.selectors' (rollups), shared with the aggregates API. Each selector is one query."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, F, OuterRef, QuerySet, Window
from django.db.models.functions import RowNumber

from analytics.selectors import DashboardFilters
from calls.models import Call, CoachingNote
from checklists.models import Answer, Checklist, ItemResult, Scorecard
from companies.models import Company
from integrations.models import CrmConnection, PbxAccount
from operators.models import Operator

EXAMPLES_PER_ITEM = 3  # enough to open one and see the pattern; the console link lists them all


def dashboard_choices(*, company: Company) -> dict[str, list[tuple[int, str]]]:
    """The filter bar's operators and checklists, by name (two small queries)."""
    return {
        "operators": list(Operator.objects.for_company(company).order_by("name", "id").values_list("pk", "name")),
        "checklists": list(Checklist.objects.for_company(company).order_by("name", "id").values_list("pk", "name")),
    }


def dashboard_setup(*, company: Company) -> dict[str, bool]:
    """What the company has set up, for the empty states: any call, any checklist, a PBX account, an enabled CRM.
    One query of EXISTS subqueries."""
    row = (
        Company.objects.filter(pk=company.pk)
        .annotate(
            has_calls=Exists(Call.objects.filter(company=OuterRef("pk"))),
            has_checklist=Exists(Checklist.objects.filter(company=OuterRef("pk"))),
            has_pbx=Exists(PbxAccount.objects.filter(company=OuterRef("pk"))),
            has_crm=Exists(CrmConnection.objects.filter(company=OuterRef("pk"), is_enabled=True)),
        )
        .values("has_calls", "has_checklist", "has_pbx", "has_crm")
        .get()
    )
    return {key: bool(value) for key, value in row.items()}


def dashboard_calls(*, company: Company, filters: DashboardFilters) -> QuerySet[Call]:
    """The calls the filters pick, with the console list's semantics (calls/admin_filters.py): what a drill-down
    lists and the calls export writes. Not ordered (the caller orders)."""
    start, end = filters.bounds(company.time_zone)
    calls = Call.objects.for_company(company).filter(started_at__gte=start, started_at__lt=end)
    if filters.operator_ids:
        calls = calls.filter(operator_id__in=filters.operator_ids)
    if filters.direction:
        calls = calls.filter(direction=filters.direction)
    if filters.language:
        calls = calls.filter(language=filters.language)
    if filters.outcome:
        calls = calls.filter(outcome=filters.outcome)
    if filters.checklist_id is not None:
        calls = calls.filter(
            pk__in=Scorecard.objects.filter(version__checklist_id=filters.checklist_id).values("call_id")
        )
    return calls.order_by()


def item_missed_examples(
    *, company: Company, filters: DashboardFilters, item_ids: list[int], per_item: int = EXAMPLES_PER_ITEM
) -> dict[int, list[dict[str, Any]]]:
    """The newest calls of the period where each item was not met (a supervisor's correction counts), at most
    `per_item` per item: {item_id: [{call_id, started_at, operator_name, score, auto_fail}]}. One query."""
    if not item_ids:
        return {}
    rows = (
        ItemResult.objects.for_company(company)
        .filter(
            version_item_id__in=item_ids,
            answer=Answer.NOT_MET,
            call__in=dashboard_calls(company=company, filters=filters).values("pk"),
        )
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("version_item_id")],
                order_by=[F("call__started_at").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=per_item)
        .values(
            "version_item_id",
            "call_id",
            started_at=F("call__started_at"),
            operator_name=F("call__operator__name"),
            score=F("call__score"),
            auto_fail=F("call__auto_fail"),
        )
        .order_by("version_item_id", "rank")
    )
    examples: dict[int, list[dict[str, Any]]] = {pk: [] for pk in item_ids}
    for row in rows:
        examples[row.pop("version_item_id")].append(row)
    return examples


def operator_recent_calls(
    *, company: Company, filters: DashboardFilters, operator_id: int, limit: int = 10
) -> list[Call]:
    """The operator's newest calls of the period (one query)."""
    return list(
        dashboard_calls(company=company, filters=filters)
        .filter(operator_id=operator_id)
        .only("id", "started_at", "direction", "duration_seconds", "status", "score", "auto_fail", "outcome")
        .order_by("-started_at", "-id")[:limit]
    )


def operator_coaching_notes(*, company: Company, operator_id: int, limit: int = 10) -> list[CoachingNote]:
    """The newest coaching notes for the operator, any period (one query, author and call joined)."""
    return list(
        CoachingNote.objects.for_company(company)
        .filter(operator_id=operator_id)
        .select_related("author", "call")
        .order_by("-created_at", "-id")[:limit]
    )
