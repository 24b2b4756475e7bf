"""PBX accounts: the client built from an account, its schedule (django-celery-beat), its state and its push secret."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from companies.models import Company
from integrations.errors import IntegrationError
from integrations.models import PbxAccount, SyncKind, SyncRun, SyncStatus, pbx_base_url_is_allowed, pbx_domain_is_valid
from integrations.pbx.base import PbxClient
from integrations.pbx.errors import PbxConfigError

logger = logging.getLogger(__name__)

SYNC_TASK = "calls.tasks.pbx_sync_company_task"
BACKFILL_TASK = "calls.tasks.pbx_backfill_task"
LEASE = timedelta(minutes=15)  # longer than any sync page; a crashed worker's lease simply runs out
BACKFILL_WINDOW = timedelta(days=7)  # spec §5: a range query may span at most 7 days
BACKFILL_MAX = timedelta(days=366)  # how far back *Read history from…* may go
ABANDONED = "abandoned (the worker stopped)"
PUSH_SECRET_PREFIX = "pbxhook_"  # noqa: S105 - a public prefix, not a secret


def pbx_client_for(account: PbxAccount, *, window: timedelta | None = None) -> PbxClient:
    """The vendor client for an account; a new session key pair is saved on the account as soon as it is issued.

    The API host is the server's (DIALIX_ONLINEPBX_BASE_URL). A per-account override is used only while its host is
    on DIALIX_PBX_BASE_URL_ALLOWLIST, checked here again, so a row written around the form is refused too.
    ``window``: the span of one history request (the client's default is a day; a backfill asks for 7 days)."""
    from integrations.pbx.onlinepbx import OnlinePbxClient  # imports requests: only when a client is needed

    if not pbx_domain_is_valid(account.domain):
        raise PbxConfigError("The PBX domain is not a host name (e.g. pbx12345.onpbx.ru); correct it in the account")
    if account.api_base_url and not pbx_base_url_is_allowed(account.api_base_url):
        raise PbxConfigError("The account's API base URL is not an allowed PBX host; clear it to use the server's")

    def remember(key_id: str, key: str) -> None:
        PbxAccount.objects.filter(pk=account.pk).update(session_key_id=key_id, session_key=key)

    key_pair = (account.session_key_id, account.session_key) if account.session_key else None
    return OnlinePbxClient(
        account.api_base_url or settings.DIALIX_ONLINEPBX_BASE_URL,
        account.domain,
        account.api_key,
        key_pair=key_pair,
        on_new_key_pair=remember,
        timeout=(5, settings.DIALIX_PBX_TIMEOUT_SECONDS),
        **({"window": window} if window is not None else {}),
    )


@transaction.atomic
def pbx_account_save(*, account: PbxAccount) -> PbxAccount:
    """Saves the account and creates, updates or disables its own periodic sync task."""
    credentials_changed = False
    if account.pk:
        before = PbxAccount.objects.filter(pk=account.pk).only("domain", "api_key", "api_base_url").first()
        credentials_changed = before is not None and (
            (before.domain, before.api_key, before.api_base_url)
            != (account.domain, account.api_key, account.api_base_url)
        )
    if credentials_changed:
        account.session_key_id = account.session_key = ""  # a cached session belongs to the old credentials
    account.full_clean()
    account.save()
    pbx_account_schedule(account=account)
    return account


def pbx_account_schedule(*, account: PbxAccount) -> PeriodicTask:
    interval, _ = IntervalSchedule.objects.get_or_create(
        every=account.sync_interval_minutes, period=IntervalSchedule.MINUTES
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=account.periodic_task_name,
        defaults={
            "task": SYNC_TASK,
            "interval": interval,
            "args": json.dumps([account.company_id]),
            "enabled": account.is_enabled and account.company.is_active,
            "description": f"Reads the PBX of {account.company.name} ({account.domain})",
        },
    )
    return task


@transaction.atomic
def pbx_account_delete(*, account: PbxAccount) -> None:
    PeriodicTask.objects.filter(name=account.periodic_task_name).delete()
    account.delete()


def pbx_account_test_connection(*, account: PbxAccount) -> str:
    """Talks to the PBX once; returns a one-line result for the supervisor (never raises for PBX errors)."""
    try:
        operators = pbx_client_for(account).list_operators()
    except IntegrationError as exc:
        pbx_account_record_error(account=account, exc=exc)
        return f"{account.domain}: connection failed — {error_text(exc)}"
    pbx_account_record_success(account=account)
    return f"{account.domain}: connected, {len(operators)} PBX users visible."


def error_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def pbx_account_record_error(*, account: PbxAccount, exc: Exception) -> None:
    PbxAccount.objects.filter(pk=account.pk).update(last_error=error_text(exc)[:2000], last_error_at=timezone.now())
    logger.warning(
        "pbx_error", extra={"company_id": account.company_id, "pbx_domain": account.domain, "reason": error_text(exc)}
    )


def pbx_account_record_success(*, account: PbxAccount) -> None:
    PbxAccount.objects.filter(pk=account.pk).update(last_success_at=timezone.now(), last_error="")


def pbx_lease_acquire(*, account_id: int) -> bool:
    """One conditional UPDATE: True means this worker may sync; False means another one holds the lease."""
    now = timezone.now()
    return bool(
        PbxAccount.objects.filter(pk=account_id)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + LEASE)
    )


