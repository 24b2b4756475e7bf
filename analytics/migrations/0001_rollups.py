"""The daily rollups of the calls' figures (issue 15): the tables, and the Beat entry that re-checks recent days
(idempotent by name, reversible, like calls/migrations/0007)."""

import django.db.models.deletion
from django.db import migrations, models

BEAT_NAME = "analytics-rollups-recheck"
BEAT_TASK = "analytics.tasks.rollups_recheck_task"
BEAT_MINUTES = 60


def create_entry(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every = IntervalSchedule.objects.filter(every=BEAT_MINUTES, period="minutes").order_by("id").first()
    every = every or IntervalSchedule.objects.create(every=BEAT_MINUTES, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=BEAT_NAME,
        defaults={
            "task": BEAT_TASK,
            "interval": every,
            "args": "[]",
            "kwargs": "{}",
            "enabled": True,
            "description": "Recompute the dashboard rollups of recent days from the calls (repairs any drift)",
        },
    )
    _beat_reloads(PeriodicTasks)


def remove_entry(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=BEAT_NAME).delete()
    _beat_reloads(apps.get_model("django_celery_beat", "PeriodicTasks"))


def _beat_reloads(PeriodicTasks):
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def _dims():
    return [
        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
        ("day", models.DateField(help_text="The local day in the company's time zone.", verbose_name="day")),
        ("direction", models.CharField(max_length=10, verbose_name="direction")),
        ("language", models.CharField(blank=True, default="", max_length=5, verbose_name="language")),
        (
            "grain",
            models.CharField(
                choices=[("full", "Every dimension"), ("operator", "Per operator"), ("company", "Whole company")],
                default="full",
                help_text="full: per operator, direction and language; operator: those summed per operator (direction "
                "and language empty); company: summed over the operators too (operator empty).",
                max_length=8,
                verbose_name="grain",
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
            "operator",
            models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="operators.operator",
                verbose_name="operator",
            ),
        ),
    ]


def _count(name, label):
    return (name, models.PositiveIntegerField(default=0, verbose_name=label))


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("companies", "0001_initial"),
        ("operators", "0004_translated_timestamps"),
        ("checklists", "0005_translated_timestamps"),
        ("calls", "0012_call_sentiment_outcome_for_figures"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name="DailyCallRollup",
            fields=[
                *_dims(),
                ("outcome", models.CharField(blank=True, default="", max_length=20, verbose_name="outcome")),
                _count("calls", "calls"),
                _count("answered", "answered"),
                _count("analysed", "analysed"),
                _count("scored", "scored"),
                ("score_sum", models.FloatField(default=0, verbose_name="score sum")),
                _count("auto_failed", "auto failed"),
                _count("needs_review", "needs review"),
                (
                    "handle_seconds",
                    models.BigIntegerField(
                        default=0, help_text="Sum of the answered calls' durations.", verbose_name="handle seconds"
                    ),
                ),
                ("talk_ratio_sum", models.FloatField(default=0, verbose_name="talk ratio sum")),
                _count("talk_ratio_count", "talk ratio count"),
                ("silence_share_sum", models.FloatField(default=0, verbose_name="silence share sum")),
                _count("silence_share_count", "silence share count"),
                ("interruptions_sum", models.BigIntegerField(default=0, verbose_name="interruptions sum")),
                _count("interruptions_count", "interruptions count"),
                ("speech_rate_sum", models.FloatField(default=0, verbose_name="speech rate sum")),
                _count("speech_rate_count", "speech rate count"),
                _count("sentiment_negative", "negative sentiment"),
                _count("sentiment_neutral", "neutral sentiment"),
                _count("sentiment_positive", "positive sentiment"),
            ],
            options={
                "verbose_name": "daily call rollup",
                "verbose_name_plural": "daily call rollups",
                "indexes": [models.Index(fields=["company", "grain", "day"], name="analytics_callroll_day")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("company", "grain", "day", "operator", "direction", "language", "outcome"),
                        name="analytics_callroll_unique",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="HourlyCallRollup",
            fields=[
                *_dims(),
                ("hour", models.PositiveSmallIntegerField(verbose_name="hour")),
                ("outcome", models.CharField(blank=True, default="", max_length=20, verbose_name="outcome")),
                _count("calls", "calls"),
                _count("answered", "answered"),
                _count("scored", "scored"),
                ("score_sum", models.FloatField(default=0, verbose_name="score sum")),
                _count("auto_failed", "auto failed"),
            ],
            options={
                "verbose_name": "hourly call rollup",
                "verbose_name_plural": "hourly call rollups",
                "indexes": [models.Index(fields=["company", "grain", "day"], name="analytics_hourroll_day")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("company", "grain", "day", "hour", "operator", "direction", "language", "outcome"),
                        name="analytics_hourroll_unique",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="DailyItemRollup",
            fields=[
                *_dims(),
                ("checklist_id", models.BigIntegerField(verbose_name="checklist id")),
                _count("met", "met"),
                _count("not_met", "not met"),
                _count("na", "not applicable"),
                _count("needs_review", "needs review"),
                (
                    "version_item",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="checklists.versionitem",
                        verbose_name="version item",
                    ),
                ),
            ],
            options={
                "verbose_name": "daily item rollup",
                "verbose_name_plural": "daily item rollups",
                "indexes": [models.Index(fields=["company", "grain", "day"], name="analytics_itemroll_day")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("company", "grain", "day", "operator", "direction", "language", "version_item"),
                        name="analytics_itemroll_unique",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="DailyTopicRollup",
            fields=[
                *_dims(),
                (
                    "kind",
                    models.CharField(
                        choices=[("purpose", "Purpose"), ("topic", "Topic")], max_length=10, verbose_name="kind"
                    ),
                ),
                ("value", models.CharField(max_length=300, verbose_name="value")),
                _count("calls", "calls"),
            ],
            options={
                "verbose_name": "daily topic rollup",
                "verbose_name_plural": "daily topic rollups",
                "indexes": [models.Index(fields=["company", "grain", "day"], name="analytics_topicroll_day")],
            },
        ),
        migrations.RunPython(create_entry, remove_entry),
    ]
