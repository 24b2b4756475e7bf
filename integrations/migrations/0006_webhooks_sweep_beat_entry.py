"""The global Beat entry of webhooks (STYLE §6): queue due deliveries (retries, and any a dead worker left) every
minute. Idempotent by name, reversible (the entry is removed)."""

from django.db import migrations

NAME, TASK = "webhooks-deliver-due", "integrations.tasks.webhook_deliveries_sweep_task"


def create_entry(apps, schema_editor):
    from django.utils import timezone

    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every = IntervalSchedule.objects.filter(every=1, period="minutes").order_by("id").first()
    every = every or IntervalSchedule.objects.create(every=1, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "interval": every,
            "args": "[]",
            "kwargs": "{}",
            "enabled": True,
            "description": "Send webhook deliveries that are due",
        },
    )
    # Historical models send no signals: tell a running beat that the schedule changed.
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )


def remove_entry(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0005_webhooks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_entry, remove_entry)]