def pbx_lease_renew(*, account_id: int) -> None:
    PbxAccount.objects.filter(pk=account_id).update(lease_until=timezone.now() + LEASE)


def pbx_lease_release(*, account_id: int) -> None:
    PbxAccount.objects.filter(pk=account_id).update(lease_until=None)


def _hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def pbx_push_secret_rotate(*, account: PbxAccount) -> str:
    """A new secret for the PBX webhook URL; only its hash is kept, so show the returned value once."""
    raw = PUSH_SECRET_PREFIX + secrets.token_urlsafe(24)
    PbxAccount.objects.filter(pk=account.pk).update(push_secret_hash=_hash_secret(raw))
    return raw


def pbx_account_for_push_secret(*, raw: str) -> PbxAccount | None:
    if not raw.startswith(PUSH_SECRET_PREFIX) or len(raw) > 200:
        return None
    return (
        PbxAccount.objects.select_related("company")
        .filter(push_secret_hash=_hash_secret(raw), company__is_active=True)
        .first()
    )


PUSH_KEY_ID_LENGTH = 16


def pbx_push_signing_key(*, raw: str) -> tuple[str, str]:
    """For a PBX that signs its pushes (HMAC of the body): the key id it sends and the signing key, both derived
    from the webhook secret (the key is the SHA-256 the database keeps; the id is that key's first characters)."""
    key = _hash_secret(raw)
    return key[:PUSH_KEY_ID_LENGTH], key


def pbx_account_for_push_key_id(*, key_id: str) -> PbxAccount | None:
    """The account whose signing key starts with this id; its key (push_secret_hash) checks the signature."""
    if len(key_id) != PUSH_KEY_ID_LENGTH or not all(c in "0123456789abcdef" for c in key_id):
        return None
    return (
        PbxAccount.objects.select_related("company")
        .filter(push_secret_hash__startswith=key_id, company__is_active=True)
        .first()
    )


def pbx_account_for_company(*, company: Company) -> PbxAccount | None:
    return PbxAccount.objects.for_company(company).select_related("company").first()


def _task_named(name: str):
    """A task by its name; a web process that has not imported the apps' task modules yet imports them first."""
    from celery import current_app

    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks[name]


def pbx_sync_queue(*, account: PbxAccount, kind: str = SyncKind.MANUAL) -> SyncRun:
    """Shows the sync as a Queued run at once and queues it (after the caller's transaction commits): the worker
    picks up that run. Without a broker the sync runs in process before this returns."""
    from dialix.queueing import PRIORITY_PERSON, task_enqueue

    # By name, as the schedule names it: integrations never imports calls (the task lives there, with the sync).
    pbx_sync_company_task = _task_named(SYNC_TASK)

    run = SyncRun.objects.create(
        company_id=account.company_id, account=account, kind=kind, status=SyncStatus.QUEUED, started_at=timezone.now()
    )
    company_id, run_id = account.company_id, run.pk

    def send() -> None:
        try:
            task_enqueue(
                pbx_sync_company_task, company_id, kind, run_id, company_id=company_id, priority=PRIORITY_PERSON
            )
        except Exception as exc:  # the broker is down: the run must not stay Queued
            SyncRun.objects.filter(pk=run_id, status=SyncStatus.QUEUED).update(
                status=SyncStatus.FAILED,
                error=f"Could not queue the sync: {error_text(exc)}"[:2000],
                finished_at=timezone.now(),
                updated_at=timezone.now(),
            )
            logger.error("pbx_sync_not_queued", extra={"company_id": company_id, "sync_run_id": run_id})

    transaction.on_commit(send)
    logger.info("pbx_sync_queued", extra={"company_id": company_id, "sync_run_id": run_id, "kind": kind})
    return run


# --- backfill: *Read history from…* -----------------------------------------------------------------------------------


class BackfillRefused(Exception):
    """A backfill that cannot be queued; the message is for the supervisor."""


