"""The dashboard's background exports (issue 15): ExportJob, and the Beat entry that deletes expired files hourly
(STYLE §6: global schedules come from a data migration; idempotent by name, reversible)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import analytics.models_exports

BEAT_ENTRY = "dashboard-exports-expire"
BEAT_TASK = "analytics.tasks_exports.exports_expired_delete_task"


def create_entry(apps, schema_editor):
    from django.utils import timezone

    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every = IntervalSchedule.objects.filter(every=1, period="hours").order_by("id").first()
    every = every or IntervalSchedule.objects.create(every=1, period="hours")
    PeriodicTask.objects.update_or_create(
        name=BEAT_ENTRY,
        defaults={
            "task": BEAT_TASK,
            "interval": every,
            "args": "[]",
            "kwargs": "{}",
            "enabled": True,
            "description": "Delete the dashboard's export files past DIALIX_EXPORT_KEEP_HOURS",
        },
    )
    # Historical models send no signals: tell a running beat that the schedule changed, as PeriodicTask.save() does.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_entry(apps, schema_editor):
    from django.utils import timezone

    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=BEAT_ENTRY).delete()
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_rollups"),
        ("companies", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ExportJob",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
                (
                    "table",
                    models.CharField(help_text="Which table of the dashboard.", max_length=30, verbose_name="table"),
                ),
                (
                    "format",
                    models.CharField(choices=[("csv", "CSV"), ("xlsx", "XLSX")], max_length=4, verbose_name="format"),
                ),
                (
                    "params",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text="The dashboard's filters, as URL parameters.",
                        verbose_name="params",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("queued", "Queued"), ("running", "Running"), ("done", "Done"), ("failed", "Failed")],
                        default="queued",
                        max_length=8,
                        verbose_name="status",
                    ),
                ),
                ("rows_total", models.PositiveIntegerField(blank=True, null=True, verbose_name="rows total")),
                ("rows_done", models.PositiveIntegerField(default=0, verbose_name="rows done")),
                (
                    "file",
                    models.FileField(
                        blank=True,
                        default="",
                        max_length=300,
                        upload_to=analytics.models_exports.export_path,
                        verbose_name="file",
                    ),
                ),
                ("error", models.CharField(blank=True, default="", max_length=300, verbose_name="error")),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="finished at")),
                (
                    "expires_at",
                    models.DateTimeField(
                        blank=True,
                        help_text="The file is deleted after this time.",
                        null=True,
                        verbose_name="expires at",
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
                    "requested_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="requested by",
                    ),
                ),
            ],
            options={
                "verbose_name": "export job",
                "verbose_name_plural": "export jobs",
                "ordering": ["-created_at", "-id"],
                "indexes": [models.Index(fields=["expires_at"], name="analytics_export_expires")],
            },
        ),
        migrations.RunPython(create_entry, remove_entry),
    ]
