from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from companies.tenancy import CompanyOwned

# The call directions a checklist may be limited to (the values of calls.models.Direction; checklists does not import
# calls, so the pair is repeated here and a test keeps them equal).
CALL_DIRECTIONS = [("inbound", _("Inbound")), ("outbound", _("Outbound"))]


def validate_directions(value: object) -> None:
    allowed = [code for code, _ in CALL_DIRECTIONS]
    if not isinstance(value, list) or any(item not in allowed for item in value) or len(set(value)) != len(value):
        raise ValidationError(
            _("Directions must be a list of distinct values among %(allowed)s (empty: every call)."),
            params={"allowed": ", ".join(allowed)},
            code="invalid_directions",
        )


class ItemSpeaker(models.TextChoices):
    OPERATOR = "operator", _("Operator")
    CUSTOMER = "customer", _("Customer")
    ANY = "any", _("Either side")


class Checklist(CompanyOwned):
    """A company's scorecard. Its sections and items are edited here; publishing freezes them as a new version, and
    every result refers to the version it was scored with, so old scores never change meaning."""

    name = models.CharField(max_length=200, verbose_name=_("name"))
    description = models.TextField(blank=True, default="", verbose_name=_("description"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    directions = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_directions],
        help_text=_('Call directions it applies to: ["inbound"], ["outbound"] or empty for all.'),
        verbose_name=_("directions"),
    )
    operators = models.ManyToManyField(
        "operators.Operator",
        blank=True,
        related_name="checklists",
        help_text=_("Empty: every operator."),
        verbose_name=_("operators"),
    )

    class Meta:
        verbose_name = _("checklist")
        verbose_name_plural = _("checklists")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="checklists_checklist_unique_name")]

    def __str__(self) -> str:
        return self.name


class ChecklistSection(CompanyOwned):
    checklist = models.ForeignKey(
        Checklist, on_delete=models.CASCADE, related_name="sections", verbose_name=_("checklist")
    )
    title = models.CharField(max_length=200, verbose_name=_("title"))
    order = models.PositiveIntegerField(default=0, verbose_name=_("order"))

    class Meta:
        verbose_name = _("checklist section")
        verbose_name_plural = _("checklist sections")
        ordering = ["checklist", "order", "id"]

    def __str__(self) -> str:
        return self.title


class ChecklistItem(CompanyOwned):
    """The editable item. What a result refers to is its frozen copy, a VersionItem."""

    checklist = models.ForeignKey(
        Checklist, on_delete=models.CASCADE, related_name="items", verbose_name=_("checklist")
    )
    section = models.ForeignKey(
        ChecklistSection, on_delete=models.CASCADE, related_name="items", verbose_name=_("section")
    )
    criterion = models.TextField(
        help_text=_("What the operator must do, in uz, ru or en."), verbose_name=_("criterion")
    )
    weight = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)], verbose_name=_("weight"))
    is_critical = models.BooleanField(
        default=False, help_text=_("Not met fails the whole call (auto-fail)."), verbose_name=_("is critical")
    )
    allow_na = models.BooleanField(
        default=False, help_text=_("May be 'not applicable' for a call."), verbose_name=_("allow na")
    )
    example_phrases = models.TextField(
        blank=True, default="", help_text=_("One phrase per line that satisfies it."), verbose_name=_("example phrases")
    )
    speaker = models.CharField(
        max_length=10, choices=ItemSpeaker.choices, default=ItemSpeaker.OPERATOR, verbose_name=_("speaker")
    )
    order = models.PositiveIntegerField(default=0, verbose_name=_("order"))

    class Meta:
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        ordering = ["checklist", "section__order", "order", "id"]

    def __str__(self) -> str:
        return self.criterion[:80]

    @property
    def examples(self) -> list[str]:
        return [line.strip() for line in self.example_phrases.splitlines() if line.strip()]


