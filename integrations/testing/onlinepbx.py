"""A fake OnlinePBX: a real local HTTP server speaking the wire format of shared/specs/onlinepbx.md.

Used by tests (in-process, ephemeral port), benches and ``make demo``::

    python -m integrations.testing.onlinepbx --port 8765 --calls 40 --days 2 --audio-dir DIR --new-every 120

Where the spec marks behaviour [unconfirmed], the fake picks the most plausible shape and says so in a comment.
"""

import argparse
import json
import logging
import random
import secrets
import signal
import sys
import threading
import time
import uuid as uuid_lib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

logger = logging.getLogger(__name__)

MAX_WINDOW_SECONDS = 7 * 24 * 3600  # spec §5
LINK_TTL_SECONDS = 30 * 60  # spec §6: download links live about 30 minutes
FAILURE_MODES = frozenset({"timeout", "http500", "garbage", "malformed_json", "status0", "http429", "not_auth"})
# Per call, on every download: "missing" (the API gives no link), "404", "garbage" (audio/mpeg that is not audio),
# "truncated" (the first TRUNCATED_SHARE of the file, with an honest Content-Length), "short_read" (the full
# Content-Length is announced, the connection closes after TRUNCATED_SHARE of it).
RECORDING_MODES = frozenset({"missing", "404", "garbage", "truncated", "short_read"})
# One-off faults (fail_recording): the same as above for one download, plus "html" (a 200 error page) and "expired"
# (the next link issued is already expired: it answers 403, as signed file-host links do, until a fresh one is asked).
RECORDING_FAULTS = frozenset({"expired", "garbage", "html", "truncated", "short_read", "404"})
TRUNCATED_SHARE = 0.4
DOWNLOAD_PREFIX = "/calls-records/download/"

# Spec §3, verbatim shapes.
NOT_AUTH_BODY = {
    "status": "0",
    "comment": "not authorized: api keys not found",
    "isNotAuth": True,
    "errorCode": "API_KEY_CHECK_FAILED",
}
WRONG_AUTH_DATA_BODY = {"status": "0", "comment": "wrong auth data", "errorCode": "WRONG_AUTH_DATA"}  # [unconfirmed]
DOMAIN_NOT_FOUND_BODY = {"status": "0", "comment": "domain not found", "errorCode": "DOMAIN_NOT_FOUND"}  # [unconfirmed]

_GARBAGE_AUDIO = b"\x00\x01\x02 this is not audio \xff\xfe" * 64
_DEFAULT_OPERATOR_NAMES = [
    "Dilnoza Karimova",
    "Jasur Tursunov",
    "Malika Yusupova",
    "Bobur Rahimov",
    "Nodira Xasanova",
    "Sardor Aliyev",
    "Gulnora Ismoilova",
    "Otabek Nazarov",
    "Shahnoza Qodirova",
    "Aziz Mirzayev",
]
_MOBILE_CODES = ("90", "91", "93", "94", "95", "97", "98", "99", "33", "88")
# Range filters of mongo_history/search.json: form field -> (record field, is lower bound). Bounds are inclusive
# ($gte/$lte), the reading most consistent with the clients seen; the spec does not say.
_RANGE_FILTERS = {
    "start_stamp_from": ("start_stamp", True),
    "start_stamp_to": ("start_stamp", False),
    "end_stamp_from": ("end_stamp", True),
    "end_stamp_to": ("end_stamp", False),
    "duration_from": ("duration", True),
    "duration_to": ("duration", False),
    "user_talk_time_from": ("user_talk_time", True),
    "user_talk_time_to": ("user_talk_time", False),
}
_EXACT_FILTERS = ("accountcode", "caller_id_number", "caller_id_name", "destination_number")


@dataclass
class _Failure:
    remaining: int
    mode: str
    path_contains: str


