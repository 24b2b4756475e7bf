"""A captured Sentry event holds no phone number, transcript text or secret (issue 16, item 7).

A local fake of Sentry's ingest API (a real HTTP server taking the SDK's envelopes) receives what the real SDK sends
from a separate process started on the test settings with ``SENTRY_DSN`` pointing at the fake, i.e. through the
settings' own ``sentry_init``. In that process a view and a Celery task fail while a phone number and transcript
text sit in their locals, the request (body, query, headers, cookies) and a log record's ``extra``; the envelopes
are then searched byte for byte for any of it.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from celery import shared_task
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from dialix.sentry import Scrubber

ROOT = Path(__file__).resolve().parents[1]
TRANSCRIPT = "Assalomu alaykum, mening kartam raqamini bloklab qoʻying, iltimos tezroq"
TRANSCRIPT_WORD = "bloklab"
PHONES = ["+998 90 123-45-67", "998901234567", "901234567"]
API_TOKEN = "dlx_0123456789abcdefSECRETTOKEN"  # noqa: S105 - test values
PUSH_SECRET = "pbxhook_Zq9SECRETpushvalue"  # noqa: S105
SESSION = "sessionSECRETcookievalue"
OPENAI_KEY = "openai-SECRET-key-value-42"
logger = logging.getLogger("tests.test_sentry")


# --- what the child process runs --------------------------------------------------------------------------------------


@csrf_exempt
def failing_view(request: HttpRequest, secret: str) -> HttpResponse:
    transcript_text = TRANSCRIPT  # in the frame's locals
    customer_phone = PHONES[0]
    logger.info("call_opened", extra={"call_id": 7, "customer_phone": customer_phone, "text": transcript_text})
    logger.error(
        "call_analysis_crashed",
        extra={"company_id": 1, "call_id": 7, "transcript": transcript_text, "caller": PHONES[1], "note": TRANSCRIPT},
    )
    raise RuntimeError(f"analysis failed for {customer_phone} / {PHONES[2]} with key {OPENAI_KEY}")


urlpatterns = [path("pbx/webhook/<str:secret>/", failing_view)]


@shared_task(name="tests.test_sentry.failing_task")
def failing_task(customer_phone: str) -> None:
    utterance = TRANSCRIPT  # noqa: F841 - in the frame's locals, as a task's would be
    raise ValueError(f"could not reach {customer_phone}")


CHILD = f"""
import io, json
from wsgiref.util import setup_testing_defaults
from django.core.wsgi import get_wsgi_application
from django.conf import settings
application = get_wsgi_application()  # the production entry point, which Sentry's Django integration wraps
settings.ROOT_URLCONF = "tests.test_sentry"
body = json.dumps({{"transcript": {TRANSCRIPT!r}, "phone": {PHONES[0]!r}}}).encode()
environ = {{
    "REQUEST_METHOD": "POST",
    "PATH_INFO": "/pbx/webhook/{PUSH_SECRET}/",
    "QUERY_STRING": "phone=998901234567&q={TRANSCRIPT_WORD}",
    "CONTENT_TYPE": "application/json",
    "CONTENT_LENGTH": str(len(body)),
    "wsgi.input": io.BytesIO(body),
    "wsgi.url_scheme": "https",
    "HTTP_HOST": "testserver",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_AUTHORIZATION": "Bearer {API_TOKEN}",
    "HTTP_X_CUSTOMER_PHONE": {PHONES[1]!r},
    "HTTP_COOKIE": "csrftoken={SESSION}; other=1",
    "HTTP_USER_AGENT": "probe/1.0",
}}
setup_testing_defaults(environ)
statuses = []
b"".join(application(environ, lambda status, headers, exc_info=None: statuses.append(status)))
assert statuses[0].startswith("500"), statuses
from tests.test_sentry import failing_task
try:
    failing_task.apply(args=[{PHONES[1]!r}])  # eager errors propagate in the test settings
except ValueError:
    pass
