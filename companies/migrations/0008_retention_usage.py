"""Retention days on the company; the audit trail (auditlog entries with their company) and sampled API token usage
(issue 16)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0007_security"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="company",
            name="recording_retention_days",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Delete a call's recording this many days after the call (e.g. 90); empty: keep.",
                null=True,
                verbose_name="recording retention days",
            ),
        ),
        migrations.AddField(
            model_name="company",
            name="text_retention_days",
            field=models.PositiveIntegerField(
                blank=True,
                help_text=(
                    "Delete a call's transcript and the analysis' texts this many days after the call (e.g. 730); "
                    "scores and figures stay. Empty: keep."
                ),
                null=True,
                verbose_name="text retention days",
            ),
        ),
        migrations.CreateModel(
            name="ApiTokenUsage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
                (
                    "endpoint",
                    models.CharField(help_text="Method and URL pattern.", max_length=200, verbose_name="endpoint"),
                ),
                ("day", models.DateField(verbose_name="day")),
                ("count", models.PositiveIntegerField(default=0, verbose_name="requests (sampled)")),
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
                    "token",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="usage",
                        to="companies.apitoken",
                        verbose_name="API token",
                    ),
                ),
            ],
            options={
                "verbose_name": "API token usage",
                "verbose_name_plural": "API token usage",
                "ordering": ["-day", "token", "endpoint"],
                "constraints": [
                    models.UniqueConstraint(fields=("token", "endpoint", "day"), name="companies_apitokenusage_unique")
                ],
            },
        ),
        migrations.CreateModel(
            name="AuditEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("object_pk", models.CharField(db_index=True, max_length=255, verbose_name="object pk")),
                ("object_id", models.BigIntegerField(blank=True, db_index=True, null=True, verbose_name="object id")),
                ("object_repr", models.TextField(verbose_name="object representation")),
                ("serialized_data", models.JSONField(null=True)),
                (
                    "action",
                    models.PositiveSmallIntegerField(
                        choices=[(0, "create"), (1, "update"), (2, "delete"), (3, "access")],
                        db_index=True,
                        verbose_name="action",
                    ),
                ),
                ("changes_text", models.TextField(blank=True, verbose_name="change message")),
                ("changes", models.JSONField(null=True, verbose_name="change message")),
                (
                    "cid",
                    models.CharField(
                        blank=True, db_index=True, max_length=255, null=True, verbose_name="Correlation ID"
                    ),
                ),
                ("remote_addr", models.GenericIPAddressField(blank=True, null=True, verbose_name="remote address")),
                ("remote_port", models.PositiveIntegerField(blank=True, null=True, verbose_name="remote port")),
                (
                    "timestamp",
                    models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name="timestamp"),
                ),
                ("additional_data", models.JSONField(blank=True, null=True, verbose_name="additional data")),
                ("actor_email", models.CharField(blank=True, max_length=254, null=True, verbose_name="actor email")),
                ("event", models.CharField(blank=True, default="", max_length=64, verbose_name="event")),
                (
                    "actor_label",
                    models.CharField(
                        blank=True,
                        default="",
                        help_text=(
                            "The person's username, token:<prefix> for an API token, or the task (system:retention)."
                        ),
                        max_length=150,
                        verbose_name="actor",
                    ),
                ),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="actor",
                    ),
                ),
                (
                    "company",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="companies.company",
                        verbose_name="company",
                    ),
                ),
                (
                    "content_type",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="contenttypes.contenttype",
                        verbose_name="content type",
                    ),
                ),
            ],
            options={
                "verbose_name": "audit entry",
                "verbose_name_plural": "audit trail",
                "ordering": ["-timestamp"],
                "get_latest_by": "timestamp",
                "abstract": False,
                "indexes": [
                    models.Index(fields=["company", "-timestamp"], name="companies_auditentry_co_time"),
                    models.Index(fields=["company", "event", "-timestamp"], name="companies_auditentry_co_event"),
                ],
            },
        ),
    ]
