"""Deleting calls (issue 16): the row with everything hanging from it (transcript turns, analysis, scorecards and
their item results, events, notes: all ON DELETE CASCADE) and the recording file in the storage.

- One audit line per call: auditlog's DELETE line of the Call (event ``call_deleted``, with its key fields), written
  inside the deleting transaction; the cascaded rows write none (companies.audit skips them).
- The dashboards' rollups stay right: ``figures_changed`` with every deleted call's (operator, started_at), sent
  inside the same transaction, before the rows go (analytics recounts those days on commit).
- The file is removed through the storage API (local disk or a bucket alike) once the transaction committed: a
  rollback never leaves a call without its audio. A failed file removal is logged (the row is already gone).
- Idempotent: a call already deleted is simply not found; deleting a missing file is a no-op in both storages.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import QuerySet

from calls.models import Call
from calls.signals import figures_changed
from companies.audit import audit_actor
from companies.models import Company

logger = logging.getLogger(__name__)


def call_delete(*, company: Company, call_id: int, by: Any = None) -> bool:
    """Delete one of the company's calls. False when there is no such call (another company's looks the same)."""
    return calls_delete(calls=Call.objects.for_company(company).filter(pk=call_id), by=by) == 1


def calls_delete(*, calls: QuerySet[Call], by: Any = None) -> int:
    """Delete these calls (any companies: one signal per company). `by`: the request, user or label the audit lines
    name (a request's actor is known without it). Returns how many were deleted."""
    files: list[tuple[Storage, str, int, int]] = []
    deleted = 0
    with audit_actor(by) if by is not None else contextlib.nullcontext(), transaction.atomic():
        rows = list(Call.objects.filter(pk__in=calls.values("pk")).select_for_update().order_by("id"))
        by_company: dict[int, list[tuple[int | None, Any]]] = {}
        for call in rows:
            by_company.setdefault(call.company_id, []).append((call.operator_id, call.started_at))
            if call.recording:
                files.append((call.recording.storage, call.recording.name, call.company_id, call.pk))
        for company_id, points in by_company.items():
            figures_changed(company_id=company_id, points=points)
        for call in rows:
            call.delete()  # one by one: auditlog writes each call's line from the instance
            deleted += 1
        transaction.on_commit(lambda: _remove_files(files))
    for company_id, points in by_company.items():
        logger.info("calls_deleted", extra={"company_id": company_id, "count": len(points)})
    return deleted


def _remove_files(files: list[tuple[Storage, str, int, int]]) -> None:
    for storage, name, company_id, call_id in files:
        try:
            storage.delete(name)
        except Exception as exc:  # noqa: BLE001 - a boundary: the row is gone, the orphan file is reported
            logger.error(
                "call_recording_delete_failed",
                extra={"company_id": company_id, "call_id": call_id, "reason": type(exc).__name__},
            )