import sentry_sdk
assert sentry_sdk.is_initialized()
sentry_sdk.flush(timeout=10)
"""


# --- the fake ingest server -------------------------------------------------------------------------------------------


class FakeSentry(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server_address[1]}/1"

    def items(self) -> list[tuple[dict, bytes]]:
        """Every (item header, payload) of every envelope received (the envelope format: a JSON header line, then
        per item a JSON header line and its payload, whose length the header gives or a newline ends)."""
        found = []
        for body in self.bodies:
            lines = body.split(b"\n", 1)[1]
            while lines.strip():
                header_line, rest = lines.split(b"\n", 1)
                header = json.loads(header_line)
                if "length" in header:
                    payload, lines = rest[: header["length"]], rest[header["length"] + 1 :]
                else:
                    payload, _, lines = rest.partition(b"\n")
                found.append((header, payload))
        return found


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        elif encoding == "br":
            import brotli

            raw = brotli.decompress(raw)
        self.server.bodies.append(raw)
        self.server.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


def test_captured_events_hold_no_phone_transcript_or_secret(tmp_path):
    server = FakeSentry()
    server.thread.start()
    try:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dialix.settings.test",
            "SENTRY_DSN": server.dsn,
            "OPENAI_API_KEY": OPENAI_KEY,
            "SENTRY_ENVIRONMENT": "test",
        }
        child = subprocess.run(
            [sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert child.returncode == 0, child.stderr[-3000:]
    finally:
        server.shutdown()
        server.server_close()

    everything = b"\n".join(server.bodies).decode("utf-8", errors="replace")
    events = [json.loads(payload) for header, payload in server.items() if header.get("type") == "event"]
    # The events really came: the view's exception with its request, its error log line, and the task's failure.
    kinds = {(e.get("exception") or {"values": [{"type": "log"}]})["values"][-1]["type"] for e in events}
    assert {"RuntimeError", "ValueError", "log"} <= kinds, kinds
    view_event = next(e for e in events if e.get("exception", {}).get("values", [{}])[-1].get("type") == "RuntimeError")
    assert view_event["request"]["url"] == "https://testserver/pbx/webhook/[Filtered]/"
    assert view_event["request"]["method"] == "POST"
    assert view_event["request"]["headers"]["User-Agent"] == "probe/1.0"
    assert set(view_event["request"]) == {"url", "method", "headers"}  # no body, cookies, query string, env
    assert "[PHONE]" in view_event["exception"]["values"][-1]["value"]
    log_event = next(e for e in events if "exception" not in e)
    assert log_event["extra"]["call_id"] == 7 and log_event["extra"]["transcript"] == "[Filtered]"
    assert server.paths and all(p.startswith("/api/1/envelope/") for p in server.paths)

    for forbidden in [
        TRANSCRIPT,
        TRANSCRIPT_WORD,
        *PHONES,
        "90 123",
        "1234567",
        API_TOKEN,
        PUSH_SECRET,
        SESSION,
        OPENAI_KEY,
        "test-only-not-secret",  # the test settings' SECRET_KEY
    ]:
        assert forbidden not in everything, f"{forbidden!r} reached Sentry"


def test_scrubber_keeps_ids_and_codes_and_masks_the_rest():
    scrub = Scrubber(secrets=["s3cr3t-value"])
    event = {
        "extra": {"company_id": 3, "call_id": 9, "code": "stt_unavailable", "reason": "timeout s3cr3t-value"},
        "request": {"url": "https://x/api/v1/calls/?phone=1", "headers": {"Authorization": "Bearer a", "Host": "x"}},
        "breadcrumbs": {"values": [{"category": "query", "message": "SELECT 1", "data": {"params": ["998901234567"]}}]},
        "user": {"id": 5, "email": "a@b.uz", "ip_address": "1.2.3.4"},
        "message": "mail me at boss@bank.uz",
    }
    out = scrub.event(event)
    assert out["extra"] == {"company_id": 3, "call_id": 9, "code": "stt_unavailable", "reason": "timeout [Filtered]"}
    assert out["request"] == {"url": "https://x/api/v1/calls/", "headers": {"Host": "x"}}
    assert out["breadcrumbs"]["values"][0]["data"] == {}
    assert out["user"] == {"id": 5}
    assert out["message"] == "mail me at [EMAIL]"
