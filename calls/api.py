"""The calls API (issue 13): calls with filters, cursor pages and `expand=`; a call's transcript, turns, analysis,
scorecards and recording link; the actions re-transcribe, re-analyse, correct an item and mark reviewed (callers
that may write: companies.api_permissions.CanWrite); uploads and the PBX's push."""

import datetime as dt
import json
from urllib.parse import urlencode

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.db.models import QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import permissions, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls.filters import CallFilter
from calls.models import Call, Direction, Utterance
from calls.recording_links import RECORDING_LINK_MAX_AGE, recording_link_signature
from calls.selectors import (
    API_EXPANSIONS,
    call_analysis,
    call_api_list,
    call_get,
    call_item_result,
    call_list,
    call_scorecards,
    call_transcript,
    call_utterances,
)
from calls.serializers import (
    AnalysisOutputSerializer,
    CallExpandedOutputSerializer,
    CallOutputSerializer,
    ScorecardOutputSerializer,
    UtteranceOutputSerializer,
)
from calls.services.analysis import calls_reanalyse, item_result_override
from calls.services.review import review_mark_reviewed
from calls.services.transcription import calls_retranscribe
from calls.services.upload import EXTERNAL_ID_HELP, call_upload, external_id_problem
from checklists.models import Answer, ItemResult
from companies.api_auth import CompanyRateThrottle, KeyedRateThrottle, TokenPrincipal
from companies.api_permissions import CanWrite
from companies.audit import AuditEvent, audit_access, audit_access_once
from companies.tenancy import CompanyMixin
from dialix.api_errors import ErrorSerializer, error_body, error_responses
from dialix.api_pagination import StableCursorPagination
from dialix.security import (
    PUSH_SIGNATURE_HEADER,
    client_ip,
    failure_record,
    failure_wait_seconds,
    push_signature_parts,
    push_signature_valid,
)
from integrations.services import pbx_account_for_push_key_id, pbx_account_for_push_secret
from operators.selectors import operator_list


class CallUploadOutputSerializer(CallOutputSerializer):
    created = serializers.BooleanField(help_text="This request created the call.")
    duplicate = serializers.BooleanField(
        help_text="The same external id (or the same audio without one) was uploaded before: this is that call."
    )

    class Meta(CallOutputSerializer.Meta):
        fields = [*CallOutputSerializer.Meta.fields, "created", "duplicate"]


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


EXPAND_PARAMETER = OpenApiParameter(
    "expand",
    {"type": "array", "items": {"type": "string", "enum": list(API_EXPANSIONS)}},
    style="form",
    explode=False,
    description="Sub-resources to put inline, comma-separated: `analysis`, `scorecards`, `transcript` (the turns, as "
    "`utterances`). Fetched for the whole page at once.",
)
ORDERINGS = {
    "-started_at": ("-started_at", "-id"),
    "started_at": ("started_at", "id"),
    "-score": ("-score_rank", "-id"),
    "score": ("score_rank", "id"),
}
ORDERING_PARAMETER = OpenApiParameter(
    "ordering",
    str,
    enum=list(ORDERINGS),
    description="`-started_at` (default: newest first), `started_at`, `-score` (best first; unscored last) or `score`.",
)
CALL_LIST_ERRORS = error_responses(400, 401, 403, 404)
CALL_ERRORS = error_responses(401, 403, 404)
ACTION_ERRORS = error_responses(401, 403, 404, 409)


def _expansions(request: Request) -> frozenset[str]:
    asked = {part.strip() for value in request.query_params.getlist("expand") for part in value.split(",")}
    asked.discard("")
    unknown = sorted(asked - set(API_EXPANSIONS))
    if unknown:
        raise serializers.ValidationError(
            {"expand": [f"Unknown: {', '.join(unknown)}. Choose among {', '.join(API_EXPANSIONS)}."]}
        )
    return frozenset(asked)


def _actor(request: Request) -> tuple[object | None, str]:
    """The person acting (None for a token nobody is named on) and how the call's history names the caller."""
    if isinstance(request.user, TokenPrincipal):
        return getattr(request.user.token, "created_by", None), f"api {request.user.username}"
    return request.user, f"user:{request.user.get_username()}"


