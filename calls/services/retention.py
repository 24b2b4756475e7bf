"""Retention (issue 16): each company keeps recordings `recording_retention_days` and texts `text_retention_days`
after the call (empty: forever). Applied once a night by calls.tasks.calls_retention_task (Beat entry from
calls/migrations/0014_retention.py), and by hand with the same service.

What a policy removes, and what it keeps (the decision):
- Recording expired: the audio file is deleted from the storage (through the storage API, so the local disk and a
  bucket alike) and ``Call.recording`` is emptied; ``recording_deleted_at`` says when. Its size, duration and hash stay
  on the call, so the usage figures of past months do not change. The player says the recording was removed.
- Text expired: the transcript turns (``Utterance``: the words) are deleted; the analysis' free texts (summary,
  sentiment reasons) and the items' evidence quotes and reasons are emptied; ``text_deleted_at`` says when.
  Kept: the call, its metrics, score, auto-fail, sentiment and outcome labels, the purpose and topic labels (the
  dashboard's topic figures count them), every item's answer and a supervisor's correction, the transcript's
  engine/language/duration and the analysis' tokens and cost. So the dashboards, the rollups (even rebuilt from the
  calls) and the usage page stay exactly as they were, and no ``figures_changed`` is needed. The call page and the
  API say "Transcript removed on <date> by the retention policy" instead of the turns.
- Supervisors' coaching notes are people's notes about the operator, not the call's text: they stay.

Idempotent: a call already cleared is not selected again (its ``*_deleted_at`` is set, and files are deleted by
name, which is a no-op when already gone). Work goes in batches of BATCH calls, each its own short transaction,
files deleted after that batch committed. Counts are logged per company and written as one audit line per company
and run that removed anything.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from calls.models import Call, CallStatus, Utterance
from checklists.models import CallAnalysis, ItemResult
from companies.audit import AuditEvent, audit_access
from companies.models import Company

logger = logging.getLogger(__name__)

BATCH = 500
ACTOR = "system:retention"
# A call still in the pipeline keeps its audio and text until it is through (a backfill of old calls, a re-run).
SETTLED = (CallStatus.DONE, CallStatus.SKIPPED, CallStatus.FAILED)


@dataclass(frozen=True)
class RetentionCounts:
    recordings: int = 0
    texts: int = 0
    files_failed: int = 0

    def __add__(self, other: RetentionCounts) -> RetentionCounts:
        return RetentionCounts(
            self.recordings + other.recordings, self.texts + other.texts, self.files_failed + other.files_failed
        )


def retention_apply_all(*, now: dt.datetime | None = None) -> dict[int, RetentionCounts]:
    """Apply every active company's policy. Returns the counts per company that has a policy."""
    now = now or timezone.now()
    companies = Company.objects.filter(is_active=True).filter(
        Q(recording_retention_days__isnull=False) | Q(text_retention_days__isnull=False)
    )
    return {company.pk: company_retention_apply(company=company, now=now) for company in companies.order_by("id")}


def company_retention_apply(*, company: Company, now: dt.datetime | None = None) -> RetentionCounts:
    now = now or timezone.now()
    counts = RetentionCounts()
    if company.recording_retention_days is not None:
        counts += _expire_recordings(company, before=now - dt.timedelta(days=company.recording_retention_days), now=now)
    if company.text_retention_days is not None:
        counts += _expire_texts(company, before=now - dt.timedelta(days=company.text_retention_days), now=now)
    logger.info(
        "calls_retention_applied",
        extra={
            "company_id": company.pk,
            "recordings_deleted": counts.recordings,
            "texts_deleted": counts.texts,
            "files_failed": counts.files_failed,
        },
    )
    if counts.recordings or counts.texts:
        audit_access(
            None,
            None,
            AuditEvent.RETENTION_APPLIED,
            {
                "recordings_deleted": counts.recordings,
                "texts_deleted": counts.texts,
                "files_failed": counts.files_failed,
                "recording_retention_days": company.recording_retention_days,
                "text_retention_days": company.text_retention_days,
            },
            company=company,
            actor_label=ACTOR,
        )
    return counts


def _expire_recordings(company: Company, *, before: dt.datetime, now: dt.datetime) -> RetentionCounts:
    deleted = failed = 0
    due = Call.objects.for_company(company).filter(started_at__lt=before, status__in=SETTLED).exclude(recording="")
    while True:
        with transaction.atomic():
            batch = list(due.select_for_update(skip_locked=True).order_by("id").values_list("id", "recording")[:BATCH])
            if not batch:
                break
            ids = [pk for pk, _name in batch]
            Call.objects.filter(pk__in=ids).update(recording="", recording_deleted_at=now, updated_at=now)
        # Committed: the rows no longer point at the files, so removing them can never strand a call.
        storage = Call._meta.get_field("recording").storage
        for pk, name in batch:
            try:
                storage.delete(name)
            except Exception as exc:  # noqa: BLE001 - a boundary: logged and counted, the run goes on
                failed += 1
                logger.error(
                    "call_recording_delete_failed",
                    extra={"company_id": company.pk, "call_id": pk, "reason": type(exc).__name__},
                )
        deleted += len(batch)
    return RetentionCounts(recordings=deleted, files_failed=failed)


def _expire_texts(company: Company, *, before: dt.datetime, now: dt.datetime) -> RetentionCounts:
    cleared = 0
    due = Call.objects.for_company(company).filter(
        started_at__lt=before, status__in=SETTLED, text_deleted_at__isnull=True
    )
    # Only calls that have text to remove: one never transcribed nor analysed keeps no text (nothing to say).
    due = due.filter(Q(transcript__isnull=False) | Q(analysis__isnull=False))
    while True:
        with transaction.atomic():
            ids = list(
                due.select_for_update(skip_locked=True, of=("self",))
                .order_by("id")
                .values_list("id", flat=True)[:BATCH]
            )
            if not ids:
                break
            Utterance.objects.filter(company=company, call_id__in=ids).delete()
            CallAnalysis.objects.filter(company=company, call_id__in=ids).update(
                summary="", customer_sentiment_reason="", operator_sentiment_reason="", updated_at=now
            )
            ItemResult.objects.filter(company=company, call_id__in=ids).update(evidence_quote="", reason="")
            Call.objects.filter(pk__in=ids).update(text_deleted_at=now, updated_at=now)
        cleared += len(ids)
    return RetentionCounts(texts=cleared)
