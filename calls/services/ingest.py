"""Upserts of calls and operators in bulk: a re-read of the same PBX window writes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from calls.models import Call, CallSource, CallStatus
from calls.phones import normalise_phone
from calls.services.states import call_events_created, call_transition, new_call
from calls.signals import figures_changed
from companies.models import Company
from integrations.pbx.base import PbxCall, PbxOperator
from operators.models import Operator

# Failures a later re-read of the call may cure: the PBX may publish the recording after the call is listed.
RETRY_ON_REREAD = frozenset({"recording_missing"})
PBX_FIELDS = [
    "operator_id",
    "direction",
    "customer_phone",
    "customer_phone_raw",
    "started_at",
    "ended_at",
    "duration_seconds",
    "talk_seconds",
    "hangup_cause",
]
BULK_BATCH = 2000


@dataclass
class UpsertResult:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    operators_created: int = 0
    fetch_recording_ids: list[int] = field(default_factory=list)


def operators_upsert_from_pbx(*, company: Company, operators: list[PbxOperator]) -> tuple[int, int]:
    """Creates and updates operators by extension (name and active flag follow the PBX). Returns (created, updated)."""
    existing = {
        op.pbx_extension: op
        for op in Operator.objects.for_company(company).filter(pbx_extension__in=[o.pbx_user_id for o in operators])
    }
    new, changed = [], []
    for pbx_op in operators:
        op = existing.get(pbx_op.pbx_user_id)
        if op is None:
            new.append(
                Operator(
                    company=company,
                    pbx_extension=pbx_op.pbx_user_id,
                    name=pbx_op.name or pbx_op.pbx_user_id,
                    is_active=pbx_op.is_active,
                )
            )
        elif (op.name, op.is_active) != (pbx_op.name or op.name, pbx_op.is_active):
            op.name, op.is_active = pbx_op.name or op.name, pbx_op.is_active
            op.updated_at = timezone.now()  # bulk_update does not run auto_now
            changed.append(op)
    Operator.objects.bulk_create(new, ignore_conflicts=True)
    if changed:
        Operator.objects.bulk_update(changed, ["name", "is_active", "updated_at"])
    return len(new), len(changed)


def _operator_ids(company: Company, extensions: set[str]) -> tuple[dict[str, int], int]:
    """Operator id per extension; an extension the PBX user list did not have gets a placeholder operator."""
    if not extensions:
        return {}, 0
    found = dict(
        Operator.objects.for_company(company).filter(pbx_extension__in=extensions).values_list("pbx_extension", "id")
    )
    missing = extensions - found.keys()
    if missing:
        Operator.objects.bulk_create(
            [Operator(company=company, pbx_extension=ext, name=f"Extension {ext}") for ext in sorted(missing)],
            ignore_conflicts=True,
        )
        found = dict(
            Operator.objects.for_company(company)
            .filter(pbx_extension__in=extensions)
            .values_list("pbx_extension", "id")
        )
    return found, len(missing)


def calls_upsert_from_pbx(*, company: Company, calls: list[PbxCall], source: str = CallSource.PBX) -> UpsertResult:
    """Creates new calls and updates changed ones, by (company, pbx_call_id). Unchanged calls are not written.

    A constant number of queries whatever len(calls) is (up to BULK_BATCH rows per statement). Run inside the
    caller's transaction; returns the ids whose recording should be fetched once that transaction commits.
    """
    result = UpsertResult(fetched=len(calls))
    if not calls:
        return result
    operator_ids, result.operators_created = _operator_ids(company, {c.operator_ext for c in calls if c.operator_ext})
    existing = {
        row.pbx_call_id: row
        for row in Call.objects.for_company(company)
        .filter(pbx_call_id__in=[c.pbx_call_id for c in calls])
        .only("id", "pbx_call_id", "status", "failure_code", "recording", *PBX_FIELDS)
    }
    phones: dict[str, str] = {}
    now = timezone.now()
    new: list[Call] = []
    changed: list[Call] = []
    reopen: list[tuple[int, str]] = []  # (call id, status it was read in) to move back to NEW
    points: list = []  # (operator id, started at) of the calls created or changed (calls.signals)
    for pbx_call in calls:
        raw = pbx_call.customer_phone_raw
        if raw not in phones:
            phones[raw] = normalise_phone(raw)
        values = {
            "operator_id": operator_ids.get(pbx_call.operator_ext) if pbx_call.operator_ext else None,
            "direction": pbx_call.direction,
            "customer_phone": phones[raw],
            "customer_phone_raw": raw,
            "started_at": pbx_call.started_at,
            "ended_at": pbx_call.ended_at,
            "duration_seconds": pbx_call.duration_seconds,
            "talk_seconds": pbx_call.talk_seconds,
            "hangup_cause": pbx_call.hangup_cause,
        }
        call = existing.get(pbx_call.pbx_call_id)
        if call is None:
            new.append(
                new_call(
                    company=company,
                    pbx_call_id=pbx_call.pbx_call_id,
                    source=source,
                    **values,
                )
            )
            continue
        dirty = [name for name, value in values.items() if getattr(call, name) != value]
        if call.status == CallStatus.SKIPPED and pbx_call.talk_seconds > 0:
            reopen.append((call.pk, CallStatus.SKIPPED))  # answered after all (a late update of the record)
        elif call.status == CallStatus.FAILED and call.failure_code in RETRY_ON_REREAD and not call.recording:
            reopen.append((call.pk, CallStatus.FAILED))  # the PBX may have published the recording by now
        if not dirty:
            if not (reopen and reopen[-1][0] == call.pk):
                result.unchanged += 1
            continue
        points.append((call.operator_id, call.started_at))  # the dashboard's rollups: where it was, and is now
        for name, value in values.items():
            setattr(call, name, value)
        points.append((call.operator_id, call.started_at))
        call.updated_at = now  # bulk_update does not run auto_now
        changed.append(call)

    if new:
        Call.objects.bulk_create(new, batch_size=BULK_BATCH, ignore_conflicts=True)
        result.created = len(new)
        # The rows this upsert inserted (a concurrent one may have inserted some first): their first history step,
        # and the answered ones' recordings to fetch.
        inserted = list(
            Call.objects.for_company(company)
            .filter(pbx_call_id__in=[c.pbx_call_id for c in new], events__isnull=True)
            .values_list("id", "status", "recording")
        )
        call_events_created(
            company_id=company.pk, calls=[(pk, status) for pk, status, _ in inserted], by=f"sync:{source}"
        )
        result.fetch_recording_ids += [pk for pk, status, rec in inserted if status == CallStatus.NEW and not rec]
        points += [(c.operator_id, c.started_at) for c in new]
    if changed:
        # PBX fields only: the pipeline status is never written from values read earlier (a worker may have moved on).
        Call.objects.bulk_update(changed, [*PBX_FIELDS, "updated_at"], batch_size=BULK_BATCH)
        result.updated = len(changed)
    figures_changed(company_id=company.pk, points=set(points))
    for call_id, was in reopen:  # rare; one conditional UPDATE each, so a call a worker just moved is left alone
        if call_transition(
            call_id=call_id,
            to=CallStatus.NEW,
            expect=was,
            by=f"sync:{source}",
            reason="read again from the PBX"
            if was == CallStatus.FAILED
            else "answered after all (the PBX record changed)",
            where=Q(recording=""),
            fields={"attempts": 0},
            queue_next=False,  # the sync queues the download with the page's other calls
        ):
            result.fetch_recording_ids.append(call_id)
            if call_id not in {c.pk for c in changed}:
                result.updated += 1
    return result
