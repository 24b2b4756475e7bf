"""One error body for every API failure: {"error": {"code", "message", "details"}}."""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from dialix.errors import DialixError

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, details: object = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _message_and_details(exc: exceptions.APIException) -> tuple[str, object]:
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        if isinstance(detail, dict):
            return "Invalid input.", detail
        return "Invalid input.", {"non_field_errors": detail if isinstance(detail, list) else [detail]}
    if isinstance(exc, exceptions.Throttled):
        # The Retry-After header says the same; a client reading only the body can still wait the right time.
        return str(detail), {"retry_after": exc.wait}
    return str(detail), {}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(details)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, DialixError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.http_status)

    response = exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        logger.exception("api_unhandled_error", extra={"view": type(view).__name__ if view else None})
        return Response(
            error_body("server_error", "Something went wrong on our side; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    assert isinstance(exc, exceptions.APIException)
    message, details = _message_and_details(exc)
    code = exc.get_codes() if not isinstance(exc, exceptions.ValidationError) else "invalid"
    if not isinstance(code, str):
        code = "invalid"
    response.data = error_body(code, message, details)
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def json_or_html_404(request: HttpRequest, exception: Exception):
    if _is_api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_or_html_500(request: HttpRequest):
    if _is_api(request):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side; it has been logged."), status=500
        )
    from django.views.defaults import server_error

    return server_error(request)


def json_or_html_403(request: HttpRequest, exception: Exception):
    if _is_api(request):
        return JsonResponse(error_body("permission_denied", str(exception) or "Permission denied."), status=403)
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)


def json_or_html_400(request: HttpRequest, exception: Exception):
    if _is_api(request):
        return JsonResponse(error_body("bad_request", "Bad request."), status=400)
    from django.views.defaults import bad_request

    return bad_request(request, exception)


# --- The error body in the OpenAPI document: every operation declares it for its error statuses ---


def _error_serializer():
    from rest_framework import serializers

    class ErrorDetailSerializer(serializers.Serializer):
        code = serializers.CharField(help_text="Machine-readable: invalid, not_found, permission_denied, ...")
        message = serializers.CharField(help_text="For people.")
        details = serializers.DictField(
            help_text="Per field: a list of messages (validation errors); otherwise context such as ids."
        )

    class ErrorSerializer(serializers.Serializer):
        error = ErrorDetailSerializer()

    return ErrorSerializer


ErrorSerializer = _error_serializer()

_ERROR_DESCRIPTIONS = {
    400: "Invalid input: `details` names each field with its messages.",
    401: "No or an invalid API token.",
    403: "Not allowed (a read-only caller, or a company that is not active).",
    404: "No such object in your company.",
    409: "The object's state does not allow this now.",
    429: "Too many requests: retry after the time in `Retry-After`.",
}


def error_responses(*statuses: int) -> dict:
    """`responses` entries of extend_schema for these error statuses, each with the one error body."""
    from drf_spectacular.utils import OpenApiResponse

    return {code: OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[code]) for code in statuses}


def _error_documenting_schema():
    from drf_spectacular.openapi import AutoSchema
    from drf_spectacular.utils import OpenApiResponse

    class ErrorDocumentingAutoSchema(AutoSchema):
        """drf-spectacular's AutoSchema that also declares, on every API operation, the errors any endpoint can
        answer (bad input, no token, not allowed, not found, throttled) with the one error body, unless the view
        declared that status itself. Generated clients then know every response they can get."""

        ALWAYS = (400, 401, 403, 404, 429)

        def _get_response_bodies(self, direction="response"):
            responses = super()._get_response_bodies(direction)
            if direction != "response" or not self.path.startswith("/api/"):
                return responses
            for code in self.ALWAYS:
                if str(code) not in responses:
                    response = OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[code])
                    responses[str(code)] = self._get_response_for_code(response, str(code), direction=direction)
            return responses

    return ErrorDocumentingAutoSchema


ErrorDocumentingAutoSchema = _error_documenting_schema()
