"""Alerts (issue 16): after a call's analysis, each of its company's active rules is checked; a rule that fires gets
one AlertDelivery row per call (a unique (rule, call) pair), sent to Telegram or e-mail by a task, or kept for the
rule's daily digest. At most once: a delivery is claimed by a conditional UPDATE before it is sent and is never
created twice, so task retries, a lost worker and a re-analysis of the call do not send it again."""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from calls.models import Call, Utterance
from calls.models_alerts import AlertChannel, AlertDelivery, AlertRule, AlertStatus, AlertTrigger
from checklists.models import Answer, ItemResult
from companies.models import Company
from dialix.queueing import task_enqueue
from integrations.errors import PermanentIntegrationError, RateLimited, TransientIntegrationError

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6  # then the delivery is Failed and the console shows why
BACKOFF_SECONDS = (30, 60, 120, 300, 600, 900)
DIGEST_LINES = 40  # calls listed in one digest message; the rest are counted


# ------------------------------------------------------------------------------------------------ evaluation
def call_alerts_queue(*, company_id: int, call_id: int) -> None:
    """After an analysis is saved: queue the rules' evaluation once the transaction commits (nothing when the company
    has no active rule, so most companies pay one cheap query)."""
    if not AlertRule.objects.filter(company_id=company_id, is_active=True).exists():
        return
    from calls.tasks_alerts import call_alerts_evaluate_task

    transaction.on_commit(lambda: task_enqueue(call_alerts_evaluate_task, call_id, company_id=company_id))


def call_alerts_evaluate(*, call_id: int) -> list[AlertDelivery]:
    """Checks every active rule of the call's company; returns the deliveries created now (none on a re-run)."""
    call = Call.objects.select_related("company", "operator").filter(pk=call_id).first()
    if call is None:
        return []
    rules = list(AlertRule.objects.for_company(call.company).filter(is_active=True).order_by("id"))
    created: list[AlertDelivery] = []
    to_send: list[int] = []
    facts = _CallFacts(call)
    for rule in rules:
        reason = rule_matches(rule=rule, facts=facts)
        if not reason:
            continue
        delivery, is_new = AlertDelivery.objects.get_or_create(
            rule=rule,
            call=call,
            defaults={
                "company_id": call.company_id,
                "reason": reason[:300],
                "status": AlertStatus.DIGEST if rule.daily_digest else AlertStatus.PENDING,
            },
        )
        if is_new:
            created.append(delivery)
            logger.info("alert_fired", extra={"company_id": call.company_id, "call_id": call.pk, "rule_id": rule.pk})
        if delivery.status == AlertStatus.PENDING:
            to_send.append(delivery.pk)  # new, or left pending by a lost message: the claim keeps it to one send
    if to_send:
        from calls.tasks_alerts import alert_delivery_send_task

        for delivery_id in to_send:
            transaction.on_commit(
                lambda delivery_id=delivery_id: task_enqueue(
                    alert_delivery_send_task, delivery_id, company_id=call.company_id
                )
            )
    return created