class FakeOnlinePbx:
    def __init__(
        self,
        *,
        domain: str = "pbx-demo.onpbx.ru",
        auth_key: str = "demo-auth-key",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.domain = domain
        self.auth_key = auth_key
        self.host = host
        self.port = port
        self.operators: list[dict[str, Any]] = [
            {"num": str(101 + i), "name": name, "enabled": i != 4} for i, name in enumerate(_DEFAULT_OPERATOR_NAMES[:5])
        ]
        self.calls: dict[str, dict[str, Any]] = {}
        self.recordings: dict[str, bytes] = {}
        self.recording_modes: dict[str, str] = {}  # uuid -> one of RECORDING_MODES
        self.recording_faults: dict[str, list[str]] = {}  # uuid -> one-off faults, consumed in order (fail_recording)
        self.slow_seconds = 0.0
        self.timeout_sleep_seconds = 3.0
        self.link_ttl_seconds: float = LINK_TTL_SECONDS
        self.requests_log: list[tuple[str, str]] = []  # (path, sorted urlencoded form)
        self.request_headers: list[dict[str, str]] = []  # parallel to requests_log, lower-cased names
        self.auth_count = 0
        self._lock = threading.RLock()
        self._valid_pairs: dict[str, str] = {}  # key_id -> key
        self._current_pair: tuple[str, str] | None = None
        self._links: dict[str, tuple[str, float]] = {}  # token -> (uuid, monotonic expiry); expired tokens answer 403
        self._failures: list[_Failure] = []  # consumed in order
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------------------

    def start(self) -> Self:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = _Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        # A short poll interval keeps stop() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-onlinepbx", daemon=True
        )
        self._thread.start()
        logger.info("fake_onlinepbx_started", extra={"base_url": self.base_url})
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
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- scenario controls -------------------------------------------------------------------------------------------

    def expire_keys(self) -> None:
        """Every key pair issued so far stops working; the next auth.json issues a fresh one."""
        with self._lock:
            self._valid_pairs.clear()
            self._current_pair = None

    def fail_next(self, n: int, mode: str, path_contains: str = "") -> None:
        """The next ``n`` requests whose path contains ``path_contains`` fail with ``mode``.

        ``timeout`` sleeps ``timeout_sleep_seconds`` and then answers normally (the work is done, the client gave up);
        ``not_auth`` answers the API_KEY_CHECK_FAILED body whatever the key.
        """
        if mode not in FAILURE_MODES:
            raise ValueError(f"unknown failure mode {mode!r}; choose from {sorted(FAILURE_MODES)}")
        with self._lock:
            self._failures.append(_Failure(n, mode, path_contains))

    def fail_recording(self, call_id: str, *faults: str) -> None:
        """The next downloads of this call's recording fail with ``faults``, one each, in order; then it is served
        normally. ``expired`` applies to the next link asked for instead: that link answers 403 for good."""
        unknown = set(faults) - RECORDING_FAULTS
        if unknown:
            raise ValueError(f"unknown recording fault {sorted(unknown)}; choose from {sorted(RECORDING_FAULTS)}")
        with self._lock:
            self.recording_faults.setdefault(call_id, []).extend(faults)

    def attach_recording(self, call_id: str, audio: bytes) -> None:
        """Serves ``audio`` for the call and makes its talk time the file's length (its ring time kept), as a real
        PBX's record and recording agree."""
        seconds = audio_seconds(audio)
        with self._lock:
            self.recordings[call_id] = audio
            record = self.calls[call_id]
            if seconds is None or not record.get("user_talk_time"):
                return
            old_end, ring = record["end_stamp"], record["duration"] - record["user_talk_time"]
            talk = max(round(seconds), 1)
            record.update(user_talk_time=talk, duration=ring + talk, end_stamp=record["start_stamp"] + ring + talk)
            for event in record.get("events", []):
                if event.get("end_stamp") == old_end:
                    event["end_stamp"] = record["end_stamp"]

    def add_call(
        self,
        *,
        uuid: str | None = None,
        direction: str = "outbound",
        operator_ext: str | None = "101",
        customer_phone: str = "998901234567",
        started_at: datetime | int | None = None,
        duration_seconds: int = 187,
        talk_seconds: int | None = None,
        hangup_cause: str | None = None,
        gateway: str | int = "998712000000",
        did: str = "998712000000",
        recording: bytes | None = None,
        recording_mode: str | None = None,
        **raw: Any,
    ) -> dict[str, Any]:
        """Add one call as the PBX would list it and return its wire record; ``raw`` overrides record keys.

        Inbound calls with ``operator_ext=None`` (or ``talk_seconds=0``) were not answered by anyone. With a
        ``recording`` and no ``talk_seconds``, the talk time is the recording's length (a check of the whole file
        against the talk time then means what it does against a real PBX).
        """
        if direction not in ("inbound", "outbound"):
            raise ValueError("direction must be 'inbound' or 'outbound'")
        if recording_mode is not None and recording_mode not in RECORDING_MODES:
            raise ValueError(f"recording_mode must be one of {sorted(RECORDING_MODES)}")
        if talk_seconds is None and recording is not None and operator_ext and (seconds := audio_seconds(recording)):
            talk_seconds = max(round(seconds), 1)
            duration_seconds = max(duration_seconds, talk_seconds + 16)
        if isinstance(started_at, datetime):
            start = int(started_at.timestamp())
        elif started_at is None:
            start = int(time.time()) - duration_seconds - 60
        else:
            start = started_at
        if talk_seconds is None:
            talk_seconds = max(duration_seconds - 16, 0) if operator_ext else 0
        call_id = uuid or str(uuid_lib.uuid4())
        record = _build_record(
            call_id=call_id,
            domain=self.domain,
            direction=direction,
            operator_ext=operator_ext,
            other_ext=None,
            customer_phone=customer_phone,
            start=start,
            duration=duration_seconds,
            talk=talk_seconds,
            hangup_cause=hangup_cause,
            gateway=gateway,
            did=did,
        )
        record.update(raw)
        with self._lock:
            self.calls[call_id] = record
            if recording is not None:
                self.recordings[call_id] = recording
            if recording_mode is not None:
                self.recording_modes[call_id] = recording_mode
        return record

    def add_calls_generated(
        self, n: int, *, start: datetime, spacing_seconds: int = 60, seed: int = 0, operators: int = 5
    ) -> None:
        """Add ``n`` deterministic calls starting at ``start``, one every ``spacing_seconds``.

        About 60% inbound, 15% unanswered, a few inbound calls ring a second operator first, and one phone in ten is
        written as ``+998...`` or as a 9-digit local number, as real PBXs do. The same seed gives the same uuids.
        """
        rng = random.Random(seed)
        extensions = [str(101 + i) for i in range(operators)]
        self._ensure_operators(extensions)
        first = int(start.timestamp())
        records: dict[str, dict[str, Any]] = {}
        for i in range(n):
            call_id = str(uuid_lib.UUID(int=rng.getrandbits(128), version=4))
            direction = "inbound" if rng.random() < 0.6 else "outbound"
            answered = rng.random() < 0.85
            duration = rng.randint(20, 600)
            talk = max(duration - rng.randint(4, 25), 1) if answered else 0
            operator_ext = rng.choice(extensions)
            other_ext = rng.choice(extensions) if direction == "inbound" and rng.random() < 0.2 else None
            records[call_id] = _build_record(
                call_id=call_id,
                domain=self.domain,
                direction=direction,
                operator_ext=operator_ext if answered or direction == "outbound" else None,
                other_ext=other_ext if other_ext != operator_ext else None,
                customer_phone=_random_phone(rng),
                start=first + i * spacing_seconds,
                duration=duration,
                talk=talk,
                hangup_cause=None,
                gateway="998712000000",
                did="998712000000",
            )
        with self._lock:
            self.calls.update(records)

    def _ensure_operators(self, extensions: list[str]) -> None:
        with self._lock:
            known = {str(op.get("num")) for op in self.operators}
            for ext in extensions:
                if ext not in known:
                    name = (
                        _DEFAULT_OPERATOR_NAMES[(int(ext) - 101) % len(_DEFAULT_OPERATOR_NAMES)]
                        if ext.isdigit()
                        else ext
                    )
                    self.operators.append({"num": ext, "name": name, "enabled": True})

    # --- request handling --------------------------------------------------------------------------------------------

    def _handle(self, handler: "_Handler", method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length > 0 else b""
        path = urlsplit(handler.path).path
        form = _parse_form(raw, handler.headers.get("Content-Type", ""))
        with self._lock:
            self.requests_log.append((path, urlencode(sorted(form.items()))))
            self.request_headers.append({name.lower(): value for name, value in handler.headers.items()})
            failure = self._take_failure(path)
        if self.slow_seconds:
            time.sleep(self.slow_seconds)
        if failure == "timeout":
            time.sleep(self.timeout_sleep_seconds)
        elif failure is not None:
            _respond_failure(handler, failure)
            return
        if method == "GET":
            if path.startswith(DOWNLOAD_PREFIX):
                self._download(handler, path)
            else:
                _respond(handler, 404, b"Not Found", "text/plain")
            return
        parts = path.strip("/").split("/", 1)
        if len(parts) != 2 or parts[0] != self.domain:
            _respond_json(handler, DOMAIN_NOT_FOUND_BODY)
            return
        api_method = parts[1]
        if api_method == "auth.json":
            _respond_json(handler, self._auth(form))
            return
        auth_problem = self._check_auth(handler.headers.get("x-pbx-authentication"))
        if auth_problem is not None:
            _respond_json(handler, auth_problem)
        elif api_method == "user/get.json":
            _respond_json(handler, self._users(form))
        elif api_method == "mongo_history/search.json":
            _respond_json(handler, self._search(form, handler.headers.get("Host")))
        else:
            _respond_json(handler, {"status": "0", "comment": f"method {api_method} not found"}, status=404)

    def _take_failure(self, path: str) -> str | None:
        for failure in self._failures:
            if failure.path_contains in path:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                return failure.mode
        return None

    def _auth(self, form: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.auth_count += 1
            if not form.get("auth_key"):
                return {"status": "0", "comment": "auth_key is required"}
            if not secrets.compare_digest(form["auth_key"], self.auth_key):
                return {"status": "0", "comment": "auth_key not found"}  # exact text [unconfirmed]
            is_new = self._current_pair is None or form.get("new", "").lower() in ("1", "true")
            if is_new:
                # Whether new=true revokes older pairs is [unconfirmed]; the fake keeps them valid.
                self._current_pair = (secrets.token_hex(16), secrets.token_hex(24))
                self._valid_pairs[self._current_pair[0]] = self._current_pair[1]
            assert self._current_pair is not None
            key_id, key = self._current_pair
        return {"status": "1", "data": {"key_id": key_id, "key": key, "new": int(is_new)}}

    def _check_auth(self, header: str | None) -> dict[str, Any] | None:
        key_id, _, key = (header or "").partition(":")
        if not key_id.strip() or not key.strip():
            return WRONG_AUTH_DATA_BODY
        with self._lock:
            expected = self._valid_pairs.get(key_id.strip())
        if expected is None or not secrets.compare_digest(expected, key.strip()):
            return NOT_AUTH_BODY
        return None

    def _users(self, form: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            users = list(self.operators)
        if form.get("num"):
            users = [user for user in users if str(user.get("num")) == form["num"]]
        return {"status": "1", "data": users}

    def _search(self, form: dict[str, str], host_header: str | None) -> dict[str, Any]:
        call_id = form.get("uuid")
        if form.get("download", "").lower() in ("1", "true"):
            if not call_id:
                return {"status": "0", "comment": "the fake serves recordings one call at a time (uuid=...)"}
            return {"status": "1", "data": self._recording_link(call_id, host_header)}
        try:
            bounds = {name: int(form[name]) for name in _RANGE_FILTERS if form.get(name, "") != ""}
        except ValueError:
            return {"status": "0", "comment": "time and duration filters must be integers"}
        if not call_id:
            # A window by start or by end (spec §5: either pair works); each may span at most 7 days.
            lowest = bounds.get("start_stamp_from", bounds.get("end_stamp_from", 0))
            highest = bounds.get("start_stamp_to", bounds.get("end_stamp_to", int(time.time())))
            if "start_stamp_from" not in bounds and "end_stamp_from" in bounds:
                highest = bounds.get("end_stamp_to", int(time.time()))
            if highest - lowest > MAX_WINDOW_SECONDS:
                # Error text for a too-long window is [unconfirmed] (spec §5).
                return {"status": "0", "comment": "the period must not exceed 7 days"}
        exact = {name: form[name] for name in _EXACT_FILTERS if form.get(name)}
        with self._lock:
            if call_id:
                candidates = [self.calls[call_id]] if call_id in self.calls else []
            else:
                candidates = list(self.calls.values())
        checks = [(_RANGE_FILTERS[name][0], _RANGE_FILTERS[name][1], value) for name, value in bounds.items()]
        matches = []
        for record in candidates:
            ok = True
            for field, is_lower, value in checks:
                have = record.get(field)
                if not isinstance(have, int) or (have < value if is_lower else have > value):
                    ok = False
                    break
            if ok and exact:
                ok = all(str(record.get(name)) == value for name, value in exact.items())
            if ok:
                matches.append(record)
        return {"status": "1", "data": matches}

    def _recording_link(self, call_id: str, host_header: str | None) -> str:
        with self._lock:
            mode = self.recording_modes.get(call_id)
            if call_id not in self.calls or mode == "missing":
                return ""  # spec §6: no recording = status "1" with empty data
            if mode is None and call_id not in self.recordings:
                return ""
            token = secrets.token_hex(16)
            expired = self._take_recording_fault(call_id, "expired")
            self._links[token] = (call_id, time.monotonic() + (-1 if expired else self.link_ttl_seconds))
        # Links point at whatever host the client reached us by, so the demo works across containers.
        return f"http://{host_header or f'{self.host}:{self.port}'}{DOWNLOAD_PREFIX}{token}/rec.mp3"

    def _download(self, handler: "_Handler", path: str) -> None:
        token = path[len(DOWNLOAD_PREFIX) :].split("/", 1)[0]
        with self._lock:
            link = self._links.get(token)
            expired = link is not None and link[1] < time.monotonic()
            call_id = link[0] if link is not None and not expired else None
            mode = self.recording_modes.get(call_id) if call_id else None
            if call_id is not None and (fault := self._take_recording_fault(call_id)) is not None:
                mode = fault
            audio = self.recordings.get(call_id) if call_id else None
            record = self.calls.get(call_id) if call_id else None
        if expired:  # a signed link past its time: the file host refuses it; the API gives a fresh one
            _respond(handler, 403, b"<Error><Code>AccessDenied</Code></Error>", "application/xml")
            return
        if call_id is None or mode == "404" or (mode not in ("garbage", "html") and audio is None):
            _respond(handler, 404, b"Not Found", "text/plain")
            return
        if mode == "html":
            _respond(handler, 200, b"<html><body>Service temporarily unavailable</body></html>", "text/html")
            return
        body = _GARBAGE_AUDIO if mode == "garbage" else audio
        assert body is not None
        headers = {"Content-Disposition": f'attachment; filename="{_recording_filename(call_id, record)}"'}
        if mode == "truncated":
            body = body[: int(len(body) * TRUNCATED_SHARE)]  # with its own, honest Content-Length
        elif mode == "short_read":
            _respond_cut(handler, body, int(len(body) * TRUNCATED_SHARE), _audio_content_type(body), headers)
            return
        _respond(handler, 200, body, _audio_content_type(body), headers)

    def _take_recording_fault(self, call_id: str, only: str | None = None) -> str | None:
        """Pops the call's next one-off fault: ``expired`` when a link is issued, any other when it is downloaded."""
        with self._lock:
            faults = self.recording_faults.get(call_id)
            if not faults or (faults[0] == "expired") != (only == "expired"):
                return None
            return faults.pop(0)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping in "timeout" mode must not hold up stop()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that give up mid-answer (timeouts, RecordingTooLarge) reset the connection: expected, not news.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        logger.exception("fake_onlinepbx_handler_failed")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API; every answer carries Content-Length
    server_version = "FakeOnlinePBX/1.0"
    disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle would delay the body ~40 ms
    timeout = 60  # idle keep-alive connections are dropped after this long
    fake: FakeOnlinePbx

    def do_POST(self) -> None:
        self.fake._handle(self, "POST")

    def do_GET(self) -> None:
        self.fake._handle(self, "GET")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake_onlinepbx_request", extra={"line": format % args})


def _respond(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        # The client gave up (the "timeout" mode does this on purpose).
        handler.close_connection = True


def _respond_cut(handler: "_Handler", body: bytes, sent: int, content_type: str, headers: dict[str, str]) -> None:
    """Announces the whole body, sends only its first ``sent`` bytes and closes: a download cut mid-way."""
    try:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body[:sent])
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        pass
    handler.close_connection = True


def _respond_json(handler: BaseHTTPRequestHandler, payload: dict[str, Any], *, status: int = 200) -> None:
    _respond(handler, status, json.dumps(payload, ensure_ascii=False).encode(), "application/json; charset=utf-8")


def _respond_failure(handler: BaseHTTPRequestHandler, mode: str) -> None:
    if mode == "http500":
        _respond(handler, 500, b"<html><body><h1>500 Internal Server Error</h1></body></html>", "text/html")
    elif mode == "garbage":
        _respond(handler, 200, b"<html><head><title>Maintenance</title></head><body>oops</body></html>", "text/html")
    elif mode == "malformed_json":
        _respond(handler, 200, b'{"status": "1", "data": [{"uuid": "3f2b8c1e-6a4d', "application/json")
    elif mode == "status0":
        _respond_json(handler, {"status": "0", "comment": "Internal error, please try again later"})
    elif mode == "http429":
        _respond(
            handler, 429, b'{"status": "0", "comment": "Too many requests"}', "application/json", {"Retry-After": "7"}
        )
    elif mode == "not_auth":
        _respond_json(handler, NOT_AUTH_BODY)


def _parse_form(raw: bytes, content_type: str) -> dict[str, str]:
    if not raw:
        return {}
    text = raw.decode("utf-8", "replace")
    if content_type.startswith("application/json"):
        # Spec §1: the server also accepts JSON bodies.
        try:
            payload = json.loads(text)
        except ValueError:
            return {}
        return (
            {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}
            if isinstance(payload, dict)
            else {}
        )
    return dict(parse_qsl(text, keep_blank_values=True))


def _build_record(
    *,
    call_id: str,
    domain: str,
    direction: str,
    operator_ext: str | None,
    other_ext: str | None,
    customer_phone: str,
    start: int,
    duration: int,
    talk: int,
    hangup_cause: str | None,
    gateway: str | int,
    did: str,
) -> dict[str, Any]:
    end = start + duration
    ring = max(duration - talk, 0)
    answered = talk > 0 and operator_ext is not None
    if hangup_cause is None:
        if answered:
            hangup_cause = "NORMAL_CLEARING"
        else:
            hangup_cause = "ORIGINATOR_CANCEL" if direction == "inbound" else "NO_ANSWER"
    if direction == "outbound":
        caller = operator_ext or ""
        events: list[dict[str, Any]] = [
            {"type": "transfer", "timestamp": start, "number": customer_phone},
            _user_event(call_id, operator_ext or "", start, start + ring if answered else None, end),
        ]
        caller_number, destination = caller, customer_phone
    else:
        events = [{"type": "transfer", "timestamp": start, "number": did}]
        if other_ext:
            # Rang another operator first, who did not pick up.
            events.append(_user_event(call_id, other_ext, start + 1, None, start + max(ring // 2, 1)))
        if operator_ext:
            events.append(_user_event(call_id, operator_ext, start + 1, start + ring if answered else None, end))
        caller_number, destination = customer_phone, did
    return {
        "uuid": call_id,
        "caller_id_name": caller_number,
        "caller_id_number": caller_number,
        "destination_number": destination,
        "from_host": domain,
        "to_host": domain,
        "start_stamp": start,
        "end_stamp": end,
        "duration": duration,
        "user_talk_time": talk if answered else 0,
        "hangup_cause": hangup_cause,
        "accountcode": direction,
        "gateway": gateway,
        "quality_score": 0,
        "events": events,
    }


def _user_event(call_id: str, ext: str, at: int, answered_at: int | None, end: int) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "user", "timestamp": at, "uuid": call_id, "number": ext, "end_stamp": end}
    if answered_at is not None:
        event["answered_stamp"] = answered_at
    return event


def _random_phone(rng: random.Random) -> str:
    national = rng.choice(_MOBILE_CODES) + f"{rng.randrange(10_000_000):07d}"
    shape = rng.random()
    if shape < 0.05:
        return "+998" + national
    if shape < 0.10:
        return national
    return "998" + national


def _audio_content_type(body: bytes) -> str:
    if body.startswith(b"RIFF"):
        return "audio/wav"
    if body.startswith(b"OggS"):
        return "audio/ogg"
    return "audio/mpeg"


def audio_seconds(audio: bytes) -> float | None:
    """The length a file's header declares (what the PBX would have recorded), or None for bytes that are not audio."""
    import io

    import av  # only when a recording is attached: the fake's HTTP side needs nothing but the stdlib

    try:
        with av.open(io.BytesIO(audio), mode="r") as container:
            if container.duration:
                return container.duration / av.time_base
    except (av.FFmpegError, ValueError):
        return None
    return None


def _recording_filename(call_id: str, record: dict[str, Any] | None) -> str:
    # Spec §6: 25.01.02-14:00:00_101_998901234567_<uuid>.mp3
    if not record:
        return f"{call_id}.mp3"
    started = datetime.fromtimestamp(int(record.get("start_stamp", 0)), UTC).strftime("%y.%m.%d-%H:%M:%S")
    return f"{started}_{record.get('caller_id_number', '')}_{record.get('destination_number', '')}_{call_id}.mp3"


# --- CLI --------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m integrations.testing.onlinepbx", description="Serve a fake OnlinePBX."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (0.0.0.0 inside a container)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--domain", default="pbx-demo.onpbx.ru")
    parser.add_argument("--auth-key", default="demo-auth-key")
    parser.add_argument("--calls", type=int, default=40, help="calls generated at start")
    parser.add_argument("--days", type=float, default=2.0, help="spread the generated calls over the last N days")
    parser.add_argument("--audio-dir", type=Path, help="recordings taken round-robin from *.mp3/*.ogg/*.wav here")
    parser.add_argument("--new-every", type=float, default=0.0, help="add a fresh call every N seconds (0 = never)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    audio: list[bytes] = []
    if args.audio_dir is not None:
        files = sorted(p for p in args.audio_dir.iterdir() if p.suffix.lower() in (".mp3", ".ogg", ".wav"))
        if not files:
            parser.error(f"no .mp3/.ogg/.wav files in {args.audio_dir}")
        audio = [p.read_bytes() for p in files]

    fake = FakeOnlinePbx(domain=args.domain, auth_key=args.auth_key, host=args.host, port=args.port)
    now = datetime.now(UTC)
    # Leave the last 15 minutes empty: the PBX lists a call only after it has ended.
    span_seconds = max(int(args.days * 86400) - 900, 60)
    spacing = max(span_seconds // max(args.calls, 1), 1)
    fake.add_calls_generated(
        args.calls, start=now - timedelta(seconds=span_seconds + 900), spacing_seconds=spacing, seed=args.seed
    )
    next_audio = 0
    if audio:
        for call_id, record in sorted(fake.calls.items(), key=lambda item: item[1]["start_stamp"]):
            if record["user_talk_time"] > 0:
                fake.attach_recording(call_id, audio[next_audio % len(audio)])  # its talk time becomes the file's
                next_audio += 1

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fake.start()
    print(f"Fake OnlinePBX serving at {fake.base_url}", flush=True)
    print(f"  domain:   {fake.domain}", flush=True)
    print(f"  auth key: {fake.auth_key}", flush=True)
    print(f"  calls:    {len(fake.calls)} ({len(fake.recordings)} with recordings)", flush=True)

    rng = random.Random(args.seed + 1)
    extensions = [str(op["num"]) for op in fake.operators if op.get("enabled")]
    while not stop.wait(args.new_every if args.new_every > 0 else None):
        duration = rng.randint(30, 300)
        recording = audio[next_audio % len(audio)] if audio else None
        next_audio += 1
        record = fake.add_call(
            direction=rng.choice(("inbound", "outbound")),
            operator_ext=rng.choice(extensions),
            customer_phone=_random_phone(rng),
            started_at=int(time.time()) - duration,
            duration_seconds=duration,
            recording=recording,
        )
        print(f"  new call {record['uuid']} ({record['accountcode']}, {duration} s)", flush=True)
    fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
