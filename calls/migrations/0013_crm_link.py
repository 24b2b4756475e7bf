"""CRM (issue 14): the client and deal of each call, the write-back outbox, and the global Beat entry of the CRM
schedule (polls of due connections, linking calls still waiting, the write-backs still owed). The Beat entry is
idempotent by name and removed on reverse; no name starts with "pbx-sync-"."""

import django.db.models.deletion
from django.db import migrations, models

ENTRIES = (("crm-schedule", "calls.tasks_crm.crm_schedule_task", 1, "Poll due CRM portals, link and write back"),)


def create_entries(apps, schema_editor):
    from django.utils import timezone

    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, task, minutes, description in ENTRIES:
        every = IntervalSchedule.objects.filter(every=minutes, period="minutes").order_by("id").first()
        every = every or IntervalSchedule.objects.create(every=minutes, period="minutes")
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "interval": every,
                "args": "[]",
                "kwargs": "{}",
                "enabled": True,
                "description": description,
            },
        )
    # Historical models send no signals: tell a running beat that the schedule changed.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_entries(apps, schema_editor):
    from django.utils import timezone

    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[e[0] for e in ENTRIES]).delete()
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )


def _char(max_length: int, verbose_name: str, **kwargs):
    return models.CharField(blank=True, default="", max_length=max_length, verbose_name=verbose_name, **kwargs)


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0012_call_sentiment_outcome_for_figures"),
        ("companies", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="call",
            name="crm_link_state",
            field=models.CharField(
                choices=[
                    ("pending", "Waiting to be linked"),
                    ("linked", "Linked"),
                    ("no_match", "No CRM match"),
                    ("error", "The CRM refused the lookup"),
                ],
                default="pending",
                max_length=10,
                verbose_name="CRM link",
            ),
        ),
        migrations.AddField(model_name="call", name="crm_entity_kind", field=_char(10, "CRM client kind")),
        migrations.AddField(model_name="call", name="crm_entity_id", field=_char(32, "CRM client id")),
        migrations.AddField(model_name="call", name="crm_client_name", field=_char(200, "CRM client")),
        migrations.AddField(model_name="call", name="crm_deal_id", field=_char(32, "CRM deal id")),
        migrations.AddField(model_name="call", name="crm_deal_title", field=_char(255, "deal")),
        migrations.AddField(model_name="call", name="crm_deal_stage_id", field=_char(64, "deal stage id")),
        migrations.AddField(model_name="call", name="crm_deal_stage_name", field=_char(200, "deal stage")),
        migrations.AddField(model_name="call", name="crm_deal_funnel_name", field=_char(200, "deal funnel")),
        migrations.AddField(
            model_name="call",
            name="crm_deal_semantic",
            field=_char(5, "deal outcome", choices=[("open", "Open"), ("won", "Won"), ("lost", "Lost")]),
        ),
        migrations.AddField(
            model_name="call",
            name="crm_url",
            field=_char(400, "CRM link URL", help_text="Opens the deal (or the client) in the CRM."),
        ),
        migrations.AddField(
            model_name="call",
            name="crm_linked_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="CRM linked at"),
        ),
        migrations.AddIndex(
            model_name="call",
            index=models.Index(fields=["company", "crm_deal_semantic", "-started_at"], name="calls_call_crm_semantic"),
        ),
        migrations.AddIndex(
            model_name="call",
            index=models.Index(fields=["company", "crm_link_state", "-started_at"], name="calls_call_crm_link_state"),
        ),
        migrations.CreateModel(
            name="CrmWriteBack",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting to be written"),
                            ("written", "Written"),
                            ("skipped", "Nothing to write (no CRM match, or write-back off)"),
                            ("failed", "The CRM refused it"),
                        ],
                        default="pending",
                        max_length=10,
                        verbose_name="state",
                    ),
                ),
                (
                    "version",
                    models.PositiveIntegerField(
                        default=1, help_text="Analyses and corrections of the call to write.", verbose_name="version"
                    ),
                ),
                (
                    "written_version",
                    models.PositiveIntegerField(
                        default=0, help_text="The version the CRM shows.", verbose_name="written version"
                    ),
                ),
                (
                    "in_flight_version",
                    models.PositiveIntegerField(
                        default=0,
                        help_text="A write sent to the CRM whose answer was not saved yet (0: none).",
                        verbose_name="in-flight version",
                    ),
                ),
                ("written_kind", _char(10, "written as")),
                ("entity_kind", _char(10, "CRM entity")),
                ("entity_id", _char(32, "CRM entity id")),
                ("written_id", _char(32, "CRM record id")),
                ("written_at", models.DateTimeField(blank=True, null=True, verbose_name="written at")),
                ("claim_token", models.CharField(blank=True, default="", editable=False, max_length=32)),
                (
                    "claim_until",
                    models.DateTimeField(blank=True, editable=False, null=True, verbose_name="claimed until"),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0, verbose_name="attempts")),
                ("last_error", models.TextField(blank=True, default="", verbose_name="last error")),
                (
                    "call",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="crm_write_back",
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
            ],
            options={
                "verbose_name": "CRM write-back",
                "verbose_name_plural": "CRM write-backs",
                "indexes": [
                    models.Index(
                        condition=models.Q(("state", "pending")),
                        fields=["company", "updated_at"],
                        name="calls_crmwriteback_pending",
                    )
                ],
            },
        ),
        migrations.RunPython(create_entries, remove_entries),
    ]
