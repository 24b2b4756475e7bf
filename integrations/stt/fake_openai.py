"""A fake OpenAI API: a real local HTTP server speaking the wire format of shared/specs/openai.md.

It serves ``POST /v1/audio/transcriptions`` (multipart, ``verbose_json``) with a canned transcription, checks the
``Authorization: Bearer`` key and records every request. Further endpoints go into the route table, e.g.::

    fake.routes[("POST", "/v1/chat/completions")] = my_handler  # FakeRequest -> FakeResponse

``FakeHttpServer`` is the route-table server without any OpenAI knowledge; the UzbekVoice fake builds on it too.
Where the spec marks behaviour [unconfirmed], the fake picks the most plausible shape and says so in a comment.
"""

import json
import logging
import math
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from integrations.stt.openai_stt import WHISPER_LANGUAGES

logger = logging.getLogger(__name__)

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # spec §2: 25 MiB per request
AUDIO_EXTENSIONS = frozenset({"flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "oga", "wav", "webm"})
VERBOSE_MODELS = frozenset({"whisper-1"})  # spec §2: gpt-4o-*-transcribe accept only json

# Spec §1 error bodies; the invalid-audio text is the one OpenAI returns for undecodable uploads (seen in many clients).
BAD_KEY_ERROR = {
    "message": "Incorrect API key provided: sk-wrong***0000. You can find your API key at "
    "https://platform.openai.com/account/api-keys.",
    "type": "invalid_request_error",
    "param": None,
    "code": "invalid_api_key",
}
INVALID_AUDIO_ERROR = {
    "message": "The audio file could not be decoded or its format is not supported.",
    "type": "invalid_request_error",
    "param": None,
    "code": None,
}
RATE_LIMIT_ERROR = {
    "message": "Rate limit reached for whisper-1 in organization org-abc123 on requests per min (RPM): Limit 50, "
    "Used 50, Requested 1. Please try again in 1.2s.",
    "type": "requests",
    "param": None,
    "code": "rate_limit_exceeded",
}
QUOTA_ERROR = {
    "message": "You exceeded your current quota, please check your plan and billing details.",
    "type": "insufficient_quota",
    "param": None,
    "code": "insufficient_quota",
}
SERVER_ERROR = {
    "message": "The server had an error while processing your request. Sorry about that!",
    "type": "server_error",
    "param": None,
    "code": None,
}
TOO_LARGE_ERROR = {  # status 413 is [unconfirmed] in the spec; the limit itself is documented
    "message": "Maximum content size limit (26214400) exceeded.",
    "type": "invalid_request_error",
    "param": None,
    "code": None,
}
_AUDIO_MAGIC = (b"ID3", b"OggS", b"RIFF", b"fLaC", b"\x1a\x45\xdf\xa3")


# --- generic route-table server ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    fields: dict[str, list[str]] = field(default_factory=dict)  # multipart or urlencoded form values
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def value(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Self:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Self:
        return cls(status, text.encode(), {"Content-Type": content_type})


RouteHandler = Callable[[FakeRequest], FakeResponse]


@dataclass
class _Failure:
    remaining: int
    mode: str
    path_contains: str


class FakeHttpServer:
    """A threaded stdlib HTTP server on 127.0.0.1 with a route table, queued failures and a request log.

    Subclasses set ``FAILURE_MODES``, fill ``routes`` and answer ``failure_response``. ``timeout`` is built in: it
    sleeps ``timeout_sleep_seconds`` and then answers normally (the work is done, the client gave up).
    """

    FAILURE_MODES: frozenset[str] = frozenset({"timeout"})
    server_name = "fake-http"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.routes: dict[tuple[str, str], RouteHandler] = {}
        self.requests: list[FakeRequest] = []
        self.timeout_sleep_seconds = 1.5
        self._lock = threading.RLock()
        self._failures: list[_Failure] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------------------

    def start(self) -> Self:
        class Handler(_Handler):
            pass

        Handler.fake = self
        self._server = _Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.server_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- scenario controls -------------------------------------------------------------------------------------------

    def fail_next(self, n: int, mode: str, path_contains: str = "") -> None:
        """The next ``n`` requests whose path contains ``path_contains`` fail with ``mode`` (queued in order)."""
        if mode not in self.FAILURE_MODES:
            raise ValueError(f"unknown failure mode {mode!r}; choose from {sorted(self.FAILURE_MODES)}")
        with self._lock:
            self._failures.append(_Failure(n, mode, path_contains))

    def requests_to(self, path: str, method: str | None = None) -> list[FakeRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    # --- hooks for subclasses ----------------------------------------------------------------------------------------

    def failure_response(self, mode: str, request: FakeRequest) -> FakeResponse:
        raise NotImplementedError(mode)

    def authorise(self, request: FakeRequest) -> FakeResponse | None:
        """None when the request may go on; otherwise the rejection to send."""
        return None

    def not_found(self, request: FakeRequest) -> FakeResponse:
        return FakeResponse.text("Not Found", 404)

    # --- dispatch ----------------------------------------------------------------------------------------------------

    def _handle(self, handler: "_Handler", method: str) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in handler.headers.items()}
        request = FakeRequest(method, split.path, parse_qs(split.query, keep_blank_values=True), headers, body)
        content_type = headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            request.fields, request.files = parse_multipart(body, content_type)
        elif content_type.startswith("application/x-www-form-urlencoded"):
            request.fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        with self._lock:
            self.requests.append(request)
            mode = self._take_failure(split.path)
        if mode == "timeout":
            time.sleep(self.timeout_sleep_seconds)
            mode = None
        if mode is not None:
            response = self.failure_response(mode, request)
        else:
            response = self.authorise(request)
            if response is None:
                route = self.routes.get((method, split.path))
                response = route(request) if route is not None else self.not_found(request)
        _respond(handler, response)

    def _take_failure(self, path: str) -> str | None:
        for failure in self._failures:
            if failure.path_contains in path:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                return failure.mode
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping in "timeout" mode must not hold up stop()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that give up mid-answer (timeouts) reset the connection: expected, not news.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        logger.exception("fake_http_handler_failed")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeHttp/1.0"
    timeout = 60
    fake: FakeHttpServer

    def do_POST(self) -> None:
        self.fake._handle(self, "POST")

    def do_GET(self) -> None:
        self.fake._handle(self, "GET")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake_http_request", extra={"line": format % args})


def _respond(handler: BaseHTTPRequestHandler, response: FakeResponse) -> None:
    try:
        handler.send_response(response.status)
        headers = {"Content-Type": "application/octet-stream", **response.headers}
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(response.body)))
        handler.end_headers()
        handler.wfile.write(response.body)
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, list[str]], dict[str, UploadedFile]]:
    """Split a ``multipart/form-data`` body into text fields and files (binary-safe, unlike ``email``)."""
    boundary = ""
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip('"')
    fields: dict[str, list[str]] = {}
    files: dict[str, UploadedFile] = {}
    if not boundary:
        return fields, files
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        part_headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            part_headers[name.strip().lower()] = value.strip()
        disposition = _header_params(part_headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            continue
        if "filename" in disposition:
            files[name] = UploadedFile(
                disposition["filename"], part_headers.get("content-type", "application/octet-stream"), data
            )
        else:
            fields.setdefault(name, []).append(data.decode("utf-8", "replace"))
    return fields, files


def _header_params(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in value.split(";")[1:]:
        key, _, raw = item.strip().partition("=")
        params[key.lower()] = raw.strip().strip('"')
    return params


# --- the OpenAI fake --------------------------------------------------------------------------------------------------


def words_from_turns(turns: Iterable[Mapping[str, Any]]) -> list[tuple[float, float, str]]:
    """(start, end, word) spread evenly over each ground-truth turn of ``fixtures/calls/<id>.json``."""
    words: list[tuple[float, float, str]] = []
    for turn in turns:
        tokens = str(turn["text"]).split()
        if not tokens:
            continue
        start, end = float(turn["start"]), float(turn["end"])
        step = (end - start) / len(tokens)
        for i, token in enumerate(tokens):
            words.append((round(start + i * step, 3), round(start + (i + 1) * step, 3), token))
    return words


DEFAULT_WORDS: list[tuple[float, float, str]] = [  # spec §2 example, extended to a whole sentence
    (0.0, 0.58, "Assalomu"),
    (0.58, 1.1, "alaykum,"),
    (1.34, 1.8, "Dialix"),
    (1.8, 2.3, "o'quv"),
    (2.3, 2.9, "markazi."),
    (4.1, 4.5, "Sizga"),
    (4.5, 4.9, "qanday"),
    (4.9, 5.3, "yordam"),
    (5.3, 5.6, "bera"),
    (5.6, 6.1, "olaman?"),
]


class FakeOpenAI(FakeHttpServer):
    """``base_url`` is what an OpenAI client takes (it ends in ``/v1``)."""

    FAILURE_MODES = frozenset(
        {
            "timeout",
            "http429",
            "insufficient_quota",
            "http500",
            "http503",
            "bad_key",
            "garbage",
            "schema",
            "invalid_audio",
            "too_large",
        }
    )
    server_name = "fake-openai"

    def __init__(self, *, api_key: str = "sk-test-4f2a", host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.api_key = api_key
        self.retry_after: str | None = "7"  # Retry-After sent with http429 (None: leave the header out)
        self.words: list[tuple[float, float, str]] = list(DEFAULT_WORDS)
        self.language = "uzbek"  # what "detection" answers when the request forces no language
        self.duration: float | None = None  # None: last word end + 0.5 s
        self.silent = False  # every segment looks like silence (high no_speech_prob, low avg_logprob)
        self.routes[("POST", TRANSCRIPTIONS_PATH)] = self.transcribe

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def set_transcription(
        self,
        words: Sequence[tuple[float, float, str]],
        *,
        language: str | None = None,
        duration: float | None = None,
        silent: bool = False,
    ) -> None:
        """Canned answer: words as (start s, end s, text); ``language`` is the full name Whisper reports."""
        self.words = list(words)
        if language is not None:
            self.language = language
        self.duration = duration
        self.silent = silent

    def transcription_requests(self) -> list[FakeRequest]:
        return self.requests_to(TRANSCRIPTIONS_PATH, "POST")

    # --- hooks -------------------------------------------------------------------------------------------------------

    def authorise(self, request: FakeRequest) -> FakeResponse | None:
        # Azure-style deployments send the key in ``api-key``; OpenAI itself uses the Bearer header.
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        keys = [key for key in (bearer, request.headers.get("api-key", "").strip()) if key]
        if any(secrets.compare_digest(key, self.api_key) for key in keys):
            return None
        if not keys:
            return _error(401, {**BAD_KEY_ERROR, "message": "You didn't provide an API key.", "code": None})
        return _error(401, BAD_KEY_ERROR)

    def not_found(self, request: FakeRequest) -> FakeResponse:
        message = f"Invalid URL ({request.method} {request.path})"
        return _error(404, {"message": message, "type": "invalid_request_error", "param": None, "code": None})

    def failure_response(self, mode: str, request: FakeRequest) -> FakeResponse:
        if mode == "http429":
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            headers |= {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1.2s"}
            return _error(429, RATE_LIMIT_ERROR, headers)
        if mode == "insufficient_quota":
            return _error(429, QUOTA_ERROR)
        if mode == "http500":
            return _error(500, SERVER_ERROR)
        if mode == "http503":
            return _error(503, {**SERVER_ERROR, "message": "The engine is currently overloaded.", "code": "slow_down"})
        if mode == "bad_key":
            return _error(401, BAD_KEY_ERROR)
        if mode == "garbage":
            return FakeResponse.text("<html><body><h1>502 Bad Gateway</h1></body></html>", 200, "text/html")
        if mode == "schema":
            payload = self._payload(request.value("language"), ["segment"])
            return FakeResponse.json(payload, headers=_request_id())  # no "words" although they were asked for
        if mode == "invalid_audio":
            return _error(400, INVALID_AUDIO_ERROR)
        if mode == "too_large":
            return _error(413, TOO_LARGE_ERROR)
        raise ValueError(mode)

    # --- POST /v1/audio/transcriptions -------------------------------------------------------------------------------

    def transcribe(self, request: FakeRequest) -> FakeResponse:
        upload = request.files.get("file")
        if upload is None:
            return _invalid("Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
        model = request.value("model")
        if not model:
            return _invalid("Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
        extension = upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else ""
        if extension not in AUDIO_EXTENSIONS:
            return _invalid(f"Invalid file format. Supported formats: {sorted(AUDIO_EXTENSIONS)}")
        if len(upload.data) > MAX_UPLOAD_BYTES:
            return _error(413, TOO_LARGE_ERROR)
        if not _looks_like_audio(upload.data):
            return _error(400, INVALID_AUDIO_ERROR)
        response_format = request.value("response_format") or "json"
        granularities = request.fields.get("timestamp_granularities[]", [])
        if granularities and response_format != "verbose_json":
            # spec §2: recorded OpenAI behaviour
            return _invalid(
                "timestamp_granularities are only supported with response_format=verbose_json",
                param="timestamp_granularities",
            )
        if response_format == "verbose_json" and model not in VERBOSE_MODELS:
            return _invalid(
                f"response_format 'verbose_json' is not compatible with model '{model}'. Use 'json' or 'text' instead.",
                param="response_format",
                code="unsupported_value",
            )
        language = request.value("language")
        if language is not None and language not in WHISPER_LANGUAGES:
            return _invalid(f"Language '{language}' is not supported.", param="language", code="unsupported_language")
        payload = self._payload(language, granularities or ["segment"])
        if response_format == "json":
            return FakeResponse.json({"text": payload["text"]}, headers=_request_id())
        if response_format != "verbose_json":
            return FakeResponse.text(payload["text"], headers=_request_id())
        return FakeResponse.json(payload, headers=_request_id())

    def _payload(self, language: str | None, granularities: Sequence[str]) -> dict[str, Any]:
        with self._lock:
            words = list(self.words)
            detected = self.language
            duration = self.duration
            silent = self.silent
        if duration is None:
            duration = (words[-1][1] + 0.5) if words else 1.0
        payload: dict[str, Any] = {
            "task": "transcribe",
            # The response names the language in full, whether forced or detected (spec §2).
            "language": WHISPER_LANGUAGES.get(language, language) if language else detected,
            "duration": round(duration, 2),
            "text": " ".join(word for _, _, word in words),
        }
        if "word" in granularities:
            # Real answers carry no leading space on words but may carry trailing ones; keep one to exercise stripping.
            payload["words"] = [{"word": f"{word} ", "start": start, "end": end} for start, end, word in words]
        if "segment" in granularities:
            payload["segments"] = _segments(words, silent=silent)
        payload["usage"] = {"type": "duration", "seconds": math.ceil(duration)}
        return payload


def _segments(words: Sequence[tuple[float, float, str]], *, silent: bool) -> list[dict[str, Any]]:
    groups: list[list[tuple[float, float, str]]] = []
    for word in words:
        if not groups or word[0] - groups[-1][-1][1] > 0.8 or len(groups[-1]) >= 12:
            groups.append([])
        groups[-1].append(word)
    return [
        {
            "id": i,
            "seek": int(group[0][0] * 100),
            "start": group[0][0],
            "end": group[-1][1],
            "text": " " + " ".join(word for _, _, word in group),
            "tokens": [50364 + j for j in range(len(group))],
            "temperature": 0.0,
            "avg_logprob": -1.4 if silent else -0.31,
            "compression_ratio": 1.12,
            "no_speech_prob": 0.93 if silent else 0.02,
        }
        for i, group in enumerate(groups)
    ]


def _looks_like_audio(data: bytes) -> bool:
    # The real service decodes the file; a magic-number check is enough to reject HTML pages and truncated junk.
    if len(data) < 512:
        return False
    if data.startswith(_AUDIO_MAGIC) or data[4:8] == b"ftyp":
        return True
    return data[0] == 0xFF and data[1] & 0xE0 == 0xE0  # bare MPEG audio frame sync


def _request_id() -> dict[str, str]:
    return {"x-request-id": f"req_{secrets.token_hex(12)}"}


def _error(status: int, error: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> FakeResponse:
    return FakeResponse.json({"error": dict(error)}, status, {**_request_id(), **(headers or {})})


def _invalid(message: str, *, param: str | None = None, code: str | None = None) -> FakeResponse:
    return _error(400, {"message": message, "type": "invalid_request_error", "param": param, "code": code})
