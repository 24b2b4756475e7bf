import json

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls.filters import CallFilter
from calls.models import Call, Direction
from calls.selectors import call_get, call_list, call_transcript, call_utterances
from calls.services.upload import EXTERNAL_ID_HELP, call_upload, external_id_problem
from companies.api_auth import TokenPrincipal
from companies.models import Role
from companies.tenancy import CompanyMixin, membership_for_user
from dialix.api_errors import error_body
from integrations.services import pbx_account_for_push_secret
from operators.selectors import operator_list


class CallOutputSerializer(serializers.ModelSerializer):
    operator = serializers.CharField(source="operator.name", default=None)

    class Meta:
        model = Call
        fields = [
            "id",
            "pbx_call_id",
            "source",
            "started_at",
            "direction",
            "customer_phone",
            "duration_seconds",
            "talk_seconds",
            "status",
            "failure_code",
            "failure_reason",
            "operator",
        ]


class CallUploadOutputSerializer(CallOutputSerializer):
    created = serializers.BooleanField(help_text="This request created the call.")
    duplicate = serializers.BooleanField(
        help_text="The same external id (or the same audio without one) was uploaded before: this is that call."
    )

    class Meta(CallOutputSerializer.Meta):
        fields = [*CallOutputSerializer.Meta.fields, "created", "duplicate"]


class CanWrite(permissions.BasePermission):
    """Tokens, owners and supervisors may write; analysts are read-only."""

    message = "Your role is read-only."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS or isinstance(request.user, TokenPrincipal):
            return True
        membership = membership_for_user(request.user)
        return membership is not None and membership.role in (Role.OWNER, Role.SUPERVISOR)


class CallUploadInputSerializer(serializers.Serializer):
    audio = serializers.FileField()
    external_id = serializers.CharField(
        required=False, allow_blank=True, max_length=128, default="", help_text=EXTERNAL_ID_HELP
    )
    direction = serializers.ChoiceField(choices=Direction.choices)
    started_at = serializers.DateTimeField()
    customer_phone = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    operator_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    operator_extension = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")

    def validate_external_id(self, value: str) -> str:
        problem = external_id_problem(value)
        if problem is not None:
            raise serializers.ValidationError(problem)
        return value


METADATA_MAX_CHARS = 64 * 1024  # the metadata part holds a few short fields


def _metadata_problem(raw) -> tuple[dict | None, str | None]:
    """The metadata part as a dict, or why it is not one."""
    if not isinstance(raw, str):
        return None, "Must be a JSON object sent as a text part."
    if len(raw) > METADATA_MAX_CHARS:
        return None, f"Too large: at most {METADATA_MAX_CHARS} characters."
    try:
        metadata = json.loads(raw)
    except RecursionError:
        return None, "Nested too deeply."
    except ValueError:
        return None, "Not valid JSON."
    if not isinstance(metadata, dict):
        return None, "Must be a JSON object."
    return metadata, None


class CallListApi(CompanyMixin, ListAPIView):
    """GET: the company's calls, newest first. POST: upload one call (multipart: `audio` + metadata fields, or
    `audio` + a `metadata` part holding the same fields as JSON); answers 202 with the call as soon as it is stored.
    A repeat of the same `external_id`, or of the same audio without one, answers with that same call and
    `"duplicate": true` (`"created": false`): retrying a POST is safe."""

    serializer_class = CallOutputSerializer
    filterset_class = CallFilter
    parser_classes = [MultiPartParser, FormParser]
    permission_classes = [*ListAPIView.permission_classes, CanWrite]

    def get_queryset(self) -> QuerySet[Call]:
        return call_list(company=self.company)

    @extend_schema(
        request={"multipart/form-data": CallUploadInputSerializer},
        responses={
            202: CallUploadOutputSerializer,
            400: OpenApiResponse(description="error body with field details"),
            409: OpenApiResponse(description="this external id already has another recording"),
        },
    )
    def post(self, request: Request) -> Response:
        data = {key: request.data.get(key) for key in request.data if key != "metadata"}
        if "metadata" in request.data:
            metadata, problem = _metadata_problem(request.data["metadata"])
            if problem is not None:
                return Response(error_body("invalid", "Invalid input.", {"metadata": [problem]}), status=400)
            data = {**metadata, **data}
        data["audio"] = request.FILES.get("audio")
        serializer = CallUploadInputSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        operator = self._operator(values)
        result = call_upload(
            company=self.company,
            audio=values["audio"],
            filename=values["audio"].name,
            direction=values["direction"],
            started_at=values["started_at"],
            external_id=values["external_id"],
            operator=operator,
            customer_phone=values["customer_phone"],
        )
        body = CallOutputSerializer(call_list(company=self.company).get(pk=result.call.pk)).data
        return Response(
            {**body, "created": result.created, "duplicate": result.duplicate}, status=status.HTTP_202_ACCEPTED
        )

    def _operator(self, values: dict):
        operators = operator_list(company=self.company)
        if values["operator_id"] is not None:
            operator = operators.filter(pk=values["operator_id"]).first()
            if operator is None:
                raise serializers.ValidationError({"operator_id": ["No such operator."]})
            return operator
        if values["operator_extension"]:
            operator = operators.filter(pbx_extension=values["operator_extension"]).first()
            if operator is None:
                raise serializers.ValidationError({"operator_extension": ["No operator has this extension."]})
            return operator
        return None