class _CallFacts:
    """What the rules look at, read lazily once per evaluation."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self._turns: list[Utterance] | None = None
        self._missed: list[str] | None = None

    def turns(self) -> list[Utterance]:
        if self._turns is None:
            self._turns = list(Utterance.objects.filter(call=self.call, company_id=self.call.company_id))
        return self._turns

    def missed_critical(self) -> list[str]:
        if self._missed is None:
            self._missed = list(
                ItemResult.objects.filter(
                    call=self.call,
                    company_id=self.call.company_id,
                    answer=Answer.NOT_MET,
                    version_item__is_critical=True,
                )
                .order_by("id")
                .values_list("version_item__criterion", flat=True)
            )
        return self._missed


def rule_matches(*, rule: AlertRule, facts: _CallFacts) -> str:
    """Why the rule fires for the call ("" when it does not), in words for the message."""
    call = facts.call
    if rule.trigger == AlertTrigger.AUTO_FAIL:
        return gettext("The call auto-failed (score %(score)s).") % {"score": call.score} if call.auto_fail else ""
    if rule.trigger == AlertTrigger.CRITICAL_MISSED:
        missed = facts.missed_critical()
        if not missed:
            return ""
        return gettext("Critical item missed: %(items)s") % {"items": "; ".join(missed)[:250]}
    if rule.trigger == AlertTrigger.NEGATIVE_SENTIMENT:
        return gettext("The customer was negative.") if call.customer_sentiment == "negative" else ""
    if rule.trigger == AlertTrigger.PHRASE:
        phrases = rule.phrase_list()
        for turn in facts.turns():
            said = phrase_found(phrases, turn.text)
            if said:
                minutes, seconds = divmod(turn.start_ms // 1000, 60)
                return gettext("“%(phrase)s” said by the %(speaker)s at %(at)s.") % {
                    "phrase": said,
                    "speaker": turn.get_speaker_display().lower(),
                    "at": f"{minutes}:{seconds:02d}",
                }
    return ""


# Uzbek/Russian Cyrillic to a Latin skeleton, so "Payme" finds "пайме" and "Uzum" finds "Узум".
_CYRILLIC = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "yo",
    "ж": "j",
    "з": "z",
    "и": "i",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "x",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "sh",
    "ъ": "",
    "ы": "i",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
    "ў": "o",
    "қ": "q",
    "ғ": "g",
    "ҳ": "h",
}
_WORDS = re.compile(r"[^\w]+")


def fold_text(text: str) -> str:
    """Lower case, Cyrillic transliterated, apostrophes dropped, accents removed, one space between words."""
    text = unicodedata.normalize("NFKC", text).lower()
    out = "".join(_CYRILLIC.get(ch, ch) for ch in text)
    for src in ("ʻ", "ʼ", "'", "`", "’", "‘"):
        out = out.replace(src, "")
    out = "".join(ch for ch in unicodedata.normalize("NFKD", out) if not unicodedata.combining(ch))
    out = out.replace("ck", "k").replace("c", "k").replace("w", "v").replace("kh", "x")
    return " ".join(_WORDS.sub(" ", out).split())


def phrase_found(phrases: list[str], text: str) -> str:
    """The first phrase said in the text (whole words, case-insensitive, Latin/Cyrillic-blind), or ""."""
    folded = f" {fold_text(text)} "
    for phrase in phrases:
        needle = fold_text(phrase)
        if needle and f" {needle} " in folded:
            return phrase
    return ""


# ------------------------------------------------------------------------------------------------ sending
def call_console_url(call_id: int) -> str:
    return settings.DIALIX_PUBLIC_URL.rstrip("/") + reverse("admin:calls_call_change", args=[call_id])


def _call_line(call: Call) -> str:
    zone = ZoneInfo(call.company.time_zone)
    started = timezone.localtime(call.started_at, zone)
    operator = call.operator.name if call.operator_id and call.operator else "—"
    return gettext("Call %(call)s · %(operator)s · %(time)s") % {
        "call": call.pbx_call_id,
        "operator": operator,
        "time": f"{started:%Y-%m-%d %H:%M}",
    }


def _message(delivery: AlertDelivery) -> tuple[str, str]:
    call, rule = delivery.call, delivery.rule
    subject = gettext("[Dialix] %(rule)s: call %(call)s") % {"rule": rule.name, "call": call.pbx_call_id}
    text = "\n".join([f"⚠️ {rule.name}", delivery.reason, _call_line(call), call_console_url(call.pk)])
    return subject, text


def _language(company: Company) -> str:
    languages = list(company.languages or [])
    return languages[0] if languages else settings.LANGUAGE_CODE


def _deliver(rule: AlertRule, subject: str, text: str) -> None:
    """Sends one message on the rule's channel; raises the channel's typed errors."""
    if rule.channel == AlertChannel.TELEGRAM:
        from integrations.alerts.telegram import TelegramBot

        TelegramBot(rule.telegram_bot_token, base_url=settings.TELEGRAM_API_BASE_URL).send_message(
            chat_id=rule.telegram_chat_id, text=text
        )
    else:
        from integrations.alerts.mail import send_alert_email

        send_alert_email(to=rule.email_to.split(","), subject=subject, body=text)


def backoff_seconds(*, attempt: int, cause: BaseException) -> float:
    if isinstance(cause, RateLimited) and cause.retry_after is not None:
        return max(1.0, float(cause.retry_after))  # Telegram's retry_after is honoured
    return float(BACKOFF_SECONDS[min(max(attempt, 1), len(BACKOFF_SECONDS)) - 1])


class DeliveryRetry(Exception):
    """The send failed transiently: the task retries after `countdown` seconds."""

    def __init__(self, cause: BaseException, countdown: float) -> None:
        super().__init__(str(cause))
        self.cause, self.countdown = cause, countdown


def alert_delivery_send(*, delivery_id: int) -> AlertDelivery | None:
    """Sends one delivery if nobody has yet: PENDING/RETRYING -> SENDING in one conditional UPDATE, the network call
    outside any transaction, then SENT, RETRYING (raises DeliveryRetry) or FAILED with the error for the console."""
    claimed = AlertDelivery.objects.filter(
        pk=delivery_id, status__in=[AlertStatus.PENDING, AlertStatus.RETRYING]
    ).update(status=AlertStatus.SENDING, attempts=F("attempts") + 1, next_attempt_at=None, updated_at=timezone.now())
    if not claimed:
        return AlertDelivery.objects.filter(pk=delivery_id).first()
    delivery = AlertDelivery.objects.select_related("rule", "call", "call__company", "call__operator").get(
        pk=delivery_id
    )
    extra = {"company_id": delivery.company_id, "call_id": delivery.call_id, "delivery_id": delivery.pk}
    with translation.override(_language(delivery.call.company)):
        subject, text = _message(delivery)
    try:
        _deliver(delivery.rule, subject, text)
    except TransientIntegrationError as exc:
        if delivery.attempts >= MAX_ATTEMPTS:
            _finish(delivery_id, AlertStatus.FAILED, error=_error_text(exc, gave_up=True))
            logger.warning("alert_delivery_gave_up", extra={**extra, "reason": str(exc)})
            return AlertDelivery.objects.get(pk=delivery_id)
        countdown = backoff_seconds(attempt=delivery.attempts, cause=exc)
        _finish(
            delivery_id,
            AlertStatus.RETRYING,
            error=_error_text(exc),
            next_attempt_at=timezone.now() + timezone.timedelta(seconds=countdown),
        )
        logger.info("alert_delivery_retry", extra={**extra, "reason": str(exc), "countdown": countdown})
        raise DeliveryRetry(exc, countdown) from exc
    except PermanentIntegrationError as exc:
        _finish(delivery_id, AlertStatus.FAILED, error=_error_text(exc))
        logger.warning("alert_delivery_failed", extra={**extra, "reason": str(exc)})
        return AlertDelivery.objects.get(pk=delivery_id)
    _finish(delivery_id, AlertStatus.SENT, error="", sent_at=timezone.now())
    logger.info("alert_delivered", extra=extra)
    return AlertDelivery.objects.get(pk=delivery_id)


STALE_SENDING_MINUTES = 30


def alert_deliveries_close_stale(*, now: datetime | None = None) -> int:
    """Deliveries left Sending by a worker that died mid-send: Telegram may or may not have the message, and sending
    again could duplicate it, so they become Failed with that said; a person checks the chat and may send again."""
    now = now or timezone.now()
    stale = AlertDelivery.objects.filter(
        status=AlertStatus.SENDING, updated_at__lt=now - timezone.timedelta(minutes=STALE_SENDING_MINUTES)
    )
    count = stale.update(
        status=AlertStatus.FAILED,
        last_error=gettext("The worker stopped while sending; the message may not have arrived. Check the chat."),
        updated_at=now,
    )
    if count:
        logger.warning("alert_deliveries_stale", extra={"count": count})
    return count


def _error_text(exc: BaseException, *, gave_up: bool = False) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return (gettext("Gave up: %(error)s") % {"error": text} if gave_up else text)[:500]


def _finish(delivery_id: int, status: str, *, error: str, **fields) -> None:
    AlertDelivery.objects.filter(pk=delivery_id).update(
        status=status, last_error=error, updated_at=timezone.now(), **fields
    )


def alert_deliveries_retry(*, deliveries: QuerySet[AlertDelivery]) -> int:
    """Console action: Failed deliveries are sent again (a person fixed the chat id or token)."""
    ids = list(deliveries.filter(status=AlertStatus.FAILED).values_list("id", "company_id"))
    AlertDelivery.objects.filter(pk__in=[i for i, _ in ids], status=AlertStatus.FAILED).update(
        status=AlertStatus.PENDING, attempts=0, updated_at=timezone.now()
    )
    from calls.tasks_alerts import alert_delivery_send_task

    for delivery_id, company_id in ids:
        transaction.on_commit(
            lambda d=delivery_id, c=company_id: task_enqueue(alert_delivery_send_task, d, company_id=c)
        )
    return len(ids)


# ------------------------------------------------------------------------------------------------ digest
def _local_today(company: Company, now: datetime) -> date:
    return timezone.localtime(now, ZoneInfo(company.time_zone)).date()


def alert_digests_due(*, now: datetime | None = None) -> list[int]:
    """Digest rules with calls waiting whose company's local time is past the digest hour and that have not had
    today's digest: their ids (the Beat task queues one send per rule)."""
    now = now or timezone.now()
    waiting = (
        AlertRule.objects.filter(is_active=True, daily_digest=True, deliveries__status=AlertStatus.DIGEST)
        .select_related("company")
        .distinct()
        .order_by("id")
    )
    due = []
    for rule in waiting:
        local = timezone.localtime(now, ZoneInfo(rule.company.time_zone))
        if local.hour >= settings.DIALIX_ALERT_DIGEST_HOUR and rule.last_digest_on != local.date():
            due.append(rule.pk)
    return due


