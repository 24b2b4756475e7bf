"""Sentry error tracking, on when SENTRY_DSN is set (settings call ``sentry_init``); nothing is sent otherwise.

What never leaves: transcript text, phone numbers (and any other run of 9+ digits: cards, passports, PINFL), e-mail
addresses, secrets (our settings' keys, API tokens, PBX push secrets, bearer values), cookies, auth headers, request
bodies and query strings. The SDK is told not to collect most of it (``send_default_pii=False``, no request bodies,
no local variables); ``Scrubber`` removes the rest from whatever an integration or a log record put in:

- request: only harmless headers are kept; no body, cookies, query string; secrets in the URL path are masked;
- ``extra`` and breadcrumb ``data`` (a log record's ``extra``): ids, codes and a few known scalar keys are kept,
  every other key is "[Filtered]", whatever it is called, so a transcript under a new name does not slip through;
- stack frames lose ``vars`` (local variables) even if an integration added them;
- every remaining string: digit runs, e-mails, secrets and bearer values are masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FILTERED = "[Filtered]"
# A phone number in any writing (+998 90 123-45-67, 998901234567, (90) 1234567), a card or a PINFL: 9+ digits,
# optionally separated by spaces, dashes, dots or brackets. Epoch seconds are masked too: a small price.
_DIGITS = re.compile(r"(?<![A-Za-z0-9])\+?\d(?:[\s\-.()]*\d){8,}(?![A-Za-z0-9])")  # not inside a hex id
_BEARER = re.compile(r"(?i)\b(bearer|token|basic)\s+[\w\-.~+/=:]{6,}")
_KNOWN_SECRETS = re.compile(r"\b(?:pbxhook_|dlx_|sk-|whsec_)[\w\-]{6,}")  # push secrets, API tokens, vendor keys
# Path segments after these parts of a URL are secrets (the PBX push form /pbx/webhook/<secret>/, set-password links).
_SECRET_PATH = re.compile(r"(/(?:webhook|set-password|reset|token)s?/)[^/?#]+(?:/[^/?#]+)?")
SAFE_HEADERS = frozenset({"accept", "accept-language", "content-length", "content-type", "host", "user-agent"})
SAFE_HEADERS |= {"x-request-id"}
# extra / breadcrumb data keys kept as they are (values still masked): what our log lines carry besides ids.
SAFE_KEYS = frozenset(
    {
        "task",
        "task_name",
        "step",
        "engine",
        "code",
        "state",
        "status",
        "kind",
        "reading",
        "check",
        "seconds",
        "attempts",
        "is_new",
        "scope",
        "language",
        "queue",
        "event",
        "logger",
        "level",
        "method",
        "status_code",
        "reason",
        "url",
        "http.method",
        "http.query",
        "http.fragment",
    }
)


class Scrubber:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a key that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    # -- values -------------------------------------------------------------------------------------------------------
    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, FILTERED)
        value = _KNOWN_SECRETS.sub(FILTERED, value)
        value = _BEARER.sub(lambda m: f"{m.group(1)} {FILTERED}", value)
        # The product's own PII rules first (cards, phones, passports, PINFL, e-mails, spoken too), then any long digit
        # run the rules did not take as PII: an exception text may quote a transcript.
        from calls.redaction import redact_text

        value = redact_text(value)
        return _DIGITS.sub("[PHONE]", value)

    def url(self, value: str) -> str:
        value = value.split("?", 1)[0].split("#", 1)[0]
        return self.text(_SECRET_PATH.sub(lambda m: m.group(1) + FILTERED, value))

    def any(self, value: Any) -> Any:
        """Masks every string inside a value (dicts keep their keys; see ``data`` for key filtering)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.any(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.any(v) for v in value]
        return value

    def data(self, mapping: Any) -> Any:
        """``extra`` and breadcrumb data: only ids and the SAFE_KEYS keep their (masked) values."""
        if not isinstance(mapping, dict):
            return self.any(mapping)
        out: dict[str, Any] = {}
        for key, value in mapping.items():
            name = str(key).lower()
            if name in SAFE_KEYS or name.endswith(("_id", "_ids")):
                out[key] = self.url(value) if name == "url" and isinstance(value, str) else self.any(value)
            elif name == "celery-job" and isinstance(value, dict):  # the Celery integration's task name and args
                out[key] = {"task_name": self.any(value.get("task_name")), "args": FILTERED, "kwargs": FILTERED}
            else:
                out[key] = FILTERED
        return out

    # -- an event -----------------------------------------------------------------------------------------------------
    def request(self, request: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if isinstance(request.get("url"), str):
            out["url"] = self.url(request["url"])
        if isinstance(request.get("method"), str):
            out["method"] = request["method"]
        headers = request.get("headers")
        if isinstance(headers, dict):
            out["headers"] = {k: self.text(str(v)) for k, v in headers.items() if str(k).lower() in SAFE_HEADERS}
        # data (the body), cookies, query_string and env (REMOTE_ADDR and friends) are dropped.
        return out

    def frames(self, holder: Any) -> None:
        stacktrace = holder.get("stacktrace") if isinstance(holder, dict) else None
        for frame in (stacktrace or {}).get("frames") or []:
            frame.pop("vars", None)
            for field in ("pre_context", "context_line", "post_context"):  # source lines are ours, masked anyway
                if field in frame:
                    frame[field] = self.any(frame[field])

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        if isinstance(event.get("request"), dict):
            event["request"] = self.request(event["request"])
        if "extra" in event:
            event["extra"] = self.data(event["extra"])
        for value in (event.get("exception") or {}).get("values") or []:
            self.frames(value)
            if isinstance(value.get("value"), str):
                value["value"] = self.text(value["value"])
        for thread in (event.get("threads") or {}).get("values") or []:
            self.frames(thread)
        crumbs = event.get("breadcrumbs")
        if isinstance(crumbs, dict):
            crumbs["values"] = [c for c in (self.breadcrumb(c) for c in crumbs.get("values") or []) if c]
        for key in ("logentry", "message", "contexts", "tags", "user", "transaction", "spans", "fingerprint"):
            if key in event:
                event[key] = self.any(event[key])
        if isinstance(event.get("user"), dict):  # who it was, never how to reach them
            event["user"] = {k: v for k, v in event["user"].items() if k == "id"}
        return event

    def breadcrumb(self, crumb: dict[str, Any]) -> dict[str, Any] | None:
        crumb = dict(crumb)
        if isinstance(crumb.get("message"), str):
            crumb["message"] = self.text(crumb["message"])
        if "data" in crumb:
            data = crumb["data"]
            # SQL breadcrumbs: the statement keeps its placeholders; bound values are never sent.
            crumb["data"] = {} if crumb.get("category") == "query" else self.data(data)
        return crumb


_scrubber = Scrubber()


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    return _scrubber.event(event)


def before_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    return _scrubber.breadcrumb(crumb)


def sentry_init(
    *, dsn: str, environment: str, release: str | None, traces_sample_rate: float, secrets: Iterable[str]
) -> None:
    """Called by settings when SENTRY_DSN is set. ``secrets`` are values masked wherever they appear."""
    global _scrubber
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    _scrubber = Scrubber(secrets)
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=False)],
        send_default_pii=False,  # no user e-mail/name, IP address, cookies or headers from the SDK itself
        max_request_body_size="never",
        include_local_variables=False,  # locals hold transcripts and phone numbers in half the pipeline
        traces_sample_rate=traces_sample_rate,
        before_send=before_send,
        before_send_transaction=before_send,
        before_breadcrumb=before_breadcrumb,
    )
