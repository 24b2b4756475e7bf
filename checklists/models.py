from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from companies.tenancy import CompanyOwned

# The call directions a checklist may be limited to (the values of calls.models.Direction; checklists does not import
# calls, so the pair is repeated here and a test keeps them equal).
CALL_DIRECTIONS = [("inbound", "Inbound"), ("outbound", "Outbound")]


def validate_directions(value: object) -> None:
    allowed = [code for code, _ in CALL_DIRECTIONS]
    if not isinstance(value, list) or any(item not in allowed for item in value) or len(set(value)) != len(value):
        raise ValidationError(
            "Directions must be a list of distinct values among %(allowed)s (empty: every call).",
            params={"allowed": ", ".join(allowed)},
            code="invalid_directions",
        )


class ItemSpeaker(models.TextChoices):
    OPERATOR = "operator", "Operator"
    CUSTOMER = "customer", "Customer"
    ANY = "any", "Either side"


class Checklist(CompanyOwned):
    """A company's scorecard. Its sections and items are edited here; publishing freezes them as a new version, and
    every result refers to the version it was scored with, so old scores never change meaning."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    directions = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_directions],
        help_text='Call directions it applies to: ["inbound"], ["outbound"] or empty for all.'
    )
    operators = models.ManyToManyField(
        "operators.Operator", blank=True, related_name="checklists", help_text="Empty: every operator."
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="checklists_checklist_unique_name")]

    def __str__(self) -> str:
        return self.name


class ChecklistSection(CompanyOwned):
    checklist = models.ForeignKey(Checklist, on_delete=models.CASCADE, related_name="sections")
    title = models.CharField(max_length=200)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["checklist", "order", "id"]

    def __str__(self) -> str:
        return self.title


class ChecklistItem(CompanyOwned):
    """The editable item. What a result refers to is its frozen copy, a VersionItem."""

    checklist = models.ForeignKey(Checklist, on_delete=models.CASCADE, related_name="items")
    section = models.ForeignKey(ChecklistSection, on_delete=models.CASCADE, related_name="items")
    criterion = models.TextField(help_text="What the operator must do, in uz, ru or en.")
    weight = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    is_critical = models.BooleanField(default=False, help_text="Not met fails the whole call (auto-fail).")
    allow_na = models.BooleanField(default=False, help_text="May be 'not applicable' for a call.")
    example_phrases = models.TextField(blank=True, default="", help_text="One phrase per line that satisfies it.")
    speaker = models.CharField(max_length=10, choices=ItemSpeaker.choices, default=ItemSpeaker.OPERATOR)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["checklist", "section__order", "order", "id"]

    def __str__(self) -> str:
        return self.criterion[:80]

    @property
    def examples(self) -> list[str]:
        return [line.strip() for line in self.example_phrases.splitlines() if line.strip()]


class ChecklistVersion(CompanyOwned):
    checklist = models.ForeignKey(Checklist, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["checklist", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["checklist", "number"], name="checklists_checklistversion_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.checklist} v{self.number}"


class VersionItem(CompanyOwned):
    """An item as it was when its version was published. Never edited."""

    version = models.ForeignKey(ChecklistVersion, on_delete=models.CASCADE, related_name="items")
    source_item = models.ForeignKey(ChecklistItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    section_title = models.CharField(max_length=200)
    criterion = models.TextField()
    weight = models.PositiveIntegerField()
    is_critical = models.BooleanField()
    allow_na = models.BooleanField()
    examples = models.JSONField(default=list)
    speaker = models.CharField(max_length=10, choices=ItemSpeaker.choices)
    order = models.PositiveIntegerField()

    class Meta:
        ordering = ["version", "order", "id"]

    def __str__(self) -> str:
        return self.criterion[:80]


class Answer(models.TextChoices):
    MET = "met", "Met"
    NOT_MET = "not_met", "Not met"
    NA = "na", "Not applicable"
    NEEDS_REVIEW = "needs_review", "Needs review"


class ResultSource(models.TextChoices):
    MODEL = "model", "Language model"
    RULES = "rules", "Offline rules"
    HUMAN = "human", "Supervisor"


class Sentiment(models.TextChoices):
    NEGATIVE = "negative", "Negative"
    NEUTRAL = "neutral", "Neutral"
    POSITIVE = "positive", "Positive"


class CallAnalysis(CompanyOwned):
    """What happened on a call. Re-analysing replaces it (and the scorecards) in one transaction."""

    call = models.OneToOneField("calls.Call", on_delete=models.CASCADE, related_name="analysis")
    engine = models.CharField(max_length=80)
    summary = models.TextField(blank=True, default="")
    customer_sentiment = models.CharField(max_length=10, choices=Sentiment.choices)
    customer_sentiment_reason = models.CharField(max_length=300, blank=True, default="")
    operator_sentiment = models.CharField(max_length=10, choices=Sentiment.choices)
    operator_sentiment_reason = models.CharField(max_length=300, blank=True, default="")
    purpose = models.CharField(max_length=300, blank=True, default="")
    outcome = models.CharField(max_length=20)
    topics = models.JSONField(default=list, blank=True)
    customer_satisfied = models.BooleanField(null=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    llm_requests = models.PositiveSmallIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True)

    class Meta:
        verbose_name_plural = "call analyses"

    def __str__(self) -> str:
        return f"Analysis of call {self.call_id}"


class Scorecard(CompanyOwned):
    """A call scored against one checklist version. The score is computed in code (checklists.scoring)."""

    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="scorecards")
    version = models.ForeignKey(ChecklistVersion, on_delete=models.PROTECT, related_name="scorecards")
    score = models.FloatField(null=True, blank=True, help_text="Met weight / applicable weight × 100.")
    auto_fail = models.BooleanField(default=False, help_text="A critical item was not met.")
    needs_review = models.BooleanField(default=False, help_text="An answer's evidence could not be verified.")

    class Meta:
        ordering = ["call", "version__checklist__name"]
        constraints = [
            models.UniqueConstraint(fields=["call", "version"], name="checklists_scorecard_unique_call_version")
        ]

    def __str__(self) -> str:
        return f"{self.version} on call {self.call_id}: {self.score}"


class ItemResult(CompanyOwned):
    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="results")
    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="item_results")
    version_item = models.ForeignKey(VersionItem, on_delete=models.PROTECT, related_name="results")
    answer = models.CharField(max_length=12, choices=Answer.choices)
    evidence_quote = models.TextField(blank=True, default="")
    evidence_speaker = models.CharField(max_length=10, blank=True, default="")
    evidence_ms = models.PositiveIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    source = models.CharField(max_length=6, choices=ResultSource.choices)
    # A supervisor's correction keeps the original beside it
    original_answer = models.CharField(max_length=12, choices=Answer.choices, blank=True, default="")
    original_source = models.CharField(max_length=6, choices=ResultSource.choices, blank=True, default="")
    override_reason = models.TextField(blank=True, default="")
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    overridden_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["scorecard", "version_item__order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "version_item"], name="checklists_itemresult_unique_item")
        ]

    def __str__(self) -> str:
        return f"{self.version_item}: {self.get_answer_display()}"

    @property
    def evidence_seconds(self) -> float | None:
        return None if self.evidence_ms is None else self.evidence_ms / 1000