def alert_digest_send(*, rule_id: int, now: datetime | None = None) -> int:
    """One message listing the rule's waiting calls; returns how many calls it carried (0: nothing sent). The rows
    are claimed (DIGEST -> SENDING) in a short transaction with SKIP LOCKED, so two runs never list the same call;
    a failed send puts them back for the retry."""
    now = now or timezone.now()
    rule = AlertRule.objects.select_related("company").get(pk=rule_id)
    today = _local_today(rule.company, now)
    skip_locked = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        ids = list(
            AlertDelivery.objects.select_for_update(skip_locked=skip_locked)
            .filter(rule=rule, status=AlertStatus.DIGEST)
            .order_by("created_at", "id")
            .values_list("id", flat=True)
        )
        AlertDelivery.objects.filter(pk__in=ids).update(
            status=AlertStatus.SENDING, digest_on=today, attempts=F("attempts") + 1, updated_at=timezone.now()
        )
    if not ids:
        return 0
    rows = list(
        AlertDelivery.objects.filter(pk__in=ids).select_related("call", "call__operator").order_by("created_at", "id")
    )
    for row in rows:
        row.call.company = rule.company  # same company: no query per line
    with translation.override(_language(rule.company)):
        subject = gettext("[Dialix] %(rule)s: %(count)s call(s) on %(day)s") % {
            "rule": rule.name,
            "count": len(rows),
            "day": today.isoformat(),
        }
        lines = [f"📋 {subject}"]
        for row in rows[:DIGEST_LINES]:
            lines.append(f"• {_call_line(row.call)} — {row.reason}\n  {call_console_url(row.call_id)}")
        if len(rows) > DIGEST_LINES:
            lines.append(gettext("…and %(count)s more in the console.") % {"count": len(rows) - DIGEST_LINES})
    text = "\n".join(lines)
    extra = {"company_id": rule.company_id, "rule_id": rule.pk, "calls": len(rows)}
    try:
        _deliver(rule, subject, text)
    except TransientIntegrationError as exc:
        AlertDelivery.objects.filter(pk__in=ids).update(
            status=AlertStatus.DIGEST, last_error=_error_text(exc), updated_at=timezone.now()
        )
        logger.info("alert_digest_retry", extra={**extra, "reason": str(exc)})
        raise DeliveryRetry(exc, backoff_seconds(attempt=rows[0].attempts, cause=exc)) from exc
    except PermanentIntegrationError as exc:
        AlertDelivery.objects.filter(pk__in=ids).update(
            status=AlertStatus.FAILED, last_error=_error_text(exc), updated_at=timezone.now()
        )
        logger.warning("alert_digest_failed", extra={**extra, "reason": str(exc)})
        return 0
    AlertDelivery.objects.filter(pk__in=ids).update(
        status=AlertStatus.SENT, sent_at=timezone.now(), last_error="", updated_at=timezone.now()
    )
    AlertRule.objects.filter(pk=rule.pk).update(last_digest_on=today)
    logger.info("alert_digest_sent", extra=extra)
    return len(rows)
