"""The global Beat entries (STYLE §6: global schedules come from a data migration; per-company ones from services):
the sweeper of stranded calls every minute and the closing of sync runs left Running every 5 minutes. Idempotent
(by name: a re-run or an entry edited by staff is set back to these values), reversible (the entries are removed).
No name starts with "pbx-sync-": that prefix is the per-company schedules' (integrations.services)."""

from django.db import migrations

ENTRIES = (
    ("calls-sweep", "calls.tasks.calls_sweep_task", 1, "Re-queue calls stranded past their step's limit"),
    (
        "sync-runs-close-stale",
        "calls.tasks.pbx_sync_runs_close_stale_task",
        5,
        "Close sync runs left Running or Queued past their lease",
    ),
)


def create_entries(apps, schema_editor):
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
    _beat_reloads(PeriodicTasks)


def remove_entries(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, *_ in ENTRIES]).delete()
    _beat_reloads(apps.get_model("django_celery_beat", "PeriodicTasks"))


def _beat_reloads(PeriodicTasks):
    # Historical models send no signals: tell a running beat that the schedule changed, as PeriodicTask.save() does.
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0006_calls_list_indexes"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_entries, remove_entries)]
