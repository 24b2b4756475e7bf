"""Reading a company's PBX: operators, then calls window by window from the stored cursor minus an overlap."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from calls.models import CallSource, CallStatus, FailureCode
from calls.services.ingest import calls_upsert_from_pbx, operators_upsert_from_pbx
from calls.services.pipeline import call_mark_failed
from integrations.errors import IntegrationError, TransientIntegrationError
from integrations.models import PbxAccount, SyncKind, SyncRun, SyncStatus
from integrations.services import (
    error_text,
    pbx_account_record_error,
    pbx_account_record_success,
    pbx_client_for,
    pbx_lease_acquire,
    pbx_lease_release,
    pbx_lease_renew,
)

logger = logging.getLogger(__name__)

SYNC_WINDOW = timedelta(hours=6)  # one page: committed with the cursor, so a sync that dies halfway keeps its progress


def _windows(since: datetime, until: datetime, size: timedelta) -> Iterator[tuple[datetime, datetime]]:
    start = since
    while start < until:
        end = min(start + size, until)
        yield start, end
        start = end


def _recording_not_fetched(call_id: int) -> Callable[[BaseException], None]:
    def mark(exc: BaseException) -> None:
        # In process nobody runs the retry later: the call says why, and *Fetch the recording again* (or a sync that
        # sees the call change) queues it once more.
        call_mark_failed(
            call_id=call_id,
            code=FailureCode.RECORDING_UNAVAILABLE,
            reason=f"The recording could not be fetched ({type(exc).__name__}: {exc}); "
            "use 'Fetch the recording again' to retry.",
            from_status=CallStatus.NEW,
            by="task:fetch_recording",
        )

    return mark


def _queue_recordings(call_ids: list[int], *, company_id: int) -> None:
    from calls.tasks import call_fetch_recording_task
    from dialix.queueing import task_enqueue

    for call_id in call_ids:
        task_enqueue(
            call_fetch_recording_task, call_id, company_id=company_id, on_failure=_recording_not_fetched(call_id)
        )


def pbx_sync_page(*, account: PbxAccount, calls, window_end: datetime) -> tuple:
    """Upserts one window's calls and moves the cursor to its end in the same transaction."""
    with transaction.atomic():
        result = calls_upsert_from_pbx(company=account.company, calls=calls, source=CallSource.PBX)
        # The cursor only moves forward, even if a slower, older sync commits after a newer one.
        PbxAccount.objects.filter(pk=account.pk).filter(
            Q(sync_cursor__isnull=True) | Q(sync_cursor__lt=window_end)
        ).update(sync_cursor=window_end)
        if account.fetch_recordings and result.fetch_recording_ids:
            ids, company_id = list(result.fetch_recording_ids), account.company_id
            transaction.on_commit(lambda: _queue_recordings(ids, company_id=company_id))
    return result


def _run_for(*, account: PbxAccount, kind: str, run_id: int | None, now: datetime) -> SyncRun | None:
    """The queued run this sync picks up (QUEUED -> RUNNING, one conditional UPDATE), or a new one (schedule).
    None: the queued run was closed meanwhile (a later sync read the PBX for it), so there is nothing to do."""
    if run_id is None:
        return SyncRun.objects.create(company_id=account.company_id, account=account, kind=kind, started_at=now)
    picked = SyncRun.objects.filter(pk=run_id, account=account, status=SyncStatus.QUEUED).update(
        status=SyncStatus.RUNNING, started_at=now, updated_at=now
    )
    if not picked:
        logger.info("pbx_sync_run_already_closed", extra={"company_id": account.company_id, "sync_run_id": run_id})
        return None
    return SyncRun.objects.get(pk=run_id)


def _close_queued_runs(*, account: PbxAccount, reader: SyncRun) -> None:
    """Runs queued before this sync took the lease are covered by it: they end SKIPPED now, never Queued forever,
    and their own task (if it ever runs) finds nothing to do."""
    now = timezone.now()
    SyncRun.objects.filter(account=account, status=SyncStatus.QUEUED, started_at__lte=reader.started_at).exclude(
        pk=reader.pk
    ).update(
        status=SyncStatus.SKIPPED,
        error=f"Sync run {reader.pk} read the PBX instead.",
        finished_at=now,
        updated_at=now,
    )


