"""Per-company rollups of the calls' figures (issue 15), so the dashboard and the aggregates API read a few thousand
rows instead of scanning calls. A rollup row is a group of calls of one local day (the company's time zone) by operator,
direction, language (and outcome for the call figures); it holds sums and counts, never means, so any set of rows
adds up to the figures of its calls. Rows are only written by analytics.services.rollups_refresh, which recomputes a
(company, day, operator) key from the calls in one transaction (delete + insert): they equal a direct computation by
construction. Derived data: no created/updated stamps, and operator / item ids are kept without a database constraint
(a deleted operator leaves its rows until the next rebuild).

Each group is also kept summed at two coarser grains, so a year read without a direction / language filter sums a few
rows a day instead of one per operator × direction × language: ``operator`` (per operator) and ``company`` (the whole
company). The selectors read the coarsest grain their filters and grouping allow."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from companies.tenancy import CompanyQuerySet


class RollupBase(models.Model):
    company = models.ForeignKey(
        "companies.Company", on_delete=models.CASCADE, related_name="+", verbose_name=_("company")
    )
    day = models.DateField(help_text=_("The local day in the company's time zone."), verbose_name=_("day"))
    operator = models.ForeignKey(
        "operators.Operator",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=_("operator"),
    )
    direction = models.CharField(max_length=10, verbose_name=_("direction"))
    language = models.CharField(max_length=5, blank=True, default="", verbose_name=_("language"))
    grain = models.CharField(
        max_length=8,
        choices=[("full", _("Every dimension")), ("operator", _("Per operator")), ("company", _("Whole company"))],
        default="full",
        help_text=_("full: per operator, direction and language; operator: those summed per operator (direction and "
                    "language empty); company: summed over the operators too (operator empty)."),
        verbose_name=_("grain"),
    )  # fmt: skip

    objects = CompanyQuerySet.as_manager()

    class Meta:
        abstract = True


class DailyCallRollup(RollupBase):
    """The call figures of a group of calls (see the module)."""

    outcome = models.CharField(max_length=20, blank=True, default="", verbose_name=_("outcome"))
    calls = models.PositiveIntegerField(default=0, verbose_name=_("calls"))
    answered = models.PositiveIntegerField(default=0, verbose_name=_("answered"))
    analysed = models.PositiveIntegerField(default=0, verbose_name=_("analysed"))
    scored = models.PositiveIntegerField(default=0, verbose_name=_("scored"))
    score_sum = models.FloatField(default=0, verbose_name=_("score sum"))
    auto_failed = models.PositiveIntegerField(default=0, verbose_name=_("auto failed"))
    needs_review = models.PositiveIntegerField(default=0, verbose_name=_("needs review"))
    handle_seconds = models.BigIntegerField(
        default=0, help_text=_("Sum of the answered calls' durations."), verbose_name=_("handle seconds")
    )
    talk_ratio_sum = models.FloatField(default=0, verbose_name=_("talk ratio sum"))
    talk_ratio_count = models.PositiveIntegerField(default=0, verbose_name=_("talk ratio count"))
    silence_share_sum = models.FloatField(default=0, verbose_name=_("silence share sum"))
    silence_share_count = models.PositiveIntegerField(default=0, verbose_name=_("silence share count"))
    interruptions_sum = models.BigIntegerField(default=0, verbose_name=_("interruptions sum"))
    interruptions_count = models.PositiveIntegerField(default=0, verbose_name=_("interruptions count"))
    speech_rate_sum = models.FloatField(default=0, verbose_name=_("speech rate sum"))
    speech_rate_count = models.PositiveIntegerField(default=0, verbose_name=_("speech rate count"))
    sentiment_negative = models.PositiveIntegerField(default=0, verbose_name=_("negative sentiment"))
    sentiment_neutral = models.PositiveIntegerField(default=0, verbose_name=_("neutral sentiment"))
    sentiment_positive = models.PositiveIntegerField(default=0, verbose_name=_("positive sentiment"))

    class Meta:
        verbose_name = _("daily call rollup")
        verbose_name_plural = _("daily call rollups")
        indexes = [models.Index(fields=["company", "grain", "day"], name="analytics_callroll_day")]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "grain", "day", "operator", "direction", "language", "outcome"],
                name="analytics_callroll_unique",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} operator {self.operator_id}: {self.calls} calls"


class HourlyCallRollup(RollupBase):
    """Calls per local hour: the missed-calls heat map and a one-day period's series."""

    hour = models.PositiveSmallIntegerField(verbose_name=_("hour"))
    outcome = models.CharField(max_length=20, blank=True, default="", verbose_name=_("outcome"))
    calls = models.PositiveIntegerField(default=0, verbose_name=_("calls"))
    answered = models.PositiveIntegerField(default=0, verbose_name=_("answered"))
    scored = models.PositiveIntegerField(default=0, verbose_name=_("scored"))
    score_sum = models.FloatField(default=0, verbose_name=_("score sum"))
    auto_failed = models.PositiveIntegerField(default=0, verbose_name=_("auto failed"))

    class Meta:
        verbose_name = _("hourly call rollup")
        verbose_name_plural = _("hourly call rollups")
        indexes = [models.Index(fields=["company", "grain", "day"], name="analytics_hourroll_day")]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "grain", "day", "hour", "operator", "direction", "language", "outcome"],
                name="analytics_hourroll_unique",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.hour}:00 operator {self.operator_id}: {self.calls} calls"


class DailyItemRollup(RollupBase):
    """The answers that count (a correction wins) per checklist version item."""

    version_item = models.ForeignKey(
        "checklists.VersionItem",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=_("version item"),
    )
    checklist_id = models.BigIntegerField(verbose_name=_("checklist id"))
    met = models.PositiveIntegerField(default=0, verbose_name=_("met"))
    not_met = models.PositiveIntegerField(default=0, verbose_name=_("not met"))
    na = models.PositiveIntegerField(default=0, verbose_name=_("not applicable"))
    needs_review = models.PositiveIntegerField(default=0, verbose_name=_("needs review"))

    class Meta:
        verbose_name = _("daily item rollup")
        verbose_name_plural = _("daily item rollups")
        indexes = [models.Index(fields=["company", "grain", "day"], name="analytics_itemroll_day")]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "grain", "day", "operator", "direction", "language", "version_item"],
                name="analytics_itemroll_unique",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} item {self.version_item_id}: {self.met}/{self.not_met}"


class TopicKind(models.TextChoices):
    PURPOSE = "purpose", _("Purpose")
    TOPIC = "topic", _("Topic")


class DailyTopicRollup(RollupBase):
    """Analysed calls per purpose and per topic (a call counts once per topic)."""

    kind = models.CharField(max_length=10, choices=TopicKind.choices, verbose_name=_("kind"))
    value = models.CharField(max_length=300, verbose_name=_("value"))
    calls = models.PositiveIntegerField(default=0, verbose_name=_("calls"))

    class Meta:
        verbose_name = _("daily topic rollup")
        verbose_name_plural = _("daily topic rollups")
        indexes = [models.Index(fields=["company", "grain", "day"], name="analytics_topicroll_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.value}: {self.calls}"


from analytics.models_exports import ExportFormat, ExportJob, ExportStatus  # noqa: E402, F401
