"""Alerts (issue 16): a company's rules ("tell us when a call auto-fails / misses a critical item / has an angry
customer / mentions a competitor") and the outbox of their deliveries, at most one per rule and call.

Imported at the end of calls/models.py, so the models belong to the calls app."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from companies.tenancy import CompanyOwned
from integrations.fields import EncryptedTextField


class AlertTrigger(models.TextChoices):
    AUTO_FAIL = "auto_fail", _("The call auto-failed")
    CRITICAL_MISSED = "critical_missed", _("A critical checklist item was missed")
    NEGATIVE_SENTIMENT = "negative_sentiment", _("The customer was negative")
    PHRASE = "phrase", _("A phrase was said")


class AlertChannel(models.TextChoices):
    TELEGRAM = "telegram", _("Telegram")
    EMAIL = "email", _("E-mail")


class AlertRule(CompanyOwned):
    name = models.CharField(max_length=100, verbose_name=_("name"))
    trigger = models.CharField(max_length=20, choices=AlertTrigger.choices, verbose_name=_("when"))
    phrases = models.TextField(
        blank=True,
        help_text=_(
            "For 'A phrase was said': one phrase per line, e.g. a competitor's name. Matched in the "
            "transcript ignoring case; Latin and Cyrillic spellings of Uzbek match each other."
        ),
        verbose_name=_("phrases"),
    )
    channel = models.CharField(
        max_length=10, choices=AlertChannel.choices, default=AlertChannel.TELEGRAM, verbose_name=_("channel")
    )
    telegram_bot_token = EncryptedTextField(
        blank=True, help_text=_("From @BotFather; stored encrypted."), verbose_name=_("Telegram bot token")
    )
    telegram_chat_id = EncryptedTextField(
        blank=True,
        help_text=_("The chat, group or channel id the bot writes to; stored encrypted."),
        verbose_name=_("Telegram chat id"),
    )
    email_to = models.CharField(
        max_length=500,
        blank=True,
        help_text=_("E-mail addresses, separated by commas."),
        verbose_name=_("e-mail to"),
    )
    daily_digest = models.BooleanField(
        default=False,
        help_text=_("One message a day listing the day's calls instead of one message per call."),
        verbose_name=_("daily digest"),
    )
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )
    last_digest_on = models.DateField(
        null=True,
        blank=True,
        editable=False,
        help_text=_("The day of the last digest sent."),
        verbose_name=_("last digest on"),
    )

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="calls_alertrule_company_name")]

    def __str__(self) -> str:
        return self.name

    def phrase_list(self) -> list[str]:
        return [line.strip() for line in self.phrases.splitlines() if line.strip()]


class AlertStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    RETRYING = "retrying", _("Retrying")
    DIGEST = "digest", _("Waiting for the daily digest")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed (gave up)")


class AlertDelivery(CompanyOwned):
    """One rule fired on one call: the unique (rule, call) pair is what makes an alert go out at most once, across
    task retries, worker crashes and re-analyses of the call."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("rule"))
    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="+", verbose_name=_("call"))
    status = models.CharField(
        max_length=10, choices=AlertStatus.choices, default=AlertStatus.PENDING, verbose_name=_("status")
    )
    reason = models.CharField(max_length=300, verbose_name=_("why"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    last_error = models.CharField(max_length=500, blank=True, verbose_name=_("last error"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    digest_on = models.DateField(
        null=True, blank=True, help_text=_("The day of the digest that carries it."), verbose_name=_("digest on")
    )

    class Meta:
        verbose_name = _("alert delivery")
        verbose_name_plural = _("alert deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["rule", "call"], name="calls_alertdelivery_once")]
        indexes = [
            models.Index(fields=["company", "-created_at"], name="calls_alertdelivery_recent"),
            models.Index(fields=["rule", "status"], name="calls_alertdelivery_rule_st"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} · call {self.call_id}"
