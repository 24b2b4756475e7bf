"""Calls and the company's CRM (issue 14): linking each call to its client and deal, writing the analysis back
exactly once per version, and polling the deals that changed so each call's outcome follows its deal.

Every network call runs outside a transaction; what it found is written afterwards in a short atomic block. The CRM
client (integrations.services_crm) obeys the portal's shared limits; here we decide what a failure means:
- 401/403 (CrmAuthError): the connection is stopped with the reason shown in the console; nothing more is sent until
  a person saves it again. Calls stay pending and write-backs stay owed: nothing is lost.
- a rate limit, a 5xx, a timeout or garbage (transient): the work is left as it was (calls pending, the write-back
  owed) and retried by the task, then by the schedule.
- a number nobody has, or no number at all: "no CRM match", not an error.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from calls.models import Call, CrmLinkState, DealSemantic
from calls.models_crm import CrmWriteBack, WriteBackState
from checklists.models import Answer, CallAnalysis, ItemResult
from integrations.crm.base import CrmClient, CrmDeal, CrmMatch, CrmWrite
from integrations.crm.errors import CrmAuthError, CrmError
from integrations.crm.phones import digits_of
from integrations.errors import IntegrationError, TransientIntegrationError
from integrations.limits import LimitBusy, limit_mutex
from integrations.models import CrmConnection, CrmSyncRun, SyncStatus
from integrations.models_crm import CrmSyncKind
from integrations.models_crm import CrmWriteBack as WriteBackChoice
from integrations.services_crm import (
    crm_client_for_connection,
    crm_connection_record_error,
    crm_connection_record_success,
    crm_connection_stop,
)

logger = logging.getLogger(__name__)

LINK_BATCH = 200  # calls asked about in one match_phones (the client packs them into batch requests of 50 commands)
LINK_MAX_BATCHES = 10  # per task run; then it queues itself again so other companies' work is not held up
LINK_MAX_AGE = timedelta(days=90)  # a portal connected today links the last 90 days of calls, not the whole history
MIN_PHONE_DIGITS = 7  # shorter is an internal extension, never a client
WRITE_CLAIM = timedelta(minutes=5)  # longer than any write; a crashed worker's claim simply runs out
WRITE_OWED_AFTER = timedelta(minutes=5)  # the schedule re-queues a write-back still owed after this long
POLL_LEASE = timedelta(minutes=15)
POLL_OVERLAP = timedelta(minutes=5)  # deals are paged by id, not by change time: re-read the tail so none is missed
POLL_FIRST = timedelta(days=30)  # the first poll of a portal reads the deals changed in the last 30 days
STAGES_MAX_AGE = timedelta(hours=6)  # stage names are refreshed on the schedule at least this often
MISSED_SHOWN = 3  # the worst missed items written back
MARKER = "[dialix-call-{call_id}]"  # the last line of every text written: finds a write a crashed worker left


# --- the connection --------------------------------------------------------------------------------------------------


def crm_connection_active(*, company_id: int) -> CrmConnection | None:
    """The company's connection when it may be used: enabled and not stopped by the portal's refusal."""
    return CrmConnection.objects.filter(company_id=company_id, is_enabled=True, stopped_at__isnull=True).first()


def _client(connection: CrmConnection) -> CrmClient:
    return crm_client_for_connection(connection)


def _stop(connection: CrmConnection, exc: CrmAuthError) -> None:
    crm_connection_stop(connection=connection, exc=exc)
    logger.warning("crm_connection_stopped", extra={"company_id": connection.company_id, "reason": str(exc)})


def _record_error(connection: CrmConnection, exc: BaseException) -> None:
    crm_connection_record_error(connection=connection, exc=exc)


def _record_success(connection: CrmConnection) -> None:
    crm_connection_record_success(connection=connection)


def _requests_sent(client: CrmClient) -> int:
    return int(getattr(client, "requests_sent", 0))


# --- stage names -----------------------------------------------------------------------------------------------------


def _stage_entity(funnel_id: str) -> str:
    """The dictionary of a funnel's deal stages (spec §7): DEAL_STAGE for the general funnel, DEAL_STAGE_<n> else."""
    return "DEAL_STAGE" if funnel_id in ("", "0") else f"DEAL_STAGE_{funnel_id}"


