"""Reading a company's PBX: operators, then calls window by window from the stored cursor minus an overlap.

Windows are by the calls' END time (spec §5: ``end_stamp_from``/``end_stamp_to``): the PBX lists a call only once it
has ended, so a two-hour call that started long before the cursor is still in the window of its end. The overlap
covers a PBX that lists a call a while after it ended. A record the parser refuses is skipped, counted on the run
and kept in its list (uuid and reason), and its window is committed like any other.

A backfill (*Read history from…*) reads an older span in 7-day windows with a pause between them (spec §8), commits
each window with its own cursor on the run (a stopped one continues from there) and never touches the account's
cursor. It takes the account's lease for each window and gives it back during the pause, so the PBX is read by one
sync at a time per company (spec §8: serial per tenant) and the regular schedule slips in between windows."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from calls.models import CallSource, CallStatus, FailureCode
from calls.services.crm import crm_link_soon
from calls.services.ingest import UpsertResult, calls_upsert_from_pbx, operators_upsert_from_pbx
from calls.services.pipeline import call_mark_failed
from integrations.errors import IntegrationError, TransientIntegrationError
from integrations.models import REJECTED_KEPT, PbxAccount, SyncKind, SyncRun, SyncStatus
from integrations.pbx.base import PbxCallWindow
from integrations.services import (
    BACKFILL_WINDOW,
    error_text,
    pbx_account_record_error,
    pbx_account_record_success,
    pbx_backfill_send,
    pbx_client_for,
    pbx_lease_acquire,
    pbx_lease_release,
    pbx_lease_renew,
)

logger = logging.getLogger(__name__)

SYNC_WINDOW = timedelta(hours=6)  # one page: committed with the cursor, so a sync that dies halfway keeps its progress
# Read at call time (tests and benches may lower them).
BACKFILL_PAUSE_SECONDS = 1.0  # spec §8: clients that bulk-load history sleep ~1 s between 7-day windows
BACKFILL_LEASE_WAIT_SECONDS = 120.0  # how long a backfill waits for a regular sync of the company to finish
BACKFILL_TASK_BUDGET_SECONDS = 120.0  # then it queues itself again, so other companies' syncs are not held up
REASON_KEPT = 300  # characters of a rejection's reason kept on the run


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


def pbx_sync_page(
    *, account: PbxAccount, run: SyncRun, window: PbxCallWindow, window_end: datetime, move_cursor: bool = True
) -> UpsertResult:
    """Upserts one window's calls and saves the run's counts with them, in one transaction: the account's cursor
    moves to the window's end (``move_cursor``; a backfill moves its run's own cursor instead). Records the parser
    rejected are counted and listed on the run; they never hold the window back."""
    before = {name: getattr(run, name) for name in _PROGRESS} | {"rejected_records": list(run.rejected_records)}
    try:
        return _store_page(account=account, run=run, window=window, window_end=window_end, move_cursor=move_cursor)
    except BaseException:
        for name, value in before.items():  # rolled back: the run in memory must not claim the window either
            setattr(run, name, value)
        raise


_PROGRESS = ("cursor", "windows_done", "fetched", "created", "updated", "skipped", "operators_created", "rejected")


def _store_page(
    *, account: PbxAccount, run: SyncRun, window: PbxCallWindow, window_end: datetime, move_cursor: bool
) -> UpsertResult:
    with transaction.atomic():
        result = calls_upsert_from_pbx(company=account.company, calls=list(window), source=CallSource.PBX)
        if move_cursor:
            # The cursor only moves forward, even if a slower, older sync commits after a newer one.
            PbxAccount.objects.filter(pk=account.pk).filter(
                Q(sync_cursor__isnull=True) | Q(sync_cursor__lt=window_end)
            ).update(sync_cursor=window_end)
        else:
            run.cursor = max(run.cursor or window_end, window_end)
            run.windows_done += 1
        run.fetched += result.fetched
        run.created += result.created
        run.updated += result.updated
        run.skipped += result.unchanged
        run.operators_created += result.operators_created
        _record_rejected(run=run, window=window)
        run.save()
        if account.fetch_recordings and result.fetch_recording_ids:
            ids, company_id = list(result.fetch_recording_ids), account.company_id
            transaction.on_commit(lambda: _queue_recordings(ids, company_id=company_id))
    return result


def _record_rejected(*, run: SyncRun, window: PbxCallWindow) -> None:
    for record in window.rejected:
        run.rejected += 1
        if len(run.rejected_records) < REJECTED_KEPT:
            run.rejected_records.append({"uuid": record.pbx_call_id, "reason": record.reason[:REASON_KEPT]})
        logger.warning(
            "pbx_record_rejected",
            extra={
                "company_id": run.company_id,
                "sync_run_id": run.pk,
                "pbx_call_id": record.pbx_call_id,
                "reason": record.reason[:REASON_KEPT],
            },
        )


def _read_window(client, *, since: datetime, until: datetime) -> PbxCallWindow:
    """Every call that ended in [since, until), with the window's rejected records, as one window."""
    merged = PbxCallWindow()
    for batch in client.list_calls(since=since, until=until, by="end"):
        merged.extend(batch)
        merged.rejected.extend(getattr(batch, "rejected", ()))
    return merged


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
    ).exclude(kind=SyncKind.BACKFILL).update(
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
            window = _read_window(client, since=window_start, until=window_end)
            pbx_sync_page(account=account, run=run, window=window, window_end=window_end)
            account.sync_cursor = max(account.sync_cursor or window_end, window_end)
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
    if run.created:
        crm_link_soon(company_id=company_id)  # the new calls' CRM clients (#14), looked up in batches
    logger.info(
        "pbx_sync_finished",
        extra={
            "company_id": company_id,
            "sync_run_id": run.pk,
            "status": run.status,
            "fetched": run.fetched,
            "calls_created": run.created,
            "calls_updated": run.updated,
            "rejected": run.rejected,
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
    if run.created:
        crm_link_soon(company_id=company_id)
    return run


class _LeaseBusy(Exception):
    pass


def _lease_wait(*, account_id: int, seconds: float) -> bool:
    """Takes the account's lease, waiting up to ``seconds`` for a regular sync holding it to finish."""
    deadline = time.monotonic() + seconds
    while not pbx_lease_acquire(account_id=account_id):
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(0.5, max(seconds / 10, 0.01)))
    return True


def pbx_backfill_run(*, run_id: int) -> SyncRun:
    """Reads a backfill run's span, window by window from its own cursor, until done or stopped. Picks the run up
    only while it is Queued (one conditional UPDATE), so two deliveries of its task never read it twice at once.

    Each 7-day window is read under the account's lease and committed with the run's cursor and counts; the lease is
    given back during the pause before the next one. Stopped by a PBX error, by the regular sync holding the lease
    too long or by a crash, the run ends Failed with the reason and *Resume the backfill* continues from its cursor;
    past its time budget it queues itself again and goes on. The account's cursor is never moved."""
    now = timezone.now()
    picked = SyncRun.objects.filter(pk=run_id, kind=SyncKind.BACKFILL, status=SyncStatus.QUEUED).update(
        status=SyncStatus.RUNNING, updated_at=now, finished_at=None
    )
    run = SyncRun.objects.select_related("account__company").get(pk=run_id)
    if not picked:
        logger.info("pbx_backfill_not_queued", extra={"company_id": run.company_id, "sync_run_id": run_id})
        return run
    account = run.account
    began = time.monotonic()
    pause, budget = BACKFILL_PAUSE_SECONDS, BACKFILL_TASK_BUDGET_SECONDS
    assert run.window_from is not None and run.window_to is not None
    try:
        client = pbx_client_for(account, window=BACKFILL_WINDOW)
        for index, (window_start, window_end) in enumerate(
            _windows(run.cursor or run.window_from, run.window_to, BACKFILL_WINDOW)
        ):
            if index:
                if time.monotonic() - began > budget:
                    run.status = SyncStatus.QUEUED
                    run.save(update_fields=["status", "updated_at"])
                    logger.info("pbx_backfill_continues", extra={"company_id": run.company_id, "sync_run_id": run.pk})
                    pbx_backfill_send(run=run, continued=True)  # behind other companies' syncs
                    return run
                time.sleep(pause)  # spec §8; the lease is free meanwhile, so the regular sync may run
            if not _lease_wait(account_id=account.pk, seconds=BACKFILL_LEASE_WAIT_SECONDS):
                raise _LeaseBusy
            try:
                window = _read_window(client, since=window_start, until=window_end)
                pbx_sync_page(account=account, run=run, window=window, window_end=window_end, move_cursor=False)
            finally:
                pbx_lease_release(account_id=account.pk)
    except _LeaseBusy:
        run.status = SyncStatus.FAILED
        run.error = (
            f"Another sync of this PBX held it for over {BACKFILL_LEASE_WAIT_SECONDS:.0f} s; "
            "use 'Resume the backfill' to continue from where it stopped."
        )
    except IntegrationError as exc:
        run.status, run.error = SyncStatus.FAILED, error_text(exc)
        pbx_account_record_error(account=account, exc=exc)
    except BaseException as exc:  # never left Running: the run says why, then the error goes on
        run.status, run.error = SyncStatus.FAILED, error_text(exc)[:2000]
        logger.exception("pbx_backfill_crashed", extra={"company_id": run.company_id, "sync_run_id": run.pk})
        run.finished_at = timezone.now()
        with contextlib.suppress(Exception):  # the database may be what failed: the original error matters more
            run.save()
        raise
    else:
        run.status = SyncStatus.SUCCEEDED
    run.finished_at = timezone.now()
    run.save()
    logger.info(
        "pbx_backfill_finished",
        extra={
            "company_id": run.company_id,
            "sync_run_id": run.pk,
            "status": run.status,
            "windows_done": run.windows_done,
            "windows_total": run.windows_total,
            "fetched": run.fetched,
            "rejected": run.rejected,
        },
    )
    return run