class ChecklistVersion(CompanyOwned):
    checklist = models.ForeignKey(
        Checklist, on_delete=models.CASCADE, related_name="versions", verbose_name=_("checklist")
    )
    number = models.PositiveIntegerField(verbose_name=_("number"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("created by")
    )

    class Meta:
        verbose_name = _("checklist version")
        verbose_name_plural = _("checklist versions")
        ordering = ["checklist", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["checklist", "number"], name="checklists_checklistversion_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.checklist} v{self.number}"


class VersionItem(CompanyOwned):
    """An item as it was when its version was published. Never edited."""

    version = models.ForeignKey(
        ChecklistVersion, on_delete=models.CASCADE, related_name="items", verbose_name=_("version")
    )
    source_item = models.ForeignKey(
        ChecklistItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("source item")
    )
    section_title = models.CharField(max_length=200, verbose_name=_("section title"))
    criterion = models.TextField(verbose_name=_("criterion"))
    weight = models.PositiveIntegerField(verbose_name=_("weight"))
    is_critical = models.BooleanField(verbose_name=_("is critical"))
    allow_na = models.BooleanField(verbose_name=_("allow na"))
    examples = models.JSONField(default=list, verbose_name=_("examples"))
    speaker = models.CharField(max_length=10, choices=ItemSpeaker.choices, verbose_name=_("speaker"))
    order = models.PositiveIntegerField(verbose_name=_("order"))

    class Meta:
        verbose_name = _("version item")
        verbose_name_plural = _("version items")
        ordering = ["version", "order", "id"]

    def __str__(self) -> str:
        return self.criterion[:80]


class Answer(models.TextChoices):
    MET = "met", _("Met")
    NOT_MET = "not_met", _("Not met")
    NA = "na", _("Not applicable")
    NEEDS_REVIEW = "needs_review", _("Needs review")


class ResultSource(models.TextChoices):
    MODEL = "model", _("Language model")
    RULES = "rules", _("Offline rules")
    HUMAN = "human", _("Supervisor")


class Sentiment(models.TextChoices):
    NEGATIVE = "negative", _("Negative")
    NEUTRAL = "neutral", _("Neutral")
    POSITIVE = "positive", _("Positive")


class CallAnalysis(CompanyOwned):
    """What happened on a call. Re-analysing replaces it (and the scorecards) in one transaction."""

    call = models.OneToOneField("calls.Call", on_delete=models.CASCADE, related_name="analysis", verbose_name=_("call"))
    engine = models.CharField(max_length=80, verbose_name=_("engine"))
    summary = models.TextField(blank=True, default="", verbose_name=_("summary"))
    customer_sentiment = models.CharField(
        max_length=10, choices=Sentiment.choices, verbose_name=_("customer sentiment")
    )
    customer_sentiment_reason = models.CharField(
        max_length=300, blank=True, default="", verbose_name=_("customer sentiment reason")
    )
    operator_sentiment = models.CharField(
        max_length=10, choices=Sentiment.choices, verbose_name=_("operator sentiment")
    )
    operator_sentiment_reason = models.CharField(
        max_length=300, blank=True, default="", verbose_name=_("operator sentiment reason")
    )
    purpose = models.CharField(max_length=300, blank=True, default="", verbose_name=_("purpose"))
    outcome = models.CharField(max_length=20, verbose_name=_("outcome"))
    topics = models.JSONField(default=list, blank=True, verbose_name=_("topics"))
    customer_satisfied = models.BooleanField(null=True, verbose_name=_("customer satisfied"))
    prompt_tokens = models.PositiveIntegerField(default=0, verbose_name=_("prompt tokens"))
    completion_tokens = models.PositiveIntegerField(default=0, verbose_name=_("completion tokens"))
    llm_requests = models.PositiveSmallIntegerField(default=0, verbose_name=_("llm requests"))
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True, verbose_name=_("cost usd"))

    class Meta:
        verbose_name = _("call analysis")
        verbose_name_plural = _("call analyses")

    def __str__(self) -> str:
        return f"Analysis of call {self.call_id}"


class Scorecard(CompanyOwned):
    """A call scored against one checklist version. The score is computed in code (checklists.scoring)."""

    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="scorecards", verbose_name=_("call"))
    version = models.ForeignKey(
        ChecklistVersion, on_delete=models.PROTECT, related_name="scorecards", verbose_name=_("version")
    )
    score = models.FloatField(
        null=True, blank=True, help_text=_("Met weight / applicable weight × 100."), verbose_name=_("score")
    )
    auto_fail = models.BooleanField(
        default=False, help_text=_("A critical item was not met."), verbose_name=_("auto fail")
    )
    needs_review = models.BooleanField(
        default=False, help_text=_("An answer's evidence could not be verified."), verbose_name=_("needs review")
    )

    class Meta:
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")
        ordering = ["call", "version__checklist__name"]
        constraints = [
            models.UniqueConstraint(fields=["call", "version"], name="checklists_scorecard_unique_call_version")
        ]

    def __str__(self) -> str:
        return f"{self.version} on call {self.call_id}: {self.score}"


class ItemResult(CompanyOwned):
    scorecard = models.ForeignKey(
        Scorecard, on_delete=models.CASCADE, related_name="results", verbose_name=_("scorecard")
    )
    call = models.ForeignKey(
        "calls.Call", on_delete=models.CASCADE, related_name="item_results", verbose_name=_("call")
    )
    version_item = models.ForeignKey(
        VersionItem, on_delete=models.PROTECT, related_name="results", verbose_name=_("version item")
    )
    answer = models.CharField(max_length=12, choices=Answer.choices, verbose_name=_("answer"))
    evidence_quote = models.TextField(blank=True, default="", verbose_name=_("evidence quote"))
    evidence_speaker = models.CharField(max_length=10, blank=True, default="", verbose_name=_("evidence speaker"))
    evidence_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("evidence ms"))
    reason = models.TextField(blank=True, default="", verbose_name=_("reason"))
    source = models.CharField(max_length=6, choices=ResultSource.choices, verbose_name=_("source"))
    # A supervisor's correction keeps the original beside it
    original_answer = models.CharField(
        max_length=12, choices=Answer.choices, blank=True, default="", verbose_name=_("original answer")
    )
    original_source = models.CharField(
        max_length=6, choices=ResultSource.choices, blank=True, default="", verbose_name=_("original source")
    )
    override_reason = models.TextField(blank=True, default="", verbose_name=_("override reason"))
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("overridden by"),
    )
    overridden_at = models.DateTimeField(null=True, blank=True, verbose_name=_("overridden at"))

    class Meta:
        verbose_name = _("item result")
        verbose_name_plural = _("item results")
        ordering = ["scorecard", "version_item__order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "version_item"], name="checklists_itemresult_unique_item")
        ]

    def __str__(self) -> str:
        return f"{self.version_item}: {self.get_answer_display()}"

    @property
    def evidence_seconds(self) -> float | None:
        return None if self.evidence_ms is None else self.evidence_ms / 1000