def _stage_map(stages: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    # Keyed by (ENTITY_ID, STATUS_ID): the lead stage NEW and the deal stage NEW are different stages.
    return {(s["entity_id"], s["status_id"]): s for s in stages}


def crm_stages_refresh(*, connection: CrmConnection, client: CrmClient | None = None) -> list[dict[str, Any]]:
    """Reads every funnel's stage names (and the lead stages) into the connection's cache, recorded as a sync run.
    The cache is a list of dataclasses.asdict(CrmStage), read back keyed by (entity_id, status_id)."""
    client = client or _client(connection)
    run = CrmSyncRun.objects.create(
        company_id=connection.company_id, connection=connection, kind=CrmSyncKind.STAGES, started_at=timezone.now()
    )
    before = _requests_sent(client)
    try:
        stages = [dataclasses.asdict(stage) for stage in client.stages()]
    except IntegrationError as exc:  # the caller stops the connection or records the error
        _finish_run(run, client, before, status=SyncStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    now = timezone.now()
    CrmConnection.objects.filter(pk=connection.pk).update(stages=stages, stages_refreshed_at=now, updated_at=now)
    connection.stages, connection.stages_refreshed_at = stages, now
    _finish_run(run, client, before, status=SyncStatus.SUCCEEDED)
    return stages


def _finish_run(run: CrmSyncRun, client: CrmClient, before: int, *, status: str, error: str = "", **counts) -> None:
    run.status, run.error, run.finished_at = status, error[:2000], timezone.now()
    run.requests = max(_requests_sent(client) - before, 0)
    for name, value in counts.items():
        setattr(run, name, value)
    run.save()


def _deal_fields(deal: CrmDeal, stages: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    stage = stages.get((_stage_entity(deal.funnel_id), deal.stage_id))
    return {
        "crm_deal_id": deal.id,
        "crm_deal_title": deal.title[:255],
        "crm_deal_stage_id": deal.stage_id[:64],
        "crm_deal_stage_name": (stage["name"] if stage else deal.stage_id)[:200],
        "crm_deal_funnel_name": (stage.get("funnel_name", "") if stage else "")[:200],
        "crm_deal_semantic": deal.semantic,
    }


# --- linking ---------------------------------------------------------------------------------------------------------


@dataclass
class LinkResult:
    linked: int = 0
    no_match: int = 0
    failed: int = 0
    requests: int = 0
    more: bool = False  # calls are still waiting: the task queues itself again
    stopped: str = ""  # why the connection was stopped, if it was
    errors: list[str] = field(default_factory=list)


def crm_link_queue(*, company_id: int) -> None:
    """Queues linking the company's waiting calls once the current transaction commits (many new calls, one task:
    the task links them in batches). Calls stored any other way are linked by the schedule within a minute."""
    transaction.on_commit(lambda: _enqueue_link(company_id))


def crm_link_soon(*, company_id: int) -> None:
    """Queues linking now, outside any transaction (the end of a PBX sync, whose pages are committed)."""
    _enqueue_link(company_id)


def _enqueue_link(company_id: int) -> None:
    from calls.tasks_crm import crm_link_company_task
    from dialix.queueing import task_enqueue

    task_enqueue(crm_link_company_task, company_id, company_id=company_id)


def _lookup_phone(customer_phone: str, customer_phone_raw: str) -> str:
    phone = customer_phone or customer_phone_raw
    return phone if len(digits_of(phone)) >= MIN_PHONE_DIGITS else ""


def choose_deal(deals: Iterable[CrmDeal], *, started_at: datetime) -> CrmDeal | None:
    """The deal a call most likely belongs to: the client's open deal (the one created nearest the call if several),
    else the deal created nearest the call."""
    deals = list(deals)
    pool = [d for d in deals if d.semantic == DealSemantic.OPEN] or deals
    if not pool:
        return None
    return min(pool, key=lambda d: (abs((d.created_at - started_at).total_seconds()), d.id))


def _link_fields(match: CrmMatch, *, started_at: datetime, client: CrmClient, stages, now: datetime) -> dict:
    if match.client is None:
        return {**_UNLINKED, "crm_link_state": CrmLinkState.NO_MATCH, "crm_linked_at": now}
    deal = choose_deal(match.deals, started_at=started_at)
    fields = {
        **_UNLINKED,
        "crm_link_state": CrmLinkState.LINKED,
        "crm_entity_kind": match.client.kind,
        "crm_entity_id": match.client.id,
        "crm_client_name": match.client.name[:200],
        "crm_linked_at": now,
        "crm_url": client.entity_url(match.client.kind, match.client.id)[:400],
    }
    if deal is not None:
        fields.update(_deal_fields(deal, stages))
        fields["crm_url"] = client.entity_url("deal", deal.id)[:400]
    return fields


_UNLINKED = {
    "crm_entity_kind": "",
    "crm_entity_id": "",
    "crm_client_name": "",
    "crm_deal_id": "",
    "crm_deal_title": "",
    "crm_deal_stage_id": "",
    "crm_deal_stage_name": "",
    "crm_deal_funnel_name": "",
    "crm_deal_semantic": "",
    "crm_url": "",
}


def crm_link_company(
    *, company_id: int, max_batches: int = LINK_MAX_BATCHES, batch_size: int = LINK_BATCH
) -> LinkResult:
    """Links the company's waiting calls (newest first) to their CRM client and deal, ``batch_size`` numbers per
    match_phones. Idempotent: only pending calls are read and each is written with a conditional UPDATE (still
    pending), so a second run, or two workers, change nothing twice. One linking per company at a time (a worker
    finding another one busy leaves it to that one, which loops until no call waits)."""
    result = LinkResult()
    connection = crm_connection_active(company_id=company_id)
    if connection is None:
        return result
    try:
        with limit_mutex(_link_key(company_id), lease_seconds=120, wait_seconds=0, what="linking calls"):
            _link_batches(connection, result, max_batches=max_batches, batch_size=batch_size)
    except LimitBusy:
        logger.info("crm_link_busy", extra={"company_id": company_id})
    return result


def _link_key(company_id: int) -> str:
    # Named by the database too: one Redis may serve several deployments (or test databases), whose company ids
    # overlap.
    return f"crm-link:{db_connection.settings_dict['NAME']}:{company_id}"


def _link_batches(connection: CrmConnection, result: LinkResult, *, max_batches: int, batch_size: int) -> None:
    try:
        client = _client(connection)
    except CrmError as exc:  # the stored URL is refused (e.g. not https): the connection says so; calls keep waiting
        result.errors.append(f"{type(exc).__name__}: {exc}")
        _record_error(connection, exc)
        return
    before = _requests_sent(client)
    stages = _stage_map(connection.stages)
    refreshed = False
    cutoff = timezone.now() - LINK_MAX_AGE
    phones: dict[int, str] = {}
    unanswered: set[int] = set()  # calls the client gave no answer for: left waiting for the next run, not re-read
    try:
        for _ in range(max_batches):
            rows = list(
                Call.objects.filter(
                    company_id=connection.company_id, crm_link_state=CrmLinkState.PENDING, started_at__gte=cutoff
                )
                .exclude(pk__in=unanswered)
                .order_by("-started_at", "-id")
                .values("id", "customer_phone", "customer_phone_raw", "started_at")[:batch_size]
            )
            if not rows:
                break
            phones = {row["id"]: _lookup_phone(row["customer_phone"], row["customer_phone_raw"]) for row in rows}
            asked = sorted({p for p in phones.values() if p})
            matches = client.match_phones(asked) if asked else {}
            if not refreshed and (not stages or _unknown_stages(matches.values(), stages)):
                stages = _stage_map(crm_stages_refresh(connection=connection, client=client))
                refreshed = True
            now = timezone.now()
            with transaction.atomic():
                for row in rows:
                    phone = phones[row["id"]]
                    match = matches.get(phone) if phone else CrmMatch(phone="", client=None)
                    if match is None:
                        unanswered.add(row["id"])
                        continue
                    fields = _link_fields(match, started_at=row["started_at"], client=client, stages=stages, now=now)
                    if Call.objects.filter(pk=row["id"], crm_link_state=CrmLinkState.PENDING).update(
                        **fields, updated_at=now
                    ):
                        if fields["crm_link_state"] == CrmLinkState.LINKED:
                            result.linked += 1
                        else:
                            result.no_match += 1
            if len(rows) < batch_size:
                break
        else:
            result.more = True
    except CrmAuthError as exc:
        _stop(connection, exc)
        result.stopped = str(exc)
        return
    except CrmError as exc:
        # The portal refused the lookup itself (not a passing fault): say so on these calls instead of asking forever.
        reason = f"{type(exc).__name__}: {exc}"
        result.failed += Call.objects.filter(pk__in=list(phones), crm_link_state=CrmLinkState.PENDING).update(
            crm_link_state=CrmLinkState.ERROR, updated_at=timezone.now()
        )
        result.errors.append(reason)
        _record_error(connection, exc)
        return
    except TransientIntegrationError as exc:
        _record_error(connection, exc)
        raise  # the calls stay pending; the task retries after the wait
    finally:
        result.requests = _requests_sent(client) - before
    _record_success(connection)
    logger.info(
        "crm_calls_linked",
        extra={
            "company_id": connection.company_id,
            "linked": result.linked,
            "no_match": result.no_match,
            "crm_requests": result.requests,
        },
    )


def _unknown_stages(matches: Iterable[CrmMatch], stages: dict) -> bool:
    """A deal in a stage the cache does not know: a funnel or stage added since the last refresh."""
    return any(
        (_stage_entity(deal.funnel_id), deal.stage_id) not in stages for match in matches for deal in match.deals
    )


def calls_crm_relink(*, calls) -> int:
    """Links the calls again (a console action): back to pending, then queued."""
    rows = list(calls.values_list("id", "company_id"))
    Call.objects.filter(pk__in=[row[0] for row in rows]).update(
        crm_link_state=CrmLinkState.PENDING, updated_at=timezone.now()
    )
    for company_id in {row[1] for row in rows}:
        crm_link_queue(company_id=company_id)
    return len(rows)


# --- writing back ----------------------------------------------------------------------------------------------------


def crm_write_back_queue(*, call_id: int, company_id: int) -> None:
    """Inside the transaction of an analysis or a correction: one more version of the call to write back (the
    outbox row commits or rolls back with it), delivered once it commits. Nothing without a connection that writes
    back."""
    connection = (
        CrmConnection.objects.filter(company_id=company_id, is_enabled=True)
        .exclude(write_back=WriteBackChoice.NOTHING)
        .only("id")
        .first()
    )
    if connection is None:
        return
    row, created = CrmWriteBack.objects.get_or_create(
        call_id=call_id, defaults={"company_id": company_id, "version": 1}
    )
    if not created:
        CrmWriteBack.objects.filter(pk=row.pk).update(
            version=F("version") + 1, state=WriteBackState.PENDING, updated_at=timezone.now()
        )
    transaction.on_commit(lambda: _enqueue_write_back(call_id, company_id))


def _enqueue_write_back(call_id: int, company_id: int) -> None:
    from calls.tasks_crm import crm_write_back_task
    from dialix.queueing import task_enqueue

    task_enqueue(crm_write_back_task, call_id, company_id=company_id)


class WriteBackWaiting(TransientIntegrationError):
    """The call is not linked yet (its lookup is queued or being retried): write it back a little later."""


def _target(call: Call) -> tuple[str, str] | None:
    """Where the result goes: the deal if it is open, else the client (contact, company or lead)."""
    if call.crm_deal_id and call.crm_deal_semantic == DealSemantic.OPEN:
        return "deal", call.crm_deal_id
    if call.crm_entity_id:
        return call.crm_entity_kind, call.crm_entity_id
    return None


def crm_write_back_deliver(*, call_id: int) -> str:
    """Writes the call's latest analysis version into the CRM, once: "written", "skipped", "busy" (another worker
    holds it), "done" (nothing owed), "stopped" (the connection is stopped; kept owed), "failed".

    The claim is one conditional UPDATE on the outbox row (unclaimed or the claim ran out, and a version still
    owed): of two workers or a retry only one goes on. Before sending, the version goes "in flight"; the record's id
    and the version are saved after the CRM answers. If a worker died in between, the next one sees the version
    still in flight without an id and asks the CRM for a record carrying the call's marker before adding one; a
    record found (or an id kept from an earlier version) is updated, never added twice."""
    row = CrmWriteBack.objects.filter(call_id=call_id).first()
    if row is None or row.written_version >= row.version:
        return "done"
    connection = CrmConnection.objects.filter(company_id=row.company_id).first()
    if connection is None or not connection.is_enabled or connection.write_back == WriteBackChoice.NOTHING:
        CrmWriteBack.objects.filter(pk=row.pk).update(state=WriteBackState.SKIPPED, updated_at=timezone.now())
        return "skipped"
    if connection.stopped_at is not None:
        return "stopped"
    call = Call.objects.select_related("operator").get(pk=call_id)
    if call.crm_link_state == CrmLinkState.PENDING:
        raise WriteBackWaiting("The call is not linked to the CRM yet")
    target = _target(call)
    if target is None:
        CrmWriteBack.objects.filter(pk=row.pk, version=row.version).update(
            state=WriteBackState.SKIPPED, last_error=_("No CRM match for this call."), updated_at=timezone.now()
        )
        return "skipped"

    now, token, version = timezone.now(), uuid.uuid4().hex, row.version
    claimed = (
        CrmWriteBack.objects.filter(pk=row.pk, version=version, written_version__lt=version)
        .filter(Q(claim_until__isnull=True) | Q(claim_until__lt=now))
        .update(
            claim_token=token,
            claim_until=now + WRITE_CLAIM,
            in_flight_version=version,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    )
    if not claimed:
        return "busy"
    was_in_flight = row.in_flight_version  # read before our claim: a write of an earlier attempt may have landed
    kind = "activity" if connection.write_back == WriteBackChoice.ACTIVITY else "comment"
    # A correction updates the record where it was written; after a switch between comment and activity, the new
    # kind is written afresh.
    existing_id = row.written_id if row.written_kind in ("", kind) else ""
    if existing_id and (row.entity_kind, row.entity_id) != target:
        target = (row.entity_kind, row.entity_id)
    entity_kind, entity_id = target
    marker = MARKER.format(call_id=call.pk)
    try:
        client = _client(connection)
        if not existing_id and was_in_flight:
            finder = getattr(client, "find_written", None)
            if finder is not None:
                existing_id = finder(kind=kind, entity_kind=entity_kind, entity_id=entity_id, marker=marker)
        write = _write_for(call, connection, entity_kind, entity_id, existing_id=existing_id, version=version)
        answer = client.write([write])[0]
        if answer.error == "not_found" and existing_id:  # somebody deleted it in the CRM: write a new one
            answer = client.write([dataclasses.replace(write, existing_id="")])[0]
    except CrmAuthError as exc:
        _stop(connection, exc)
        _release(row.pk, token, error=str(exc))
        return "stopped"
    except TransientIntegrationError as exc:
        _record_error(connection, exc)
        _release(row.pk, token, error=f"{type(exc).__name__}: {exc}")  # stays in flight: it may have landed
        raise
    except CrmError as exc:
        answer = None
        error = f"{type(exc).__name__}: {exc}"
    else:
        error = answer.error
    if answer is None or not answer.written_id:
        CrmWriteBack.objects.filter(pk=row.pk, claim_token=token).update(
            state=WriteBackState.FAILED,
            in_flight_version=0,
            claim_until=None,
            last_error=error[:2000],
            updated_at=timezone.now(),
        )
        logger.warning("crm_write_back_failed", extra={"company_id": call.company_id, "call_id": call.pk})
        return "failed"
    with transaction.atomic():
        saved = CrmWriteBack.objects.filter(pk=row.pk, claim_token=token).update(
            written_id=answer.written_id,
            written_version=version,
            written_kind=write.kind,
            entity_kind=entity_kind,
            entity_id=entity_id,
            written_at=timezone.now(),
            in_flight_version=0,
            claim_until=None,
            last_error="",
            updated_at=timezone.now(),
        )
        newer = CrmWriteBack.objects.filter(pk=row.pk, version__gt=version).exists()
        if not newer:
            CrmWriteBack.objects.filter(pk=row.pk, version=version).update(state=WriteBackState.WRITTEN)
    _record_success(connection)
    logger.info(
        "crm_written_back",
        extra={"company_id": call.company_id, "call_id": call.pk, "version": version, "saved": bool(saved)},
    )
    if newer:  # a correction came while we wrote: its task found the row claimed, so this one sends it
        transaction.on_commit(lambda: _enqueue_write_back(call.pk, call.company_id))
    return "written"


def _release(row_id: int, token: str, *, error: str) -> None:
    CrmWriteBack.objects.filter(pk=row_id, claim_token=token).update(
        claim_until=None, last_error=error[:2000], updated_at=timezone.now()
    )


def _write_for(
    call: Call, connection: CrmConnection, entity_kind: str, entity_id: str, *, existing_id: str, version: int
) -> CrmWrite:
    text, subject = crm_write_back_text(call=call, language=connection.write_language)
    activity = connection.write_back == WriteBackChoice.ACTIVITY
    return CrmWrite(
        key=f"call-{call.pk}-v{version}",
        kind="activity" if activity else "comment",
        entity_kind=entity_kind,
        entity_id=entity_id,
        text=text,
        subject=subject if activity else "",
        phone=call.customer_phone or call.customer_phone_raw,
        direction=call.direction,
        started_at=call.started_at,
        ended_at=call.ended_at or call.started_at + timedelta(seconds=call.duration_seconds),
        existing_id=existing_id,
        party_kind=call.crm_entity_kind or None if entity_kind == "deal" else None,
        party_id=call.crm_entity_id if entity_kind == "deal" else "",
    )


def _call_url(call: Call) -> str:
    return settings.DIALIX_PUBLIC_URL.rstrip("/") + reverse("admin:calls_call_change", args=[call.pk])


def crm_write_back_text(*, call: Call, language: str) -> tuple[str, str]:
    """The text written into the CRM (and an activity's subject), in the connection's language: score, flags,
    summary, the worst missed items and a link to the call, with the call's marker on the last line."""
    summary = CallAnalysis.objects.filter(call=call).values_list("summary", flat=True).first() or ""
    missed = list(
        ItemResult.objects.filter(call=call, answer=Answer.NOT_MET)
        .order_by("-version_item__is_critical", "-version_item__weight", "version_item__order", "id")
        .values_list("version_item__criterion", "version_item__is_critical")[:MISSED_SHOWN]
    )
    with translation.override(language):
        yes, no = _("yes"), _("no")
        score = "—" if call.score is None else f"{call.score:g}/100"
        subject = _("Dialix: call scored %(score)s") % {"score": score}
        lines = [
            subject,
            _("Score: %(score)s · Auto-fail: %(auto_fail)s · Needs review: %(review)s")
            % {"score": score, "auto_fail": yes if call.auto_fail else no, "review": yes if call.needs_review else no},
        ]
        if summary:
            lines.append(_("Summary: %(summary)s") % {"summary": summary})
        if missed:
            lines.append(_("Missed:"))
            lines += [
                f"- {criterion}" + (" (" + _("critical") + ")" if critical else "") for criterion, critical in missed
            ]
        lines.append(_("Open the call in Dialix: %(url)s") % {"url": _call_url(call)})
    lines.append(MARKER.format(call_id=call.pk))
    return "\n".join(lines), subject


# --- polling deals ---------------------------------------------------------------------------------------------------


def _poll_lease(connection_id: int) -> bool:
    now = timezone.now()
    return bool(
        CrmConnection.objects.filter(pk=connection_id)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + POLL_LEASE)
    )


def crm_poll_connection(*, connection_id: int) -> CrmSyncRun | None:
    """Reads the deals changed since the cursor (minus an overlap), page by page in id order, and updates the calls
    linked to them: stage, funnel and outcome. Each page's writes commit on their own (re-reading a page writes the
    same values again); the cursor moves, to the newest change the portal reported, in the transaction of the last
    page, so a poll that dies midway reads the same span again next time and nothing is skipped. One poll per
    connection at a time (a lease on the row); recorded as a CrmSyncRun with its counts and error."""
    connection = CrmConnection.objects.filter(pk=connection_id, is_enabled=True, stopped_at__isnull=True).first()
    if connection is None or not _poll_lease(connection.pk):
        return None
    run = CrmSyncRun.objects.create(
        company_id=connection.company_id, connection=connection, kind=CrmSyncKind.POLL, started_at=timezone.now()
    )
    client = None
    before = 0
    deals_read = calls_updated = 0
    try:
        client = _client(connection)
        before = _requests_sent(client)
        if connection.stages_refreshed_at is None or connection.stages_refreshed_at < timezone.now() - STAGES_MAX_AGE:
            crm_stages_refresh(connection=connection, client=client)
        stages = _stage_map(connection.stages)
        since = connection.deals_cursor - POLL_OVERLAP if connection.deals_cursor else timezone.now() - POLL_FIRST
        newest = connection.deals_cursor
        after_id = ""
        while True:
            page = client.deals_modified_since(since, after_id=after_id)
            deals_read += len(page.deals)
            for deal in page.deals:
                if deal.modified_at and (newest is None or deal.modified_at > newest):
                    newest = deal.modified_at
            last = not page.deals
            with transaction.atomic():
                calls_updated += _apply_deals(connection.company_id, page.deals, stages)
                if last:
                    CrmConnection.objects.filter(pk=connection.pk).update(
                        deals_cursor=newest, updated_at=timezone.now()
                    )
            if last:
                break
            after_id = page.last_id
            CrmConnection.objects.filter(pk=connection.pk).update(lease_until=timezone.now() + POLL_LEASE)
    except CrmAuthError as exc:
        _stop(connection, exc)
        _poll_done(run, client, before, deals_read, calls_updated, SyncStatus.FAILED, str(exc))
    except IntegrationError as exc:
        _record_error(connection, exc)
        _poll_done(run, client, before, deals_read, calls_updated, SyncStatus.FAILED, f"{type(exc).__name__}: {exc}")
    except BaseException as exc:
        logger.exception("crm_poll_crashed", extra={"company_id": connection.company_id})
        _poll_done(run, client, before, deals_read, calls_updated, SyncStatus.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    else:
        _record_success(connection)
        _poll_done(run, client, before, deals_read, calls_updated, SyncStatus.SUCCEEDED, "")
    finally:
        CrmConnection.objects.filter(pk=connection.pk).update(lease_until=None)
    logger.info(
        "crm_poll_finished",
        extra={
            "company_id": connection.company_id,
            "status": run.status,
            "deals_read": deals_read,
            "calls_updated": calls_updated,
        },
    )
    return run


def _poll_done(run, client, before, deals_read, calls_updated, status, error) -> None:
    run.deals_read, run.calls_updated = deals_read, calls_updated
    run.status, run.error, run.finished_at = status, error[:2000], timezone.now()
    run.requests = max(_requests_sent(client) - before, 0) if client is not None else 0
    run.save()


def _apply_deals(company_id: int, deals: Iterable[CrmDeal], stages) -> int:
    """The calls linked to these deals take the deals' stage and outcome; calls already showing them are not
    written. One UPDATE per deal (a page holds at most 50)."""
    updated = 0
    now = timezone.now()
    for deal in deals:
        fields = _deal_fields(deal, stages)
        fields.pop("crm_deal_id")
        updated += (
            Call.objects.filter(company_id=company_id, crm_deal_id=deal.id)
            .exclude(**{name: value for name, value in fields.items()})
            .update(**fields, updated_at=now)
        )
    return updated


# --- the schedule ----------------------------------------------------------------------------------------------------


def crm_schedule(*, now: datetime | None = None) -> dict[str, int]:
    """Beat, every minute: queues the poll of every connection due (its interval since its last poll), the linking
    of companies with calls waiting, and write-backs still owed a while after they were queued (a lost message, a
    connection that was stopped and is back). Cheap when nothing is due; safe on any number of machines at once
    (each step is claimed by the task it queues)."""
    from calls.tasks_crm import crm_link_company_task, crm_poll_connection_task, crm_write_back_task
    from dialix.queueing import task_enqueue

    now = now or timezone.now()
    queued = {"polls": 0, "links": 0, "write_backs": 0}
    connections = CrmConnection.objects.filter(is_enabled=True, stopped_at__isnull=True).order_by("id")
    for connection in connections:
        last = (
            CrmSyncRun.objects.filter(connection=connection, kind=CrmSyncKind.POLL)
            .order_by("-started_at")
            .values_list("started_at", flat=True)
            .first()
        )
        if last is None or last <= now - timedelta(minutes=connection.poll_interval_minutes):
            task_enqueue(crm_poll_connection_task, connection.pk, company_id=connection.company_id)
            queued["polls"] += 1
        waiting = Call.objects.filter(
            company_id=connection.company_id,
            crm_link_state=CrmLinkState.PENDING,
            started_at__gte=now - LINK_MAX_AGE,
        ).exists()
        if waiting:
            task_enqueue(crm_link_company_task, connection.company_id, company_id=connection.company_id)
            queued["links"] += 1
        owed = CrmWriteBack.objects.filter(
            company_id=connection.company_id, state=WriteBackState.PENDING, updated_at__lt=now - WRITE_OWED_AFTER
        ).values_list("call_id", flat=True)[:500]
        for call_id in owed:
            task_enqueue(crm_write_back_task, call_id, company_id=connection.company_id)
            queued["write_backs"] += 1
    return queued
