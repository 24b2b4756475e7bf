"""The OpenAI SDK client both OpenAI engines use (speech-to-text and analysis), and reading its error answers.

Azure OpenAI's deployment URLs want ``api_version``: it adds the ``api-version`` query and the ``api-key`` header.
The SDK never retries (``max_retries=0``): failures become typed errors and the Celery task decides, honouring
Retry-After.
"""

import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

import openai

from integrations.errors import (
    AuthFailed,
    IntegrationError,
    PermanentIntegrationError,
    RateLimited,
    TransientIntegrationError,
)
from integrations.wire import setting, snippet

DEFAULT_BASE_URL = "https://api.openai.com/v1"
CONNECT_TIMEOUT_SECONDS = 10.0
_MESSAGE_CHARS = 200
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def make_openai_client(
    *,
    api_key: str | None,
    base_url: str,
    organization: str | None,
    project: str | None,
    timeout_seconds: float,
    api_version: str | None,
) -> openai.OpenAI | None:
    """None -> the Django setting (``OPENAI_API_KEY``, ``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``,
    ``OPENAI_API_VERSION``); no key at all -> None, and the engine raises AuthFailed when asked to work."""
    key = api_key if api_key is not None else setting("OPENAI_API_KEY", "")
    version = api_version if api_version is not None else setting("OPENAI_API_VERSION", None)
    if not key:
        return None
    return openai.OpenAI(
        api_key=key,
        base_url=base_url,
        organization=organization if organization is not None else setting("OPENAI_ORG_ID", None),
        project=project if project is not None else setting("OPENAI_PROJECT_ID", None),
        timeout=openai.Timeout(timeout_seconds, connect=min(CONNECT_TIMEOUT_SECONDS, timeout_seconds)),
        max_retries=0,  # retries belong to the Celery task, which can wait as long as Retry-After says
        default_query={"api-version": version} if version else None,
        default_headers={"api-key": key} if version else None,
    )


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait: retry-after-ms, Retry-After (seconds or HTTP date), else the exhausted limit's reset."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(float(value) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(float(value), 0.0)
        except ValueError:
            try:
                return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
            except (TypeError, ValueError):
                pass
    waits = []
    for kind in ("requests", "tokens"):
        if headers.get(f"x-ratelimit-remaining-{kind}") == "0":
            wait = parse_reset_duration(headers.get(f"x-ratelimit-reset-{kind}", ""))
            if wait is not None:
                waits.append(wait)
    return max(waits) if waits else None


def parse_reset_duration(value: str) -> float | None:
    """'1s', '6m0s', '20ms', '1m7.5s', '1h2m' -> seconds (spec §1); anything else -> None."""
    value = value.strip()
    if not value:
        return None
    parts = _DURATION_PART.findall(value)
    if "".join(number + unit for number, unit in parts) != value:
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(number) * scale[unit] for number, unit in parts)


def vendor_message(body: object) -> str:
    """The ``message`` of an error body, shortened; "" when there is none."""
    message = body.get("message") if isinstance(body, dict) else None
    return snippet(message, _MESSAGE_CHARS) if isinstance(message, str) else ""


def status_error(exc: openai.APIStatusError, *, model: str) -> IntegrationError | None:
    """The mapping of an HTTP error that every OpenAI request shares, or None for what the caller must decide
    (other 4xx: the request's own fault). The vendor's message is quoted only where it cannot echo our key
    (401 messages contain a masked key)."""
    status = exc.status_code
    code = exc.code or exc.type or ""
    if status == 401:
        return AuthFailed("OpenAI rejected the API key; set a valid OPENAI_API_KEY")
    if status == 403:
        return AuthFailed(f"OpenAI refused access for this key ({code or 'HTTP 403'}), e.g. an unsupported region")
    if status == 429:
        if code == "insufficient_quota":
            return PermanentIntegrationError("OpenAI account is out of credits or over its spend limit")
        return RateLimited("OpenAI rate limit reached", retry_after=retry_after(exc.response.headers))
    if status in (408, 409) or status >= 500:
        return TransientIntegrationError(f"OpenAI answered HTTP {status} ({code or 'server error'})")
    if status == 404:
        return PermanentIntegrationError(
            f"OpenAI does not offer model {model!r} to this key or the URL is wrong ({code or 'HTTP 404'})"
        )
    return None