class CallDetailApi(CompanyMixin, RetrieveAPIView):
    serializer_class = CallOutputSerializer

    def get_queryset(self) -> QuerySet[Call]:
        return call_list(company=self.company)


class UtteranceOutputSerializer(serializers.Serializer):
    speaker = serializers.CharField()
    start_ms = serializers.IntegerField()
    end_ms = serializers.IntegerField()
    text = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)


class TranscriptOutputSerializer(serializers.Serializer):
    engine = serializers.CharField()
    language = serializers.CharField()
    language_probability = serializers.FloatField(allow_null=True)
    low_confidence = serializers.BooleanField()
    speaker_method = serializers.CharField()
    duration_ms = serializers.IntegerField()
    notes = serializers.ListField(child=serializers.CharField())
    metrics = serializers.DictField()
    utterances = UtteranceOutputSerializer(many=True)


METRIC_FIELDS = [
    "operator_talk_seconds",
    "customer_talk_seconds",
    "talk_ratio",
    "silence_share",
    "longest_silence_seconds",
    "overtalk_seconds",
    "interruptions",
    "operator_words_per_minute",
    "first_operator_word_seconds",
    "longest_customer_monologue_seconds",
]


class CallTranscriptApi(CompanyMixin, APIView):
    """A call's transcript as operator / customer turns with times, and its timing metrics (404 until transcribed).
    `low_confidence: true` means the text is not reliable (e.g. Uzbek from the offline engine)."""

    @extend_schema(responses=TranscriptOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        try:
            call = call_get(company=self.company, call_id=pk)
        except Call.DoesNotExist as exc:
            raise Http404 from exc
        transcript = call_transcript(call=call)
        if transcript is None:
            return Response(error_body("not_found", "This call has no transcript yet."), status=404)
        data = {
            "engine": transcript.engine,
            "language": transcript.language,
            "language_probability": transcript.language_probability,
            "low_confidence": transcript.low_confidence,
            "speaker_method": transcript.speaker_method,
            "duration_ms": transcript.duration_ms,
            "notes": transcript.notes,
            "metrics": {name: getattr(call, name) for name in METRIC_FIELDS},
            "utterances": list(call_utterances(call=call)),
        }
        return Response(TranscriptOutputSerializer(data).data)


class PbxPushInputSerializer(serializers.Serializer):
    uuid = serializers.CharField(max_length=128)
    event = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")


# OnlinePBX names the end of a call differently across versions; anything else (ringing, answer) is acknowledged only.
CALL_END_EVENTS = {"", "call_end", "call_finished", "hangup", "end"}


class PbxWebhookApi(APIView):
    """The PBX's 'call finished' push. Authenticated by the secret in the URL (one per company, rotated in the
    console); schedules a fetch of that call from the PBX and answers 202."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(request=PbxPushInputSerializer, responses={202: None, 400: None, 404: None})
    def post(self, request: Request, secret: str) -> Response:
        account = pbx_account_for_push_secret(raw=secret)
        if account is None:
            return Response(error_body("not_found", "Not found."), status=404)
        data = request.data if isinstance(request.data, dict) else {}
        payload = {"uuid": data.get("uuid") or data.get("call_uuid"), "event": data.get("event", "")}
        serializer = PbxPushInputSerializer(data=payload)
        serializer.is_valid(raise_exception=True)
        event = serializer.validated_data["event"].lower()
        if event not in CALL_END_EVENTS:
            return Response({"queued": False, "reason": f"event {event!r} is not a call end"}, status=202)
        from calls.tasks import pbx_fetch_call_task
        from dialix.queueing import task_enqueue

        call_uuid = serializer.validated_data["uuid"]
        company_id = account.company_id
        # In process the fetch runs here: a PBX that is down is recorded on the push's sync run, never a 500.
        transaction.on_commit(lambda: task_enqueue(pbx_fetch_call_task, company_id, call_uuid, company_id=company_id))
        return Response({"queued": True, "uuid": call_uuid}, status=202)
