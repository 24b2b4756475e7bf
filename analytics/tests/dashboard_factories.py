"""Calls for the dashboard's tests, browser tests and screenshots: a few weeks of analysed calls with scorecards,
item results (some critical items missed), sentiments, outcomes, purposes and topics, plus missed calls, spread over
the hours of the company's day. Deterministic (a seeded random), bulk-created, then the rollups are rebuilt the way
the contract asks of data made outside the services (analytics.services.rollups_refresh)."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from dataclasses import dataclass

from django.utils import timezone

from analytics.services import rollups_refresh
from calls.models import Call, CallStatus, Direction
from checklists.demo import demo_checklists
from checklists.models import Answer, CallAnalysis, ChecklistVersion, ItemResult, ResultSource, Scorecard, VersionItem
from companies.models import Company
from operators.models import Operator

OPERATORS = ["Dilnoza Karimova", "Jasur Tursunov", "Malika Yusupova", "Sardor Rakhimov", "Anna Petrova"]
PURPOSES = ["Delivery status", "Order a product", "Return a product", "Payment question", "Complaint"]
TOPICS = ["delivery", "price", "refund", "installment", "warranty", "courier", "discount"]
OUTCOMES = ["sale", "agreed", "callback", "refused", "not_resolved", "information", "other"]
SENTIMENTS = ["negative", "neutral", "positive"]
# How well each operator follows the script (chance to meet an item): the leaderboard then has a spread.
SKILL = [0.92, 0.8, 0.7, 0.6, 0.85]


@dataclass(frozen=True)
class Seeded:
    calls: int
    analysed: int
    missed: int
    operators: list[Operator]
    versions: list[ChecklistVersion]


def seed_dashboard(
    company: Company, *, days: int = 30, per_day: int = 12, seed: int = 15, today: dt.date | None = None
) -> Seeded:
    """`days` days up to today (company zone) of calls; about one in eight is missed (skipped, not analysed)."""
    rng = random.Random(seed)
    zone = zoneinfo.ZoneInfo(company.time_zone)
    today = today or timezone.localdate(timezone=zone)
    demo_checklists(company)
    operators = [
        Operator.objects.get_or_create(company=company, pbx_extension=str(101 + i), defaults={"name": name})[0]
        for i, name in enumerate(OPERATORS)
    ]
    versions = list(
        ChecklistVersion.objects.for_company(company).select_related("checklist").order_by("checklist__name", "number")
    )
    items = {v.pk: list(VersionItem.objects.for_company(company).filter(version=v).order_by("order")) for v in versions}
    now = timezone.now()
    calls: list[Call] = []
    plans: list[tuple[Call, int, ChecklistVersion | None]] = []
    for day_index in range(days):
        day = today - dt.timedelta(days=day_index)
        for n in range(per_day + rng.randint(-3, 3)):
            hour = rng.choice([9, 10, 10, 11, 11, 12, 14, 15, 15, 16, 17, 18])
            started = dt.datetime.combine(day, dt.time(hour, rng.randint(0, 59)), tzinfo=zone)
            if started > now:
                started = now - dt.timedelta(minutes=5 + n)
            op_index = rng.randrange(len(operators))
            missed = rng.random() < 0.12
            duration = 0 if missed else rng.randint(45, 420)
            call = Call(
                company=company,
                operator=operators[op_index],
                pbx_call_id=f"dash-{seed}-{day_index}-{n}",
                direction=Direction.OUTBOUND if rng.random() < 0.3 else Direction.INBOUND,
                customer_phone=f"+99890{rng.randint(1000000, 9999999)}",
                started_at=started,
                duration_seconds=duration,
                talk_seconds=duration,
                status=CallStatus.SKIPPED if missed else CallStatus.DONE,
                language=rng.choice(["uz", "uz", "ru", "ru", "en"]),
            )
            if not missed:
                call.talk_ratio = round(rng.uniform(0.35, 0.7), 3)
                call.silence_share = round(rng.uniform(0.03, 0.25), 3)
                call.interruptions = rng.randint(0, 5)
                call.operator_words_per_minute = round(rng.uniform(95, 160), 1)
                call.customer_sentiment = rng.choices(SENTIMENTS, weights=[2, 5, 3])[0]
                call.outcome = rng.choices(OUTCOMES, weights=[3, 2, 2, 1, 1, 2, 1])[0]
            calls.append(call)
            plans.append((call, op_index, None if missed or not versions else rng.choice(versions)))
    Call.objects.bulk_create(calls)

    analyses, cards, results = [], [], []
    for call, op_index, version in plans:
        if call.status != CallStatus.DONE:
            continue
        analyses.append(
            CallAnalysis(
                company=company,
                call=call,
                engine="dashboard-seed",
                summary="",
                customer_sentiment=call.customer_sentiment,
                operator_sentiment="neutral",
                purpose=rng.choice(PURPOSES),
                outcome=call.outcome,
                topics=rng.sample(TOPICS, rng.randint(1, 3)),
            )
        )
        if version is None:
            continue
        answers = []
        for item in items[version.pk]:
            roll = rng.random()
            if item.allow_na and roll > 0.93:
                answers.append((item, Answer.NA))
            elif roll < SKILL[op_index] or (item.is_critical and roll < SKILL[op_index] + 0.07):
                answers.append((item, Answer.MET))
            else:
                answers.append((item, Answer.NOT_MET))
        applicable = [(i, a) for i, a in answers if a != Answer.NA]
        weight = sum(i.weight for i, _a in applicable)
        met = sum(i.weight for i, a in applicable if a == Answer.MET)
        call.score = round(met / weight * 100, 1) if weight else None
        call.auto_fail = any(i.is_critical and a == Answer.NOT_MET for i, a in answers)
        call.needs_review = rng.random() < 0.06  # some evidence the analyser could not verify
        card = Scorecard(
            company=company,
            call=call,
            version=version,
            score=call.score,
            auto_fail=call.auto_fail,
            needs_review=call.needs_review,
        )
        cards.append(card)
        results.extend(
            ItemResult(
                company=company, scorecard=card, call=call, version_item=item, answer=answer, source=ResultSource.RULES
            )
            for item, answer in answers
        )
    CallAnalysis.objects.bulk_create(analyses)
    Scorecard.objects.bulk_create(cards)
    ItemResult.objects.bulk_create(results)
    analysed = [c for c, *_ in plans if c.status == CallStatus.DONE]
    Call.objects.bulk_update(analysed, ["score", "auto_fail", "needs_review"])
    rollups_refresh(company_id=company.pk)
    missed = sum(1 for c in calls if c.status == CallStatus.SKIPPED)
    return Seeded(calls=len(calls), analysed=len(calls) - missed, missed=missed, operators=operators, versions=versions)
