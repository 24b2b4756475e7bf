"""QA vs conversion (issue 14): how the QA scores of the calls behind a deal relate to whether the deal was won.

Definitions (also in the API's description and /tmp contract):
- A deal is one ``Call.crm_deal_id`` of the company and counts once, however many calls it has. Only closed deals
  count (won or lost); the won rate is won / (won + lost). Open deals are only counted.
- The deal's score is the mean score of its calls in the selection (scored calls only; with a checklist, the mean of
  that checklist's scorecard scores). The mean, not the last call's score: every call of a deal is the company's
  effort on it, and the last call before closing is often a short confirmation that says little about the sale.
  A closed deal none of whose calls has a score is left out.
- An item is "met" for a deal when it was met on at least half of the deal's calls where it was decided (met or
  not met; a supervisor's correction wins; not applicable and needs-review are ignored). A deal without a decided
  answer for the item is not counted for it. Items are grouped per checklist item, all its versions together.
- A won rate is given only when at least ``min_deals`` deals are behind it; the counts always are.
Two queries, whatever the number of calls: the calls (with their scores) and the item answers (none without a
closed deal).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from calls.models import Call, DealSemantic
from checklists.models import Answer, ItemResult, Scorecard
from companies.models import Company

CONVERSION_MIN_DEALS = 5  # below this many deals a rate is noise: the figure is left out (None)
# (label, lowest score, highest score shown); a deal's mean score falls in the first band whose upper bound it is below
SCORE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("0-49", 0, 49),
    ("50-69", 50, 69),
    ("70-84", 70, 84),
    ("85-100", 85, 100),
)
_BAND_UPPER = (50, 70, 85, 101)


def min_deals_setting() -> int:
    return int(getattr(settings, "DIALIX_CONVERSION_MIN_DEALS", CONVERSION_MIN_DEALS))


def _band_index(score: float) -> int:
    for index, upper in enumerate(_BAND_UPPER):
        if score < upper:
            return index
    return len(_BAND_UPPER) - 1


def _rate(won: int, deals: int, min_deals: int) -> float | None:
    return round(won / deals, 4) if deals and deals >= min_deals else None


def _figure(deals: int, won: int, min_deals: int) -> dict[str, Any]:
    return {"deals": deals, "won": won, "won_rate": _rate(won, deals, min_deals)}


def conversion_calls(
    *,
    company: Company,
    calls: QuerySet[Call] | None = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    operator_ids: Sequence[int] | None = None,
) -> QuerySet[Call]:
    """The company's calls linked to a deal, narrowed by period and operators (whatever ``calls`` the caller passes,
    only this company's)."""
    rows = (calls if calls is not None else Call.objects.all()).filter(company=company).exclude(crm_deal_id="")
    if started_after is not None:
        rows = rows.filter(started_at__gte=started_after)
    if started_before is not None:
        rows = rows.filter(started_at__lt=started_before)
    if operator_ids:
        rows = rows.filter(operator_id__in=list(operator_ids))
    return rows.order_by()


