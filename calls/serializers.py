"""Output shapes of the calls API (issue 13): a call, its transcript turns, analysis and scorecards. They shape data
the selectors loaded (calls.selectors.call_api_list prefetches what `expand=` asks for); none of them queries."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calls.models import Call, CallSource, CallStatus, Direction, FailureCode, ReviewState
from calls.redaction import redact_text
from checklists.models import Answer, ItemResult, ResultSource, Scorecard, Sentiment


def pii_hidden(context: dict) -> bool:
    """Whether this response shows [CARD], [PHONE]… instead of the original (the company's choice for the viewer's
    role, issue 16). Worked out once per request from the cached company and membership: no query. A serializer used
    without a request (internal code) shows the original."""
    if "redact_pii" in context:
        return bool(context["redact_pii"])
    request = context.get("request")
    if request is None:
        return False
    cached = getattr(request, "_dialix_pii_hidden", None)
    if cached is None:
        from calls.redaction_policy import pii_hidden_for
        from companies.tenancy import company_for

        cached = pii_hidden_for(user=getattr(request, "user", None), company=company_for(request))
        request._dialix_pii_hidden = cached
    return cached


class PiiTextField(serializers.CharField):
    """Call text that may hold a card number or a passport: redacted for roles the company chose."""

    def to_representation(self, value):
        text = super().to_representation(value)
        return redact_text(text) if text and pii_hidden(self.context) else text


def _related(obj, name: str):
    """A reverse one-to-one loaded by select_related, or None when the row does not exist (no query either way)."""
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:
        return None


class OperatorRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    pbx_extension = serializers.CharField()


class FailureSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=FailureCode.choices)
    explanation = serializers.CharField(help_text="What the code means, as the console shows it.")
    reason = serializers.CharField(help_text="What happened to this call (may be empty).")


class CallLinksSerializer(serializers.Serializer):
    self = serializers.CharField()
    transcript = serializers.CharField()
    utterances = serializers.CharField()
    analysis = serializers.CharField()
    scorecards = serializers.CharField()
    recording = serializers.CharField()


class UtteranceOutputSerializer(serializers.Serializer):
    speaker = serializers.ChoiceField(choices=[("operator", "Operator"), ("customer", "Customer")])
    start_ms = serializers.IntegerField()
    end_ms = serializers.IntegerField()
    text = PiiTextField()
    confidence = serializers.FloatField(allow_null=True)


class AnalysisOutputSerializer(serializers.Serializer):
    engine = serializers.CharField()
    summary = PiiTextField()
    customer_sentiment = serializers.ChoiceField(choices=Sentiment.choices)
    customer_sentiment_reason = PiiTextField()
    operator_sentiment = serializers.ChoiceField(choices=Sentiment.choices)
    operator_sentiment_reason = PiiTextField()
    purpose = PiiTextField()
    outcome = serializers.CharField(help_text="sale, agreed, callback, refused, not_resolved, information or other.")
    topics = serializers.ListField(child=PiiTextField())
    customer_satisfied = serializers.BooleanField(allow_null=True)
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    llm_requests = serializers.IntegerField()
    cost_usd = serializers.DecimalField(max_digits=10, decimal_places=6, allow_null=True)


class CorrectionSerializer(serializers.Serializer):
    answer = serializers.ChoiceField(choices=Answer.choices)
    reason = serializers.CharField()
    by = serializers.CharField(allow_null=True, help_text="The supervisor's username (null: an API token).")
    at = serializers.DateTimeField()


class ItemResultOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The result's id: POST a correction to .../items/{id}/correct/.")
    section = serializers.CharField(source="version_item.section_title")
    criterion = serializers.CharField(source="version_item.criterion")
    weight = serializers.IntegerField(source="version_item.weight")
    is_critical = serializers.BooleanField(source="version_item.is_critical")
    allow_na = serializers.BooleanField(source="version_item.allow_na")
    answer = serializers.ChoiceField(choices=Answer.choices, help_text="The answer that counts (corrected or not).")
    source = serializers.ChoiceField(choices=ResultSource.choices)
    evidence_quote = PiiTextField()
    evidence_speaker = serializers.CharField()
    evidence_ms = serializers.IntegerField(allow_null=True)
    reason = PiiTextField()
    machine_answer = serializers.SerializerMethodField()
    machine_source = serializers.SerializerMethodField()
    correction = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=Answer.choices))
    def get_machine_answer(self, obj: ItemResult) -> str:
        return obj.original_answer or obj.answer

    @extend_schema_field(serializers.ChoiceField(choices=ResultSource.choices))
    def get_machine_source(self, obj: ItemResult) -> str:
        return obj.original_source or obj.source

    @extend_schema_field(CorrectionSerializer(allow_null=True))
    def get_correction(self, obj: ItemResult) -> dict | None:
        if not obj.original_answer:
            return None
        by = obj.overridden_by.get_username() if obj.overridden_by else None
        return {"answer": obj.answer, "reason": obj.override_reason, "by": by, "at": obj.overridden_at}


class ChecklistRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ScorecardOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    checklist = ChecklistRefSerializer(source="version.checklist")
    version_id = serializers.IntegerField()
    version = serializers.IntegerField(source="version.number", help_text="The checklist version scored with.")
    score = serializers.FloatField(allow_null=True)
    auto_fail = serializers.BooleanField()
    needs_review = serializers.BooleanField()
    items = ItemResultOutputSerializer(source="results", many=True)


def scorecards_of(call: Call) -> list[Scorecard]:
    return list(call.scorecards.all())  # prefetched by call_api_list / call_scorecards


class CallOutputSerializer(serializers.ModelSerializer):
    """A call as the API shows it. Sub-resources are in `links`; `expand=` puts them inline."""

    operator = serializers.CharField(
        source="operator.name", default=None, allow_null=True, help_text="The operator's name."
    )
    operator_id = serializers.IntegerField(allow_null=True)
    direction = serializers.ChoiceField(choices=Direction.choices)
    source = serializers.ChoiceField(choices=CallSource.choices)
    status = serializers.ChoiceField(choices=CallStatus.choices, help_text="The pipeline state.")
    failure_code = serializers.CharField(help_text="Empty unless failed; see `failure`.")
    failure = serializers.SerializerMethodField()
    review_state = serializers.ChoiceField(choices=ReviewState.choices)
    reviewed_by = serializers.CharField(source="reviewed_by.username", default=None, allow_null=True)
    low_confidence = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Call
        fields = [
            "id",
            "pbx_call_id",
            "source",
            "started_at",
            "ended_at",
            "direction",
            "customer_phone",
            "duration_seconds",
            "talk_seconds",
            "language",
            "status",
            "failure_code",
            "failure_reason",
            "failure",
            "operator",
            "operator_id",
            "score",
            "auto_fail",
            "needs_review",
            "low_confidence",
            "review_state",
            "reviewed_by",
            "reviewed_at",
            "links",
        ]

    @extend_schema_field(FailureSerializer(allow_null=True))
    def get_failure(self, call: Call) -> dict | None:
        if not call.failure_code:
            return None
        try:
            explanation = str(FailureCode(call.failure_code).label)
        except ValueError:
            explanation = call.failure_code
        return {"code": call.failure_code, "explanation": explanation, "reason": call.failure_reason}

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_low_confidence(self, call: Call) -> bool:
        transcript = _related(call, "transcript")
        return bool(transcript and transcript.low_confidence)

    @extend_schema_field(CallLinksSerializer)
    def get_links(self, call: Call) -> dict:
        base = reverse("calls:api-detail", args=[call.pk])
        return {
            "self": base,
            "transcript": f"{base}transcript/",
            "utterances": f"{base}utterances/",
            "analysis": f"{base}analysis/",
            "scorecards": f"{base}scorecards/",
            "recording": f"{base}recording/",
        }


class CallExpandedOutputSerializer(CallOutputSerializer):
    """A call with the sub-resources named in `expand=` inline: each is null when not asked for (and `analysis`
    also when the call has none yet)."""

    analysis = serializers.SerializerMethodField()
    scorecards = serializers.SerializerMethodField()
    utterances = serializers.SerializerMethodField()

    class Meta(CallOutputSerializer.Meta):
        fields = [*CallOutputSerializer.Meta.fields, "analysis", "scorecards", "utterances"]

    def _expand(self) -> frozenset[str]:
        return self.context.get("expand", frozenset())

    @extend_schema_field(AnalysisOutputSerializer(allow_null=True))
    def get_analysis(self, call: Call) -> dict | None:
        if "analysis" not in self._expand():
            return None
        analysis = _related(call, "analysis")
        return None if analysis is None else AnalysisOutputSerializer(analysis, context=self.context).data

    @extend_schema_field(ScorecardOutputSerializer(many=True, allow_null=True))
    def get_scorecards(self, call: Call) -> list | None:
        if "scorecards" not in self._expand():
            return None
        return ScorecardOutputSerializer(scorecards_of(call), many=True, context=self.context).data

    @extend_schema_field(UtteranceOutputSerializer(many=True, allow_null=True))
    def get_utterances(self, call: Call) -> list | None:
        if "transcript" not in self._expand():
            return None
        return UtteranceOutputSerializer(list(call.utterances.all()), many=True, context=self.context).data
