# Alerts (issue 16, item 5): rules, their deliveries (at most one per rule and call), and the daily digest's Beat entry.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import integrations.fields

DIGEST_TASK = ("alerts-daily-digest", "calls.tasks_alerts.alert_digests_send_task")


def create_digest_entry(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    # Every hour at :05; each company's digest goes once a day, after its own 18:00 (calls.services.alerts).
    schedule = CrontabSchedule.objects.filter(
        minute="5", hour="*", day_of_week="*", day_of_month="*", month_of_year="*"
    ).first() or CrontabSchedule.objects.create(
        minute="5", hour="*", day_of_week="*", day_of_month="*", month_of_year="*"
    )
    PeriodicTask.objects.update_or_create(
        name=DIGEST_TASK[0],
        defaults={
            "task": DIGEST_TASK[1],
            "crontab": schedule,
            "interval": None,
            "args": "[]",
            "kwargs": "{}",
            "enabled": True,
            "description": "Send the daily alert digests that are due",
        },
    )
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_digest_entry(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=DIGEST_TASK[0]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0014_retention"),
        ("companies", "0009_pii_alerts"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AlertRule",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
                ("name", models.CharField(max_length=100, verbose_name="name")),
                (
                    "trigger",
                    models.CharField(
                        choices=[
                            ("auto_fail", "The call auto-failed"),
                            ("critical_missed", "A critical checklist item was missed"),
                            ("negative_sentiment", "The customer was negative"),
                            ("phrase", "A phrase was said"),
                        ],
                        max_length=20,
                        verbose_name="when",
                    ),
                ),
                (
                    "phrases",
                    models.TextField(
                        blank=True,
                        help_text="For 'A phrase was said': one phrase per line, e.g. a competitor's name. Matched "
                        "in the transcript ignoring case; Latin and Cyrillic spellings of Uzbek match each other.",
                        verbose_name="phrases",
                    ),
                ),
                (
                    "channel",
                    models.CharField(
                        choices=[("telegram", "Telegram"), ("email", "E-mail")],
                        default="telegram",
                        max_length=10,
                        verbose_name="channel",
                    ),
                ),
                (
                    "telegram_bot_token",
                    integrations.fields.EncryptedTextField(
                        blank=True, help_text="From @BotFather; stored encrypted.", verbose_name="Telegram bot token"
                    ),
                ),
                (
                    "telegram_chat_id",
                    integrations.fields.EncryptedTextField(
                        blank=True,
                        help_text="The chat, group or channel id the bot writes to; stored encrypted.",
                        verbose_name="Telegram chat id",
                    ),
                ),
                (
                    "email_to",
                    models.CharField(
                        blank=True,
                        help_text="E-mail addresses, separated by commas.",
                        max_length=500,
                        verbose_name="e-mail to",
                    ),
                ),
                (
                    "daily_digest",
                    models.BooleanField(
                        default=False,
                        help_text="One message a day listing the day's calls instead of one message per call.",
                        verbose_name="daily digest",
                    ),
                ),
                ("is_active", models.BooleanField(default=True, verbose_name="is active")),
                (
                    "last_digest_on",
                    models.DateField(
                        blank=True,
                        editable=False,
                        help_text="The day of the last digest sent.",
                        null=True,
                        verbose_name="last digest on",
                    ),
                ),
                (
                    "company",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="companies.company",
                        verbose_name="company",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="created by",
                    ),
                ),
            ],
            options={
                "verbose_name": "alert rule",
                "verbose_name_plural": "alert rules",
                "ordering": ["name", "id"],
                "constraints": [
                    models.UniqueConstraint(fields=("company", "name"), name="calls_alertrule_company_name")
                ],
            },
        ),
        migrations.CreateModel(
            name="AlertDelivery",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("sending", "Sending"),
                            ("retrying", "Retrying"),
                            ("digest", "Waiting for the daily digest"),
                            ("sent", "Sent"),
                            ("failed", "Failed (gave up)"),
                        ],
                        default="pending",
                        max_length=10,
                        verbose_name="status",
                    ),
                ),
                ("reason", models.CharField(max_length=300, verbose_name="why")),
                ("attempts", models.PositiveIntegerField(default=0, verbose_name="attempts")),
                ("last_error", models.CharField(blank=True, max_length=500, verbose_name="last error")),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True, verbose_name="next attempt at")),
                ("sent_at", models.DateTimeField(blank=True, null=True, verbose_name="sent at")),
                (
                    "digest_on",
                    models.DateField(
                        blank=True,
                        help_text="The day of the digest that carries it.",
                        null=True,
                        verbose_name="digest on",
                    ),
                ),
                (
                    "call",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="calls.call",
                        verbose_name="call",
                    ),
                ),
                (
                    "company",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="companies.company",
                        verbose_name="company",
                    ),
                ),
                (
                    "rule",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="calls.alertrule",
                        verbose_name="rule",
                    ),
                ),
            ],
            options={
                "verbose_name": "alert delivery",
                "verbose_name_plural": "alert deliveries",
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(fields=["company", "-created_at"], name="calls_alertdelivery_recent"),
                    models.Index(fields=["rule", "status"], name="calls_alertdelivery_rule_st"),
                ],
                "constraints": [models.UniqueConstraint(fields=("rule", "call"), name="calls_alertdelivery_once")],
            },
        ),
        migrations.RunPython(create_digest_entry, remove_digest_entry),
    ]