def crm_conversion(
    *,
    company: Company,
    calls: QuerySet[Call] | None = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    operator_ids: Sequence[int] | None = None,
    checklist_id: int | None = None,
    min_deals: int | None = None,
) -> dict[str, Any]:
    """Won rate of closed deals by the band of their score and per checklist item when met vs not met (see the
    module's definitions). The shape is fixed: every band is present, in order; items by checklist and order."""
    min_deals = min_deals_setting() if min_deals is None else min_deals
    linked = conversion_calls(
        company=company,
        calls=calls,
        started_after=started_after,
        started_before=started_before,
        operator_ids=operator_ids,
    )
    if checklist_id is None:
        score_rows = linked.values_list("id", "crm_deal_id", "crm_deal_semantic", "score")
    else:
        score_rows = (
            Scorecard.objects.for_company(company)
            .filter(call__in=linked.values("id"), version__checklist_id=checklist_id)
            .values_list("call_id", "call__crm_deal_id", "call__crm_deal_semantic", "score")
        )
    # A deal's outcome: the poll writes it on all of its calls at once, so they agree; a won/lost one wins over a
    # stale open one should a call have been missed.
    outcome: dict[str, str] = {}
    scores: dict[str, list[float]] = defaultdict(list)
    for _call_id, deal_id, semantic, score in score_rows.order_by():
        if semantic in (DealSemantic.WON, DealSemantic.LOST) or deal_id not in outcome:
            outcome[deal_id] = semantic
        if score is not None:
            scores[deal_id].append(score)
    closed = {deal for deal, semantic in outcome.items() if semantic in (DealSemantic.WON, DealSemantic.LOST)}
    open_deals = sum(1 for deal, semantic in outcome.items() if deal not in closed and semantic == DealSemantic.OPEN)

    band_counts = [[0, 0] for _ in SCORE_BANDS]  # [deals, won]
    scored_closed = [deal for deal in closed if scores.get(deal)]
    for deal in scored_closed:
        index = _band_index(sum(scores[deal]) / len(scores[deal]))
        band_counts[index][0] += 1
        band_counts[index][1] += outcome[deal] == DealSemantic.WON
    won = sum(1 for deal in scored_closed if outcome[deal] == DealSemantic.WON)

    return {
        "min_deals": min_deals,
        "deals": len(scored_closed),
        "won": won,
        "lost": len(scored_closed) - won,
        "won_rate": _rate(won, len(scored_closed), min_deals),
        "open_deals": open_deals,
        "bands": [
            {"band": label, "low": low, "high": high, **_figure(deals, band_won, min_deals)}
            for (label, low, high), (deals, band_won) in zip(SCORE_BANDS, band_counts, strict=True)
        ],
        "items": _item_figures(company, linked, checklist_id, outcome, closed, min_deals),
    }


def _item_figures(
    company: Company,
    linked: QuerySet[Call],
    checklist_id: int | None,
    outcome: dict[str, str],
    closed: set[str],
    min_deals: int,
) -> list[dict[str, Any]]:
    if not closed:
        return []
    answers = ItemResult.objects.for_company(company).filter(
        call__in=linked.values("id"), answer__in=[Answer.MET, Answer.NOT_MET]
    )
    if checklist_id is not None:
        answers = answers.filter(version_item__version__checklist_id=checklist_id)
    rows = answers.values_list(
        "call__crm_deal_id",
        "answer",
        "version_item_id",
        "version_item__source_item_id",
        "version_item__version__checklist_id",
        "version_item__version__checklist__name",
        "version_item__version__number",
        "version_item__section_title",
        "version_item__criterion",
        "version_item__is_critical",
        "version_item__order",
    )
    # Per item (the checklist item behind every version; a version item without one stands alone): its latest
    # version's wording, and per deal [met, decided].
    items: dict[tuple[str, int], dict[str, Any]] = {}
    tallies: dict[tuple[str, int], dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for deal, answer, vi_id, source_id, cl_id, cl_name, number, section, criterion, critical, order in rows.order_by():
        if deal not in closed:
            continue
        key = ("item", source_id) if source_id is not None else ("version_item", vi_id)
        known = items.get(key)
        if known is None or number > known["_version"]:
            items[key] = {
                "item_id": source_id if source_id is not None else vi_id,
                "checklist_id": cl_id,
                "checklist_name": cl_name,
                "section": section,
                "criterion": criterion,
                "is_critical": critical,
                "_version": number,
                "_order": order,
            }
        tally = tallies[key][deal]
        tally[0] += answer == Answer.MET
        tally[1] += 1
    shaped = []
    for key, item in items.items():
        met = [0, 0]  # [deals, won]
        not_met = [0, 0]
        for deal, (met_count, decided) in tallies[key].items():
            side = met if met_count * 2 >= decided else not_met
            side[0] += 1
            side[1] += outcome[deal] == DealSemantic.WON
        item["met"] = _figure(met[0], met[1], min_deals)
        item["not_met"] = _figure(not_met[0], not_met[1], min_deals)
        shaped.append(item)
    shaped.sort(key=lambda i: (i["checklist_name"], i["checklist_id"], i["_order"], i["item_id"]))
    for item in shaped:
        del item["_version"], item["_order"]
    return shaped