class CallCursorPagination(StableCursorPagination):
    """Cursor paging of calls in the order asked with `ordering` (ties broken by id)."""

    def get_ordering(self, request, queryset, view) -> tuple[str, ...]:
        value = request.query_params.get("ordering", "-started_at")
        if value not in ORDERINGS:
            raise serializers.ValidationError({"ordering": [f"Choose among {', '.join(ORDERINGS)}."]})
        return ORDERINGS[value]

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [p for p in super().get_schema_operation_parameters(view) if p["name"] != "ordering"]


class CallListApi(CompanyMixin, ListAPIView):
    """GET: the company's calls, newest first, filtered and cursor-paged (`next` / `previous` links; a page never
    repeats or skips a call when new ones arrive). POST: upload one call (multipart: `audio` + metadata fields, or
    `audio` + a `metadata` part holding the same fields as JSON); answers 202 with the call as soon as it is stored.
    A repeat of the same `external_id`, or of the same audio without one, answers with that same call and
    `"duplicate": true` (`"created": false`): retrying a POST is safe."""

    serializer_class = CallExpandedOutputSerializer
    filterset_class = CallFilter
    pagination_class = CallCursorPagination
    parser_classes = [MultiPartParser, FormParser]
    permission_classes = [*ListAPIView.permission_classes, CanWrite]

    def get_throttles(self) -> list:
        throttles = super().get_throttles()
        if self.request.method == "POST":  # uploads per company (DIALIX_UPLOAD_RATE), on top of the per-token rate
            throttles.append(CompanyRateThrottle("upload"))
        return throttles

    def get_queryset(self) -> QuerySet[Call]:
        if getattr(self, "swagger_fake_view", False):  # the schema's look at the view: no company
            return Call._default_manager.none()
        calls = call_api_list(company=self.company, expand=self._expand)
        if self.request.query_params.get("ordering") in ("score", "-score"):
            calls = calls.annotate(score_rank=Coalesce("score", Value(-1.0)))
        return calls

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "expand": self._expand}

    def list(self, request: Request, *args, **kwargs) -> Response:
        self._expand = _expansions(request)
        return super().list(request, *args, **kwargs)

    @extend_schema(
        parameters=[EXPAND_PARAMETER, ORDERING_PARAMETER],
        responses={200: CallExpandedOutputSerializer(many=True), **CALL_LIST_ERRORS},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    _expand: frozenset[str] = frozenset()

    @extend_schema(
        request={"multipart/form-data": CallUploadInputSerializer},
        responses={202: CallUploadOutputSerializer, **error_responses(400, 401, 403, 409, 429)},
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
        body = CallOutputSerializer(call_api_list(company=self.company).get(pk=result.call.pk)).data
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


class CallCompanyApi(CompanyMixin, APIView):
    """Base of a call's sub-resources: the call of the URL, in the caller's company (404 otherwise)."""

    def get_call(self, pk: int, *, expand: frozenset[str] = frozenset()) -> Call:
        try:
            return call_api_list(company=self.company, expand=expand).get(pk=pk)
        except Call.DoesNotExist as exc:
            raise Http404 from exc


class CallDetailApi(CallCompanyApi):
    """One call; `expand=` puts its analysis, scorecards and transcript turns inline."""

    @extend_schema(parameters=[EXPAND_PARAMETER], responses={200: CallExpandedOutputSerializer, **CALL_LIST_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        expand = _expansions(request)
        call = self.get_call(pk, expand=expand)
        if "transcript" in expand and call.text_deleted_at is None:
            audit_access_once(request, call, AuditEvent.TRANSCRIPT_OPENED, {"via": "api"})
        return Response(CallExpandedOutputSerializer(call, context={"expand": expand, "request": request}).data)


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


class CallTranscriptApi(CallCompanyApi):
    """A call's transcript as operator / customer turns with times, and its timing metrics (404 until transcribed).
    `low_confidence: true` means the text is not reliable (e.g. Uzbek from the offline engine). For long calls page
    through the turns with `utterances/` instead."""

    @extend_schema(
        responses={
            200: TranscriptOutputSerializer,
            **CALL_ERRORS,
            410: OpenApiResponse(ErrorSerializer, description="The retention policy removed the transcript."),
        }
    )
    def get(self, request: Request, pk: int) -> Response:
        call = self.get_call(pk)
        if call.text_deleted_at is not None:  # the call and figures stay, the words are gone (calls.services.retention)
            removed = f"{call.text_deleted_at:%Y-%m-%d}"
            message = f"The transcript was removed on {removed} by the company's retention policy."
            return Response(error_body("transcript_removed", message), status=410)
        transcript = call_transcript(call=call)
        if transcript is None:
            return Response(error_body("not_found", "This call has no transcript yet."), status=404)
        audit_access_once(request, call, AuditEvent.TRANSCRIPT_OPENED, {"via": "api"})
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
        return Response(TranscriptOutputSerializer(data, context={"request": request}).data)


class UtteranceCursorPagination(StableCursorPagination):
    ordering = ("start_ms", "id")


class CallUtteranceListApi(CompanyMixin, ListAPIView):
    """A call's transcript turns in time order, cursor-paged (empty until transcribed)."""

    serializer_class = UtteranceOutputSerializer
    pagination_class = UtteranceCursorPagination
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Utterance._default_manager.none()
        try:
            call = call_get(company=self.company, call_id=self.kwargs["pk"])
        except Call.DoesNotExist as exc:
            raise Http404 from exc
        if call.text_deleted_at is None:
            audit_access_once(self.request, call, AuditEvent.TRANSCRIPT_OPENED, {"via": "api"})
        return call_utterances(call=call)

    @extend_schema(responses={200: UtteranceOutputSerializer(many=True), **CALL_LIST_ERRORS})
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class CallAnalysisApi(CallCompanyApi):
    """What happened on the call: summary, sentiments with reasons, purpose, outcome, topics, engine, tokens and
    cost (404 until analysed)."""

    @extend_schema(responses={200: AnalysisOutputSerializer, **CALL_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        analysis = call_analysis(call=self.get_call(pk))
        if analysis is None:
            return Response(error_body("not_found", "This call has not been analysed yet."), status=404)
        return Response(AnalysisOutputSerializer(analysis, context={"request": request}).data)


class CallScorecardListApi(CallCompanyApi):
    """The call's scorecards, one per checklist version it was scored with, each item with the answer that counts,
    its evidence, the machine's answer and a supervisor's correction (who, when, why)."""

    @extend_schema(responses={200: ScorecardOutputSerializer(many=True), **CALL_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        scorecards = call_scorecards(call=self.get_call(pk))
        return Response(ScorecardOutputSerializer(scorecards, many=True, context={"request": request}).data)


class CallRecordingApi(CallCompanyApi):
    """A short-lived link to the call's recording (never the audio itself): valid for `expires_in` seconds, without
    the token; ask again for a new one. 404 when the call has no recording."""

    @extend_schema_serializer(component_name="RecordingLink")
    class OutputSerializer(serializers.Serializer):
        url = serializers.CharField(help_text="Absolute URL of the audio; supports HTTP Range requests.")
        expires_at = serializers.DateTimeField()
        expires_in = serializers.IntegerField(help_text="Seconds the link stays valid.")

    @extend_schema(responses={200: OutputSerializer, **CALL_ERRORS}, operation_id="calls_recording_link")
    def get(self, request: Request, pk: int) -> Response:
        call = self.get_call(pk)
        if not call.recording:
            return Response(error_body("not_found", "This call has no recording."), status=404)
        storage = call.recording.storage
        if isinstance(storage, FileSystemStorage):
            signature = recording_link_signature(company_id=call.company_id, call_id=call.pk)
            path = reverse("call_pages:recording", args=[call.pk])
            url, seconds = request.build_absolute_uri(f"{path}?{urlencode({'sig': signature})}"), RECORDING_LINK_MAX_AGE
        else:  # a bucket signs its own URL for the storage's expiration
            expiration = getattr(storage, "expiration", None)
            seconds = int(expiration.total_seconds()) if expiration is not None else RECORDING_LINK_MAX_AGE
            url = call.recording.url
        expires_at = timezone.now() + dt.timedelta(seconds=seconds)
        return Response(self.OutputSerializer({"url": url, "expires_at": expires_at, "expires_in": seconds}).data)


class CallRetranscribeApi(CallCompanyApi):
    """Transcribe the call again (and then analyse it; supervisors' corrections are kept). 202 with the call, now
    waiting for transcription; 409 when the call has no recording or is being processed."""

    permission_classes = [*APIView.permission_classes, CanWrite]

    @extend_schema(request=None, responses={202: CallOutputSerializer, **ACTION_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        self.get_call(pk)
        _, by = _actor(request)
        if not calls_retranscribe(calls=call_list(company=self.company).filter(pk=pk, text_deleted_at=None), by=by):
            return Response(
                error_body("not_possible", "This call cannot be transcribed again now (no recording, or busy)."),
                status=409,
            )
        audit_access(request, self.get_call(pk), AuditEvent.CALL_RETRANSCRIBED, {"via": "api"})
        return Response(CallOutputSerializer(self.get_call(pk)).data, status=status.HTTP_202_ACCEPTED)


class CallReanalyseApi(CallCompanyApi):
    """Analyse the call again from its transcript; supervisors' corrections are kept. 202 with the call; 409 when it
    has no transcript or is being processed."""

    permission_classes = [*APIView.permission_classes, CanWrite]

    @extend_schema(request=None, responses={202: CallOutputSerializer, **ACTION_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        self.get_call(pk)
        _, by = _actor(request)
        if not calls_reanalyse(
            calls=call_list(company=self.company).filter(pk=pk, text_deleted_at=None),
            by=by,
            reason="re-analysis asked for (API)",
        ):
            return Response(
                error_body("not_possible", "This call cannot be analysed again now (no transcript, or busy)."),
                status=409,
            )
        audit_access(request, self.get_call(pk), AuditEvent.CALL_REANALYSED, {"via": "api"})
        return Response(CallOutputSerializer(self.get_call(pk)).data, status=status.HTTP_202_ACCEPTED)


class CallReviewApi(CallCompanyApi):
    """Mark the call's scorecards reviewed. 200 with the call; 409 when someone else is reviewing it or it was
    reviewed already."""

    permission_classes = [*APIView.permission_classes, CanWrite]

    @extend_schema(request=None, responses={200: CallOutputSerializer, **ACTION_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        self.get_call(pk)
        person, _ = _actor(request)
        review_mark_reviewed(company=self.company, call_id=pk, by=person)
        return Response(CallOutputSerializer(self.get_call(pk)).data)


class CallItemCorrectApi(CallCompanyApi):
    """Correct one item of the call's scorecards (a supervisor's answer with a reason). The machine's answer is kept
    beside it, the score is recomputed; answers 200 with the item's scorecard."""

    permission_classes = [*APIView.permission_classes, CanWrite]

    class InputSerializer(serializers.Serializer):
        answer = serializers.ChoiceField(choices=[(a, a.label) for a in (Answer.MET, Answer.NOT_MET, Answer.NA)])
        reason = serializers.CharField(max_length=2000, help_text="Why the answer is changed.")

    @extend_schema(
        request=InputSerializer, responses={200: ScorecardOutputSerializer, **error_responses(400, 401, 403, 404)}
    )
    def post(self, request: Request, pk: int, result_id: int) -> Response:
        call = self.get_call(pk)
        try:
            call_item_result(call=call, result_id=result_id)
        except ItemResult.DoesNotExist as exc:
            raise Http404 from exc
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        person, _ = _actor(request)
        result = item_result_override(
            company=self.company,
            result_id=result_id,
            answer=serializer.validated_data["answer"],
            reason=serializer.validated_data["reason"],
            by=person,
        )
        scorecard = next(s for s in call_scorecards(call=call) if s.pk == result.scorecard_id)
        return Response(ScorecardOutputSerializer(scorecard, context={"request": request}).data)


class PbxPushInputSerializer(serializers.Serializer):
    uuid = serializers.CharField(max_length=128)
    event = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")


class PbxPushOutputSerializer(serializers.Serializer):
    queued = serializers.BooleanField()
    uuid = serializers.CharField(required=False)
    reason = serializers.CharField(required=False)


# OnlinePBX names the end of a call differently across versions; anything else (ringing, answer) is acknowledged only.
CALL_END_EVENTS = {"", "call_end", "call_finished", "hangup", "end"}


class PbxWebhookApi(APIView):
    """The PBX's 'call finished' push; schedules a fetch of that call from the PBX and answers 202. The webhook
    secret (one per company, rotated in the console) comes in a header: `Authorization: Bearer <secret>`, or, for a
    PBX that signs, `X-Dialix-Signature: t=<unix seconds>,kid=<key id>,v1=<hex HMAC-SHA256 of "<t>." + raw body>`.
    The older form with the secret in the URL stays for PBXs that cannot send headers (access logs never show it:
    dialix.security.RedactSecretsFilter). Wrong secrets from one address are throttled (429), and so are pushes per
    account (DIALIX_PBX_PUSH_RATE)."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        request=PbxPushInputSerializer,
        responses={202: PbxPushOutputSerializer, **error_responses(400, 404, 429)},
        deprecated=True,
        description="The secret in the URL: only for a PBX that cannot send headers. Prefer POST /api/v1/pbx/webhook/.",
    )
    def post(self, request: Request, secret: str | None = None) -> Response:
        ip = client_ip(request)
        limit = settings.DIALIX_PUSH_FAILURES_PER_MINUTE
        wait = failure_wait_seconds(scope="pbx_push", ident=ip, limit=limit)
        if wait:
            self.throttled(request, wait)
        account = self._account(request, secret)
        if account is None:
            failure_record(scope="pbx_push", ident=ip)
            if secret is not None:
                return Response(error_body("not_found", "Not found."), status=404)
            return Response(
                error_body(
                    "not_authenticated",
                    "Send the webhook secret as 'Authorization: Bearer <secret>' or sign "
                    "the body (X-Dialix-Signature).",
                ),
                status=401,
            )
        throttle = KeyedRateThrottle("pbx_push", f"account-{account.pk}")
        if not throttle.allow_request(request, self):
            self.throttled(request, throttle.wait())
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

    @staticmethod
    def _account(request: Request, secret: str | None):
        if secret is not None:
            return pbx_account_for_push_secret(raw=secret)
        signature = request.headers.get(PUSH_SIGNATURE_HEADER, "")
        if signature:
            parts = push_signature_parts(signature)
            body = request.body  # the raw bytes the PBX signed, read before the parsers consume the stream
            account = pbx_account_for_push_key_id(key_id=parts.get("kid", ""))
            if account is None or not push_signature_valid(
                signing_key=account.push_secret_hash,
                timestamp=parts.get("t", ""),
                body=body,
                signature=parts.get("v1", ""),
            ):
                return None
            return account
        header = request.headers.get("Authorization", "").split()
        if len(header) == 2 and header[0].lower() == "bearer":
            return pbx_account_for_push_secret(raw=header[1])
        return None


class PbxPushApi(PbxWebhookApi):
    """The PBX's push with the secret in a header: `Authorization: Bearer <secret>` or a body signature."""

    @extend_schema(
        operation_id="v1_pbx_push_create",
        request=PbxPushInputSerializer,
        responses={202: PbxPushOutputSerializer, **error_responses(400, 401, 429)},
        parameters=[
            OpenApiParameter(
                PUSH_SIGNATURE_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=False,
                description='`t=<unix seconds>,kid=<key id>,v1=<hex HMAC-SHA256 of "<t>." + raw body>`, instead of '
                "the Bearer secret.",
            )
        ],
    )
    def post(self, request: Request, secret: str | None = None) -> Response:
        return super().post(request)