def pbx_backfill_queue(*, account: PbxAccount, since: datetime, until: datetime | None = None) -> SyncRun:
    """Shows a backfill of [since, until) as a Queued run with its number of 7-day windows and queues it once the
    caller's transaction commits. One backfill per account at a time; the account's own cursor is never moved."""
    until = until or timezone.now()
    if since >= until:
        raise BackfillRefused("Choose a day in the past.")
    if until - since > BACKFILL_MAX:
        raise BackfillRefused(f"History can be read at most {BACKFILL_MAX.days} days back.")
    _refuse_if_backfilling(account=account)
    run = SyncRun.objects.create(
        company_id=account.company_id,
        account=account,
        kind=SyncKind.BACKFILL,
        status=SyncStatus.QUEUED,
        started_at=timezone.now(),
        window_from=since,
        window_to=until,
        windows_total=math.ceil((until - since) / BACKFILL_WINDOW),
    )
    transaction.on_commit(lambda: pbx_backfill_send(run=run))
    logger.info(
        "pbx_backfill_queued",
        extra={"company_id": account.company_id, "sync_run_id": run.pk, "windows_total": run.windows_total},
    )
    return run


def pbx_backfill_resume(*, run: SyncRun) -> bool:
    """Queues a stopped (Failed) backfill again: it continues from its own cursor. False when there is nothing to
    resume (not a backfill, not Failed, or already read to its end)."""
    if run.kind != SyncKind.BACKFILL or run.status != SyncStatus.FAILED:
        return False
    if run.cursor is not None and run.window_to is not None and run.cursor >= run.window_to:
        return False
    _refuse_if_backfilling(account=run.account)
    resumed = SyncRun.objects.filter(pk=run.pk, status=SyncStatus.FAILED).update(
        status=SyncStatus.QUEUED, error="", finished_at=None, updated_at=timezone.now()
    )
    if resumed:
        run.refresh_from_db()
        transaction.on_commit(lambda: pbx_backfill_send(run=run))
        logger.info("pbx_backfill_resumed", extra={"company_id": run.company_id, "sync_run_id": run.pk})
    return bool(resumed)


def _refuse_if_backfilling(*, account: PbxAccount) -> None:
    busy = (
        SyncRun.objects.filter(
            account=account, kind=SyncKind.BACKFILL, status__in=[SyncStatus.QUEUED, SyncStatus.RUNNING]
        )
        .order_by("pk")
        .first()
    )
    if busy is not None:
        raise BackfillRefused(
            f"A history read of {account.domain} is already {busy.get_status_display().lower()} (sync run {busy.pk}); "
            "wait for it to finish."
        )


def pbx_backfill_send(*, run: SyncRun, continued: bool = False) -> None:
    """Sends a Queued backfill run to the worker (by name: the task lives in calls); a person's request goes ahead
    of bulk work, a backfill that continues after its time budget goes behind it. The broker down: the run ends
    Failed with the reason, never Queued for ever, and can be resumed."""
    from dialix.queueing import PRIORITY_BULK, PRIORITY_PERSON, task_enqueue

    run_id, company_id = run.pk, run.company_id
    priority = PRIORITY_BULK if continued else PRIORITY_PERSON
    try:
        task_enqueue(_task_named(BACKFILL_TASK), run_id, company_id=company_id, priority=priority)
    except Exception as exc:
        SyncRun.objects.filter(pk=run_id, status=SyncStatus.QUEUED).update(
            status=SyncStatus.FAILED,
            error=f"Could not queue the history read: {error_text(exc)}"[:2000],
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        logger.error("pbx_backfill_not_queued", extra={"company_id": company_id, "sync_run_id": run_id})


def pbx_sync_runs_close_stale(*, now: datetime | None = None) -> int:
    """Closes the runs of every company left Running or Queued with no progress for longer than the lease (their
    worker stopped, or their message was lost) as Failed, so none says Running for ever. A live sync saves its run
    with each window, and a backfill with each 7-day window, so only abandoned ones are this old. Returns how many."""
    now = now or timezone.now()
    stale = SyncRun.objects.filter(status__in=[SyncStatus.RUNNING, SyncStatus.QUEUED], updated_at__lt=now - LEASE)
    closed = stale.exclude(kind=SyncKind.BACKFILL).update(
        status=SyncStatus.FAILED, error=ABANDONED, finished_at=now, updated_at=now
    )
    closed += stale.filter(kind=SyncKind.BACKFILL).update(
        status=SyncStatus.FAILED,
        error=f"{ABANDONED}; use 'Resume the backfill' to continue from where it stopped",
        finished_at=now,
        updated_at=now,
    )
    if closed:
        logger.warning("pbx_sync_runs_abandoned", extra={"count": closed})
    return closed