def pbx_sync_company(
    *, company_id: int, kind: str = SyncKind.SCHEDULED, until: datetime | None = None, run_id: int | None = None
) -> SyncRun:
    """One sync of a company's PBX, recorded as a SyncRun (the queued one given by ``run_id``, else a new one). Safe to
    run at any time and any number of times: another sync of the same company holding the lease makes this one
    SKIPPED; a failure keeps all stored calls and the cursor of the last committed window, so the next run continues
    from there. Whatever stops it, its run ends FAILED with the error and the lease is released."""
    account = PbxAccount.objects.select_related("company").get(company_id=company_id)
    now = timezone.now()
    run = _run_for(account=account, kind=kind, run_id=run_id, now=now)
    if run is None:
        return SyncRun.objects.get(pk=run_id)
    if not pbx_lease_acquire(account_id=account.pk):
        run.status, run.finished_at = SyncStatus.SKIPPED, timezone.now()
        run.save(update_fields=["status", "finished_at", "updated_at"])
        logger.info("pbx_sync_skipped", extra={"company_id": company_id, "sync_run_id": run.pk})
        return run
    until = until or now
    since = (
        account.sync_cursor - timedelta(minutes=account.overlap_minutes)
        if account.sync_cursor
        else until - timedelta(days=account.backfill_days)
    )
    run.window_from, run.window_to = since, until
    try:
        _close_queued_runs(account=account, reader=run)
        client = pbx_client_for(account)
        run.operators_created, _ = operators_upsert_from_pbx(company=account.company, operators=client.list_operators())
        for window_start, window_end in _windows(since, until, SYNC_WINDOW):
            calls = [call for batch in client.list_calls(since=window_start, until=window_end) for call in batch]
            result = pbx_sync_page(account=account, calls=calls, window_end=window_end)
            account.sync_cursor = max(account.sync_cursor or window_end, window_end)
            run.fetched += result.fetched
            run.created += result.created
            run.updated += result.updated
            run.skipped += result.unchanged
            run.operators_created += result.operators_created
            pbx_lease_renew(account_id=account.pk)
    except IntegrationError as exc:
        run.status, run.error = SyncStatus.FAILED, error_text(exc)
        pbx_account_record_error(account=account, exc=exc)
        if not isinstance(exc, TransientIntegrationError):
            logger.error("pbx_sync_failed", extra={"company_id": company_id, "reason": run.error})
    except BaseException as exc:  # a bug or a lost database: the run says so instead of staying Running; then re-raise
        run.status, run.error = SyncStatus.FAILED, error_text(exc)[:2000]
        logger.exception("pbx_sync_crashed", extra={"company_id": company_id, "sync_run_id": run.pk})
        with contextlib.suppress(Exception):  # the database may be what failed: the original error matters more
            pbx_account_record_error(account=account, exc=exc)
        _close_run(run=run, account=account)
        raise
    else:
        run.status = SyncStatus.SUCCEEDED
        pbx_account_record_success(account=account)
    _close_run(run=run, account=account)
    logger.info(
        "pbx_sync_finished",
        extra={
            "company_id": company_id,
            "sync_run_id": run.pk,
            "status": run.status,
            "fetched": run.fetched,
            "calls_created": run.created,
            "calls_updated": run.updated,
        },
    )
    return run


def _close_run(*, run: SyncRun, account: PbxAccount) -> None:
    """Saves the run's outcome and releases the lease; each step on its own, so one failing never skips the other."""
    run.finished_at = timezone.now()
    try:
        run.save()
    finally:
        pbx_lease_release(account_id=account.pk)


def pbx_fetch_call(*, company_id: int, pbx_call_id: str) -> SyncRun:
    """A pushed 'call finished': reads that one call from the PBX and stores it (then its recording)."""
    account = PbxAccount.objects.select_related("company").get(company_id=company_id)
    run = SyncRun.objects.create(company_id=company_id, account=account, kind=SyncKind.PUSH, started_at=timezone.now())
    try:
        client = pbx_client_for(account)
        calls = client.get_call(pbx_call_id)
        with transaction.atomic():
            result = calls_upsert_from_pbx(company=account.company, calls=calls, source=CallSource.PUSH)
            if account.fetch_recordings and result.fetch_recording_ids:
                ids = list(result.fetch_recording_ids)
                transaction.on_commit(lambda: _queue_recordings(ids, company_id=company_id))
        run.fetched, run.created, run.updated, run.skipped = (
            result.fetched,
            result.created,
            result.updated,
            result.unchanged,
        )
        run.status = SyncStatus.SUCCEEDED
    except TransientIntegrationError as exc:
        run.status, run.error = SyncStatus.FAILED, error_text(exc)
        run.finished_at = timezone.now()
        run.save()
        raise  # the task retries a push with backoff
    except IntegrationError as exc:
        run.status, run.error = SyncStatus.FAILED, error_text(exc)
        pbx_account_record_error(account=account, exc=exc)
    except BaseException as exc:  # never a run left Running
        run.status, run.error = SyncStatus.FAILED, error_text(exc)[:2000]
        run.finished_at = timezone.now()
        run.save()
        logger.exception("pbx_fetch_call_crashed", extra={"company_id": company_id, "sync_run_id": run.pk})
        raise
    run.finished_at = timezone.now()
    run.save()
    return run
