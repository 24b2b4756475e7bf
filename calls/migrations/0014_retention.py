"""Retention (issue 16): when a call's recording or texts were removed by the company's policy, and the global Beat
entry that applies every company's policy once a night (STYLE §6: global schedules come from a data migration).
Idempotent (by name: a re-run or an entry edited by staff is set back to these values), reversible (removed)."""

from django.db import migrations, models

ENTRY = "calls-retention"
TASK = "calls.tasks.calls_retention_task"


def create_entry(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    # 22:30 UTC is 03:30 in Tashkent: the quietest hour of a call centre's day.
    when = dict(minute="30", hour="22", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC")
    crontab = CrontabSchedule.objects.filter(**when).order_by("id").first() or CrontabSchedule.objects.create(**when)
    PeriodicTask.objects.update_or_create(
        name=ENTRY,
        defaults={
            "task": TASK,
            "crontab": crontab,
            "interval": None,
            "args": "[]",
            "kwargs": "{}",
            "enabled": True,
            "description": "Apply each company's retention: delete old recordings (files too) and transcripts",
        },
    )
    _beat_reloads(PeriodicTasks)


def remove_entry(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=ENTRY).delete()
    _beat_reloads(apps.get_model("django_celery_beat", "PeriodicTasks"))


def _beat_reloads(PeriodicTasks):
    # Historical models send no signals: tell a running beat that the schedule changed, as PeriodicTask.save() does.
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0013_crm_link"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="call",
            name="recording_deleted_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="recording deleted at"),
        ),
        migrations.AddField(
            model_name="call",
            name="text_deleted_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="text deleted at"),
        ),
        migrations.RunPython(create_entry, remove_entry),
    ]
