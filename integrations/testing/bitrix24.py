"""A fake Bitrix24 portal: a real local HTTP(S) server speaking the REST wire format of shared/specs/bitrix24.md.

Used by tests (in-process, ephemeral port), ``bench/crm.py`` and the demo::

    python -m integrations.testing.bitrix24 --port 8766 --seed demo [--pbx-calls 40 --pbx-seed 0] [--tls]

What it speaks: ``/rest/<user>/<code>/<method>[.json]`` by GET (bracket-notation query strings) or POST (JSON or
form), method names case-insensitive, ``filter``/``FILTER`` alike; string values in lists, 50-row pages with ``next``
and ``total`` (``start=-1``: neither), the ``time`` block, error bodies with an empty ``error`` where Bitrix24 sends
one, ``batch`` (``result``/``result_error``/``result_total``/``result_next``), a real leaky bucket (503
``QUERY_LIMIT_EXCEEDED`` over it) and fault injection. Where the spec marks behaviour [unconfirmed], the fake picks
the most plausible shape and says so in a comment.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import re
import signal
import ssl
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

logger = logging.getLogger(__name__)

PAGE = 50
BATCH_MAX = 50
FAULTS = frozenset(
    {
        "http500",  # 500 INTERNAL_SERVER_ERROR (JSON)
        "html500",  # 500 with an HTML page (a proxy in front of the portal)
        "garbage",  # 200 with HTML
        "truncated",  # 200 with half a JSON body
        "401",  # NO_AUTH_FOUND
        "403_scope",  # insufficient_scope
        "403_rights",  # INVALID_CREDENTIALS
        "403_plan",  # ACCESS_DENIED: REST not on the plan
        "access_denied",  # 400 with an empty error and "Access denied."
        "429",  # OPERATION_TIME_LIMIT until now + reset_seconds
        "503",  # QUERY_LIMIT_EXCEEDED
        "timeout",  # sleeps timeout_sleep_seconds, then answers normally (the work is done; the client gave up)
    }
)
_TZ = timezone(timedelta(hours=5))  # the portal's time zone: values are in it, with their offset (spec §2)
_ENTITY_TYPES = {"1": "lead", "2": "deal", "3": "contact", "4": "company"}

LEAD_STAGES = [  # (STATUS_ID, NAME, SEMANTICS) of the lead dictionary STATUS
    ("NEW", "Unassigned", None),
    ("IN_PROCESS", "In progress", None),
    ("PROCESSED", "Processed", None),
    ("CONVERTED", "Good lead", "S"),
    ("JUNK", "Junk lead", "F"),
]
GENERAL_DEAL_STAGES = [
    ("NEW", "New deal", None),
    ("PREPARATION", "Preparing documents", None),
    ("EXECUTING", "In progress", None),
    ("WON", "Deal won", "S"),
    ("LOSE", "Deal lost", "F"),
    ("APOLOGY", "Analyse failure", "F"),
]
FUNNEL_STAGES = [
    ("NEW", "Yangi", None),
    ("MEETING", "Uchrashuv", None),
    ("WON", "Sotildi", "S"),
    ("LOSE", "Rad etildi", "F"),
]


class ApiError(Exception):
    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


@dataclass
class _Fault:
    remaining: int
    mode: str
    method: str
    reset_seconds: float


def parse_brackets(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """PHP's reading of ``filter[PHONE]=1&select[]=ID&select[]=NAME``: nested dicts, numbered or ``[]`` keys as
    lists."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = re.match(r"^([^\[]+)((?:\[[^\]]*\])*)$", raw_key)
        if not match:
            root[raw_key] = value
            continue
        keys = [match.group(1)] + re.findall(r"\[([^\]]*)\]", match.group(2))
        node: Any = root
        for index, key in enumerate(keys):
            last = index == len(keys) - 1
            if key == "":
                key = str(sum(1 for k in node if k.isdigit())) if isinstance(node, dict) else "0"
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        converted = {k: _lists(v) for k, v in node.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return node


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value or ""))


def _wire_time(at: datetime) -> str:
    return at.astimezone(_TZ).isoformat(timespec="seconds")


def _param(params: dict[str, Any], name: str, default: Any = None) -> Any:
    """Top-level names in either case (spec §1: the docs' own examples send FILTER/SELECT/ORDER)."""
    for key, value in params.items():
        if key.lower() == name.lower():
            return value
    return default


class FakeBitrix24:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        user_id: str = "1",
        code: str = "k3x9q2w8e7r6t5y4",
        rate: float = 2.0,
        burst: int = 50,
        tls: bool = False,
        scopes: tuple[str, ...] = ("crm",),
    ) -> None:
        self.host, self.port, self.user_id, self.code = host, port, user_id, code
        self.rate, self.burst, self.tls = float(rate), int(burst), tls
        self.scopes = set(scopes)
        self.denied_methods: set[str] = set()  # methods the webhook's user may not call ("Access denied.")
        self.find_by_comm_enabled = True  # False: crm.duplicate.findbycomm answers "Access denied." (a refusal)
        self.contacts: dict[int, dict[str, Any]] = {}
        self.companies: dict[int, dict[str, Any]] = {}
        self.leads: dict[int, dict[str, Any]] = {}
        self.deals: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.activities: dict[int, dict[str, Any]] = {}
        self.funnels: dict[str, str] = {"0": "General"}
        self.statuses: list[dict[str, Any]] = []
        self.scheduled: list[tuple[datetime, int, str]] = []  # (at, deal id, stage id): advance(now) applies them
        self.requests_log: list[dict[str, Any]] = []  # one per HTTP request: method, params, status, error, at
        self.answered: Counter[str] = Counter()  # "200", "503 QUERY_LIMIT_EXCEEDED", ...
        self.limit_rejections = 0
        self.timeout_sleep_seconds = 2.0
        self.ca_file: str | None = None
        self._next_id = 1
        self._next_phone_id = 100
        self._bucket = (0.0, time.monotonic())  # (counter, counted at): each request adds 1, drains `rate` a second
        self._operation_blocked: dict[str, float] = {}  # method -> time.time() it resets
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._indexes: dict[tuple[str, str], tuple[int, dict[str, list[dict[str, Any]]]]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._seed_stages()

    # --- lifecycle -------------------------------------------------------------------------------------------------

    def start(self) -> Self:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = _Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            cert, key = self._self_signed()
            context.load_cert_chain(cert, key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-bitrix24", daemon=True
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
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _self_signed(self) -> tuple[str, str]:
        """A certificate for 127.0.0.1/localhost made at start; clients trust ``ca_file`` (REQUESTS_CA_BUNDLE)."""
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-bitrix24.local")])
        now = datetime.now(UTC)
        san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-bitrix24-")
        cert_path, key_path = Path(self._tmp.name) / "cert.pem", Path(self._tmp.name) / "key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.ca_file = str(cert_path)
        return str(cert_path), str(key_path)

    @property
    def portal_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def webhook_url(self) -> str:
        """What a customer pastes: ``<portal>/rest/<user id>/<code>/``."""
        return f"{self.portal_url}/rest/{self.user_id}/{self.code}/"

    # --- scenario controls -------------------------------------------------------------------------------------------

    def fail_next(self, n: int, mode: str, method: str = "", *, reset_seconds: float = 1.0) -> None:
        """The next ``n`` HTTP requests (whose method contains ``method``) fail with ``mode`` (FAULTS)."""
        if mode not in FAULTS:
            raise ValueError(f"unknown fault {mode!r}; choose from {sorted(FAULTS)}")
        with self._lock:
            self._faults.append(_Fault(n, mode, method.lower(), reset_seconds))

    def limit_operation(self, method: str, seconds: float) -> None:
        """``method`` has used up its run time (spec §4): 429 OPERATION_TIME_LIMIT until ``seconds`` from now."""
        with self._lock:
            # operating_reset_at is whole Unix seconds: the method stays refused until that second
            self._operation_blocked[method.lower()] = float(math.ceil(time.time() + seconds))

    def methods_called(self) -> list[str]:
        """Every REST method run, a batch's commands included, in order."""
        with self._lock:
            return [m for entry in self.requests_log for m in entry["methods"]]

    def http_requests(self) -> int:
        with self._lock:
            return len(self.requests_log)

    # --- seeding -----------------------------------------------------------------------------------------------------

    def _id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def _phones(self, phones: list[str] | tuple[str, ...]) -> list[dict[str, str]]:
        rows = []
        for index, value in enumerate(phones):
            self._next_phone_id += 1
            kind = "MOBILE" if index == 0 else "WORK"
            rows.append({"ID": str(self._next_phone_id), "VALUE_TYPE": kind, "VALUE": value, "TYPE_ID": "PHONE"})
        return rows

    def _stamp(self, at: datetime | None) -> str:
        return _wire_time(at or datetime.now(UTC))

    def add_contact(
        self, name: str, last_name: str = "", *, phones: tuple[str, ...] | list[str] = (), at: datetime | None = None
    ) -> str:
        entity_id = self._id()
        with self._lock:
            self.contacts[entity_id] = {
                "ID": str(entity_id),
                "NAME": name,
                "SECOND_NAME": None,
                "LAST_NAME": last_name,
                "HAS_PHONE": "Y" if phones else "N",
                "DATE_CREATE": self._stamp(at),
                "DATE_MODIFY": self._stamp(at),
                "PHONE": self._phones(list(phones)),
            }
        return str(entity_id)

    def add_company(self, title: str, *, phones: tuple[str, ...] | list[str] = (), at: datetime | None = None) -> str:
        entity_id = self._id()
        with self._lock:
            self.companies[entity_id] = {
                "ID": str(entity_id),
                "TITLE": title,
                "HAS_PHONE": "Y" if phones else "N",
                "DATE_CREATE": self._stamp(at),
                "DATE_MODIFY": self._stamp(at),
                "PHONE": self._phones(list(phones)),
            }
        return str(entity_id)

    def add_lead(
        self,
        title: str,
        *,
        name: str = "",
        last_name: str = "",
        phones: tuple[str, ...] | list[str] = (),
        status_id: str = "NEW",
        at: datetime | None = None,
    ) -> str:
        entity_id = self._id()
        with self._lock:
            self.leads[entity_id] = {
                "ID": str(entity_id),
                "TITLE": title,
                "NAME": name,
                "LAST_NAME": last_name,
                "STATUS_ID": status_id,
                "CONTACT_ID": None,
                "HAS_PHONE": "Y" if phones else "N",
                "DATE_CREATE": self._stamp(at),
                "DATE_MODIFY": self._stamp(at),
                "PHONE": self._phones(list(phones)),
            }
        return str(entity_id)

    def add_funnel(self, funnel_id: str, name: str, stages: list[tuple[str, str, str | None]] | None = None) -> None:
        with self._lock:
            self.funnels[str(funnel_id)] = name
            entity = f"DEAL_STAGE_{funnel_id}"
            for sort, (status, stage_name, semantics) in enumerate(stages or FUNNEL_STAGES, start=1):
                self._add_status(entity, f"C{funnel_id}:{status}", stage_name, semantics, sort, str(funnel_id))

    def add_deal(
        self,
        title: str,
        *,
        contact_id: str = "",
        company_id: str = "",
        funnel_id: str = "0",
        stage: str = "NEW",
        amount: str = "1500000.00",
        at: datetime | None = None,
    ) -> str:
        """A deal in ``funnel_id`` at ``stage`` (the bare status, "NEW"; funnel N's become "CN:NEW")."""
        entity_id = self._id()
        created = at or datetime.now(UTC)
        row = {
            "ID": str(entity_id),
            "TITLE": title,
            "CATEGORY_ID": str(funnel_id),
            "STAGE_ID": "",
            "STAGE_SEMANTIC_ID": "P",
            "OPPORTUNITY": amount,
            "CURRENCY_ID": "UZS",
            "CONTACT_ID": contact_id or None,
            "COMPANY_ID": company_id or "0",
            "DATE_CREATE": _wire_time(created),
            "DATE_MODIFY": _wire_time(created),
            "CLOSEDATE": _wire_time((created + timedelta(days=7)).replace(hour=0, minute=0, second=0)),
            "CLOSED": "N",
        }
        with self._lock:
            self.deals[entity_id] = row
        self.move_deal(str(entity_id), stage, at=created)
        return str(entity_id)

    def move_deal(self, deal_id: str, stage: str, *, at: datetime | None = None) -> None:
        """Moves a deal to ``stage`` (bare status) of its funnel; won/lost close it; DATE_MODIFY becomes ``at``."""
        with self._lock:
            row = self.deals[int(deal_id)]
            funnel = row["CATEGORY_ID"]
            status_id = stage if funnel == "0" or stage.startswith("C") and ":" in stage else f"C{funnel}:{stage}"
            entity = "DEAL_STAGE" if funnel == "0" else f"DEAL_STAGE_{funnel}"
            found = next((s for s in self.statuses if s["ENTITY_ID"] == entity and s["STATUS_ID"] == status_id), None)
            if found is None:
                raise ValueError(f"funnel {funnel} has no stage {status_id}")
            semantics = found["SEMANTICS"] or "P"
            when = at or datetime.now(UTC)
            row.update(
                STAGE_ID=status_id,
                STAGE_SEMANTIC_ID=semantics,
                CLOSED="Y" if semantics in ("S", "F") else "N",
                DATE_MODIFY=_wire_time(when),
            )
            if semantics in ("S", "F"):
                row["CLOSEDATE"] = _wire_time(when)

    def schedule_move(self, deal_id: str, stage: str, at: datetime) -> None:
        with self._lock:
            self.scheduled.append((at, int(deal_id), stage))
            self.scheduled.sort()

    def advance(self, now: datetime | None = None) -> list[str]:
        """Applies every scheduled move due by ``now``; the deals moved (for the demo: won/lost over time)."""
        now = now or datetime.now(UTC)
        moved = []
        with self._lock:
            due = [item for item in self.scheduled if item[0] <= now]
            self.scheduled = [item for item in self.scheduled if item[0] > now]
            for at, deal_id, stage in due:
                self.move_deal(str(deal_id), stage, at=at)
                moved.append(str(deal_id))
        return moved

    def _add_status(
        self, entity: str, status_id: str, name: str, semantics: str | None, sort: int, category: str | None
    ) -> None:
        extra = {"process": None, "S": "success", "F": "failure"}
        self.statuses.append(
            {
                "ID": str(len(self.statuses) + 1),
                "ENTITY_ID": entity,
                "STATUS_ID": status_id,
                "NAME": name,
                "NAME_INIT": name,
                "SORT": str(sort * 10),
                "SYSTEM": "Y" if semantics or status_id.endswith("NEW") else "N",
                "CATEGORY_ID": category,
                "COLOR": "#39A8EF",
                "SEMANTICS": semantics,
                "EXTRA": {"SEMANTICS": extra.get(semantics or "process") or "process", "COLOR": "#39A8EF"},
            }
        )

    def _seed_stages(self) -> None:
        for sort, (status, name, semantics) in enumerate(LEAD_STAGES, start=1):
            self._add_status("STATUS", status, name, semantics, sort, None)
        for sort, (status, name, semantics) in enumerate(GENERAL_DEAL_STAGES, start=1):
            self._add_status("DEAL_STAGE", status, name, semantics, sort, "0")
        for row in self.statuses:
            if row["STATUS_ID"] == "APOLOGY":
                row["EXTRA"]["SEMANTICS"] = "apology"

    # --- request handling --------------------------------------------------------------------------------------------

    def _take_bucket(self) -> bool:
        with self._lock:
            counter, counted = self._bucket
            now = time.monotonic()
            counter = max(0.0, counter - (now - counted) * self.rate)
            if counter + 1 > self.burst + 1e-9:
                self._bucket = (counter, now)
                return False
            self._bucket = (counter + 1, now)
            return True

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in method:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _time_block(self, started: float, method: str = "") -> dict[str, Any]:
        finished = time.time()
        reset = self._operation_blocked.get(method, 0.0)
        return {
            "start": round(started, 4),
            "finish": round(finished, 4),
            "duration": round(finished - started, 4),
            "processing": round(finished - started, 4),
            "date_start": _wire_time(datetime.fromtimestamp(started, UTC)),
            "date_finish": _wire_time(datetime.fromtimestamp(finished, UTC)),
            "operating_reset_at": int(reset) if reset > finished else int(finished) + 600,
            "operating": 0.0,
        }

    def _handle(self, handler: _Handler, http_method: str) -> None:
        started = time.time()
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length > 0 else b""
        params: dict[str, Any] = parse_brackets(parse_qsl(split.query, keep_blank_values=True))
        content_type = handler.headers.get("Content-Type", "")
        if raw:
            if content_type.startswith("application/json"):
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    body = None
                if isinstance(body, dict):
                    params.update(body)
            else:
                params.update(parse_brackets(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)))
        match = re.match(r"^/rest/([^/]+)/([^/]+)/([^/?]+?)(?:\.json)?/?$", split.path)
        method = match.group(3).lower() if match else ""
        entry = {"http_method": http_method, "method": method, "params": params, "at": started, "methods": [method]}
        with self._lock:
            self.requests_log.append(entry)
        status, payload = self._answer(handler, match, method, params, started, entry)
        entry["status"] = status
        entry["error"] = payload.get("error") if isinstance(payload, dict) else None
        with self._lock:
            label = str(status) if not entry["error"] else f"{status} {entry['error']}"
            self.answered[label] += 1
        if payload is not None:
            _respond_json(handler, payload, status=status)

    def _answer(
        self,
        handler: _Handler,
        match: re.Match[str] | None,
        method: str,
        params: dict[str, Any],
        started: float,
        entry: dict[str, Any],
    ) -> tuple[int, Any]:
        if not self._take_bucket():
            with self._lock:
                self.limit_rejections += 1
            return 503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
        fault = self._take_fault(method)
        if fault is not None and fault.mode == "timeout":
            time.sleep(self.timeout_sleep_seconds)
        elif fault is not None:
            return self._fault_answer(handler, fault, method, started)
        if match is None or match.group(1) != self.user_id or match.group(2) != self.code:
            return 401, {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}
        try:
            if method == "batch":
                result = self._batch(params, entry)
                return 200, {"result": result, "time": self._time_block(started)}
            result, extra = self._run(method, params, top_level=True)
        except ApiError as exc:
            body: dict[str, Any] = {"error": exc.code, "error_description": exc.description}
            if exc.code == "OPERATION_TIME_LIMIT":
                body["time"] = self._time_block(started, method)
            return exc.status, body
        return 200, {"result": result, **extra, "time": self._time_block(started, method)}

    def _fault_answer(self, handler: _Handler, fault: _Fault, method: str, started: float) -> tuple[int, Any]:
        """(status, body); body None when the answer was already sent (not JSON)."""
        mode = fault.mode
        if mode == "http500":
            return 500, {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
        if mode in ("html500", "garbage", "truncated"):
            status = 500 if mode == "html500" else 200
            body = (
                b'{"result": [{"ID": "75", "NA'
                if mode == "truncated"
                else b"<html><body>Bitrix24 is busy</body></html>"
            )
            _respond(handler, status, body, "application/json" if mode == "truncated" else "text/html")
            return status, None
        if mode == "401":
            return 401, {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}
        if mode == "403_scope":
            return 403, {
                "error": "insufficient_scope",
                "error_description": "The request requires higher privileges than provided by the webhook token",
            }
        if mode == "403_rights":
            return 403, {"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"}
        if mode == "403_plan":
            return 403, {"error": "ACCESS_DENIED", "error_description": "REST is available only on commercial plans."}
        if mode == "access_denied":
            return 400, {"error": "", "error_description": "Access denied."}
        if mode == "429":
            self.limit_operation(method, fault.reset_seconds)
            return 429, {
                "error": "OPERATION_TIME_LIMIT",
                "error_description": "Method is blocked due to operation time limit.",
                "time": self._time_block(started, method),
            }
        if mode == "503":
            return 503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
        raise AssertionError(mode)

    def _batch(self, params: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
        commands = _param(params, "cmd", {})
        if isinstance(commands, list):
            commands = {str(i): c for i, c in enumerate(commands)}
        if not isinstance(commands, dict):
            raise ApiError(400, "INVALID_ARG_VALUE", "cmd must be an object")
        if len(commands) > BATCH_MAX:
            raise ApiError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
        halt = str(_param(params, "halt", "0")) in ("1", "true", "True")
        result: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        totals: dict[str, int] = {}
        nexts: dict[str, int] = {}
        times: dict[str, Any] = {}
        entry["methods"] = []
        for key, command in commands.items():
            text = str(command)
            name, _, query = text.partition("?")
            name = name.strip().lower().removesuffix(".json")
            entry["methods"].append(name)
            started = time.time()
            try:
                if name == "batch":
                    raise ApiError(400, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage")
                sub = parse_brackets(parse_qsl(query, keep_blank_values=True))
                value, extra = self._run(name, sub, top_level=False)
            except ApiError as exc:
                errors[key] = {"error": exc.code, "error_description": exc.description}
                if halt:
                    break
                continue
            result[key] = value
            if "total" in extra:
                totals[key] = extra["total"]
            if "next" in extra:
                nexts[key] = extra["next"]
            times[key] = self._time_block(started, name)
        # PHP's empty arrays are JSON lists (spec §8 shows objects; an empty one arrives as [])
        return {
            "result": result or [],
            "result_error": errors or [],
            "result_total": totals or [],
            "result_next": nexts or [],
            "result_time": times or [],
        }

    def _run(self, method: str, params: dict[str, Any], *, top_level: bool) -> tuple[Any, dict[str, Any]]:
        if method.startswith("crm.") and "crm" not in self.scopes:
            raise ApiError(
                403, "insufficient_scope", "The request requires higher privileges than provided by the webhook token"
            )
        blocked = self._operation_blocked.get(method, 0.0)
        if blocked > time.time():
            raise ApiError(429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.")
        if method in self.denied_methods:
            raise ApiError(400, "", "Access denied.")
        handler = _METHODS.get(method)
        if handler is None:
            raise ApiError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        with self._lock:
            return handler(self, params)

    # --- methods -----------------------------------------------------------------------------------------------------

    def _table(self, kind: str) -> dict[int, dict[str, Any]]:
        return {
            "contact": self.contacts,
            "company": self.companies,
            "lead": self.leads,
            "deal": self.deals,
        }[kind]

    def _list(self, rows: list[dict[str, Any]], params: dict[str, Any], *, multi: tuple[str, ...] = ()) -> tuple:
        filters = _param(params, "filter", {}) or {}
        if not isinstance(filters, dict):
            raise ApiError(400, "", "Invalid filter")
        chosen = [row for row in rows if all(_filter_ok(row, key, value) for key, value in filters.items())]
        order = _param(params, "order", {}) or {}
        if isinstance(order, dict) and order:
            for field, direction in reversed(list(order.items())):
                chosen.sort(key=lambda r, f=field: _sort_key(r.get(f)), reverse=str(direction).upper() == "DESC")
        else:
            chosen.sort(key=lambda r: _sort_key(r.get("ID")))
        select = _param(params, "select", []) or []
        if isinstance(select, dict):
            select = list(select.values())
        select = [str(s) for s in select]
        start_raw = _param(params, "start", 0)
        try:
            start = int(start_raw or 0)
        except (TypeError, ValueError):
            start = 0
        page_from = 0 if start < 0 else start
        page = chosen[page_from : page_from + PAGE]
        shaped = [_select(row, select, multi) for row in page]
        extra: dict[str, Any] = {}
        if start >= 0:
            extra["total"] = len(chosen)
            if page_from + PAGE < len(chosen):
                extra["next"] = page_from + PAGE
        return shaped, extra

    def _find_by_comm(self, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        if not self.find_by_comm_enabled:
            raise ApiError(400, "", "Access denied.")
        kind = str(_param(params, "type", "")).upper()
        values = _param(params, "values", [])
        if isinstance(values, dict):
            values = list(values.values())
        if kind not in ("PHONE", "EMAIL"):
            raise ApiError(400, "", "Communication type is not defined or invalid.")
        if not isinstance(values, list) or not values:
            raise ApiError(400, "", "Communication values is not defined.")
        if len(values) > 20:
            raise ApiError(400, "", "Too many communication values (max 20).")
        # The duplicate index compares phones by their digits [unconfirmed: how far Bitrix24 normalises; digits and
        # the 9-digit core is the plausible reading of "duplicates" across written forms]
        wanted = {_digits(v) for v in values if _digits(v)}
        only = str(_param(params, "entity_type", "") or "").upper()
        found: dict[str, list[int]] = {}
        for type_name, table in (("CONTACT", self.contacts), ("COMPANY", self.companies), ("LEAD", self.leads)):
            if only and only != type_name:
                continue
            key = (type_name, "PHONE_DIGITS")
            cached = self._indexes.get(key)
            if cached is None or cached[0] != len(table):
                by_digits: dict[str, list[int]] = {}
                for entity_id, row in sorted(table.items()):
                    for p in row.get("PHONE") or []:
                        by_digits.setdefault(_digits(p.get("VALUE")), []).append(entity_id)
                cached = self._indexes[key] = (len(table), by_digits)
            ids = sorted({entity_id for digits in wanted for entity_id in cached[1].get(digits, ())})
            if ids:
                found[type_name] = ids[:20]
        return (found or []), {}  # nothing: [] (spec §6: [unconfirmed], PHP's empty array)

    def _status_list(self, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        rows, _ = self._list(list(self.statuses), {**params, "start": -1})
        order = _param(params, "order", None)
        if not order:
            rows.sort(key=lambda r: (r["ENTITY_ID"], int(r["SORT"])))
        return rows, {}  # no paging (spec §7)

    def _category_list(self, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        if str(_param(params, "entityTypeId", "")) != "2":
            raise ApiError(400, "NOT_FOUND", "Entity type is not supported")
        categories = [
            {
                "id": int(fid),
                "name": name,
                "sort": (index + 1) * 100,
                "entityTypeId": 2,
                "isDefault": "Y" if fid == "0" else "N",
            }
            for index, (fid, name) in enumerate(sorted(self.funnels.items(), key=lambda item: int(item[0])))
        ]
        return {"categories": categories}, {"total": len(categories)}

    def _owner_exists(self, entity_type: str, entity_id: Any) -> bool:
        table = {"lead": self.leads, "deal": self.deals, "contact": self.contacts, "company": self.companies}.get(
            str(entity_type).lower()
        )
        return table is not None and str(entity_id).isdigit() and int(entity_id) in table

    def _comment_add(self, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        fields = params.get("fields")  # spec §8: the key must be lowercase
        if not isinstance(fields, dict):
            raise ApiError(400, "", "Parameter 'fields' is required.")
        if not self._owner_exists(fields.get("ENTITY_TYPE", ""), fields.get("ENTITY_ID")):
            raise ApiError(400, "OWNER_NOT_FOUND", "Owner not found.")
        if not str(fields.get("COMMENT") or "").strip():
            raise ApiError(400, "INVALID_ARG_VALUE", "Empty comment.")
        comment_id = self._id()
        self.comments[comment_id] = {
            "ID": str(comment_id),
            "ENTITY_ID": str(fields["ENTITY_ID"]),
            "ENTITY_TYPE": str(fields["ENTITY_TYPE"]).lower(),
            "COMMENT": str(fields["COMMENT"]),
            "CREATED": _wire_time(datetime.now(UTC)),
            "AUTHOR_ID": self.user_id,
        }
        return comment_id, {}

    def _comment_update(self, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        comment_id = str(_param(params, "id", ""))
        fields = params.get("fields")
        if not comment_id.isdigit() or int(comment_id) not in self.comments:
            raise ApiError(400, "NOT_FOUND", "Comment not found.")
        if not isinstance(fields, dict) or not str(fields.get("COMMENT") or "").strip():
            raise ApiError(400, "INVALID_ARG_VALUE", "Empty comment.")
        self.comments[int(comment_id)]["COMMENT"] = str(fields["COMMENT"])
        return int(comment_id), {}

    def _comment_list(self, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return self._list(list(self.comments.values()), params)

    def _activity_add(self, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        fields = _param(params, "fields")
        if not isinstance(fields, dict):
            raise ApiError(400, "", "Parameter 'fields' is required.")
        for required in ("OWNER_TYPE_ID", "OWNER_ID", "TYPE_ID", "SUBJECT", "RESPONSIBLE_ID", "COMMUNICATIONS"):
            if not fields.get(required):
                raise ApiError(400, "", f"The field {required} is not defined or empty.")
        owner = _ENTITY_TYPES.get(str(fields["OWNER_TYPE_ID"]), "")
        if not self._owner_exists(owner, fields["OWNER_ID"]):
            raise ApiError(400, "", "Owner not found.")
        activity_id = self._id()
        self.activities[activity_id] = {
            "ID": str(activity_id),
            **{k: v if isinstance(v, list | dict) else str(v) for k, v in fields.items()},
        }
        return activity_id, {}

    def _activity_update(self, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        activity_id = str(_param(params, "id", ""))
        fields = _param(params, "fields")
        if not activity_id.isdigit() or int(activity_id) not in self.activities:
            raise ApiError(400, "", "Activity not found.")
        if not isinstance(fields, dict):
            raise ApiError(400, "", "Parameter 'fields' is required.")
        self.activities[int(activity_id)].update(
            {k: v if isinstance(v, list | dict) else str(v) for k, v in fields.items()}
        )
        return True, {}

    def _activity_list(self, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return self._list(list(self.activities.values()), params)

    def _profile(self, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return {"ID": self.user_id, "ADMIN": False, "NAME": "Webhook", "LAST_NAME": "User"}, {}


INDEXED = ("ID", "CONTACT_ID", "COMPANY_ID", "PHONE")  # equality filters answered from an index, not a scan


def _entity_list(kind: str):
    def run(fake: FakeBitrix24, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return fake._list(fake._candidates(kind, params), params, multi=("PHONE", "EMAIL"))

    return run


def _index_values(row: dict[str, Any], field: str) -> list[str]:
    if field == "PHONE":
        return [str(p.get("VALUE")) for p in row.get("PHONE") or []]
    value = row.get(field)
    return [] if value in (None, "") else [str(value)]


def _candidates(fake: FakeBitrix24, kind: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows an equality filter on an indexed field can match (the filter itself still decides), so lookups over
    tens of thousands of seeded records cost what they cost a real portal: the bench measures the client, not a scan.
    The index is rebuilt when the table grows (rows are only ever added, never re-keyed)."""
    table = fake._table(kind)
    filters = _param(params, "filter", {}) or {}
    if isinstance(filters, dict):
        for field in INDEXED:
            want = filters.get(field)
            if want is None or isinstance(want, (list, dict)) or str(want) in ("", "0"):
                continue  # lists, and "no value" (which also matches empty fields), take the scan
            key = (kind, field)
            cached = fake._indexes.get(key)
            if cached is None or cached[0] != len(table):
                mapping: dict[str, list[dict[str, Any]]] = {}
                for row in table.values():
                    for value in _index_values(row, field):
                        mapping.setdefault(value, []).append(row)
                cached = fake._indexes[key] = (len(table), mapping)
            return list(cached[1].get(str(want), ()))
    return list(table.values())


FakeBitrix24._candidates = _candidates  # type: ignore[attr-defined]


_METHODS: dict[str, Any] = {
    "crm.contact.list": _entity_list("contact"),
    "crm.company.list": _entity_list("company"),
    "crm.lead.list": _entity_list("lead"),
    "crm.deal.list": _entity_list("deal"),
    "crm.duplicate.findbycomm": FakeBitrix24._find_by_comm,
    "crm.status.list": FakeBitrix24._status_list,
    "crm.category.list": FakeBitrix24._category_list,
    "crm.timeline.comment.add": FakeBitrix24._comment_add,
    "crm.timeline.comment.update": FakeBitrix24._comment_update,
    "crm.timeline.comment.list": FakeBitrix24._comment_list,
    "crm.activity.add": FakeBitrix24._activity_add,
    "crm.activity.update": FakeBitrix24._activity_update,
    "crm.activity.list": FakeBitrix24._activity_list,
    "profile": FakeBitrix24._profile,
}


def _sort_key(value: Any) -> tuple[int, Any]:
    text = "" if value is None else str(value)
    return (0, int(text)) if text.lstrip("-").isdigit() else (1, text)


def _compare(have: Any, want: Any) -> int | None:
    """-1/0/1 of a row's value against a filter's, numbers and datetimes by value; None when not comparable."""
    if have is None or have == "":
        return None
    a, b = str(have), str(want)
    if a.lstrip("-").isdigit() and b.lstrip("-").isdigit():
        x, y = int(a), int(b)
        return (x > y) - (x < y)
    try:
        da, db = datetime.fromisoformat(a), datetime.fromisoformat(b)
        if da.tzinfo and db.tzinfo:
            return (da > db) - (da < db)
    except ValueError:
        pass
    return (a > b) - (a < b)


def _filter_ok(row: dict[str, Any], key: str, want: Any) -> bool:
    match = re.match(r"^(>=|<=|!=|>|<|=|!|@)?(.+)$", key)
    assert match
    op, field = match.group(1) or "=", match.group(2)
    have = row.get(field)
    if field in ("PHONE", "EMAIL"):  # multiple fields: exact match on a VALUE only (spec §5: no LIKE, no normalising)
        values = {str(p.get("VALUE")) for p in have or []}
        wanted = set(map(str, want)) if isinstance(want, list) else {str(want)}
        hit = bool(values & wanted)
        return not hit if op in ("!", "!=") else hit
    if isinstance(want, list) or op == "@":
        options = {str(w) for w in (want if isinstance(want, list) else [want])}
        hit = str(have) in options
        return not hit if op in ("!", "!=") else hit
    if op in ("=",):
        return str(have if have is not None else "") == str(want) or (have is None and str(want) in ("", "0"))
    if op in ("!", "!="):
        return str(have if have is not None else "") != str(want)
    order = _compare(have, want)
    if order is None:
        return False
    return {">": order > 0, ">=": order >= 0, "<": order < 0, "<=": order <= 0}[op]


def _select(row: dict[str, Any], select: list[str], multi: tuple[str, ...]) -> dict[str, Any]:
    if not select or "*" in select:
        # spec §5: PHONE (a multiple field) only when named in select
        shaped = {k: v for k, v in row.items() if k not in multi}
        for name in select:
            if name in multi and name in row:
                shaped[name] = row[name]
        return shaped
    shaped = {}
    for name in select:
        if name in row:
            if name in multi and not row[name]:
                continue  # omitted when empty
            shaped[name] = row[name]
    if "ID" in row and "ID" not in shaped:
        shaped["ID"] = row["ID"]
    return shaped


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            return
        logger.exception("fake_bitrix24_handler_failed")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeBitrix24/1.0"
    disable_nagle_algorithm = True
    timeout = 60
    fake: FakeBitrix24

    def do_POST(self) -> None:
        self.fake._handle(self, "POST")

    def do_GET(self) -> None:
        self.fake._handle(self, "GET")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake_bitrix24_request", extra={"line": format % args})


def _respond(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True


def _respond_json(handler: BaseHTTPRequestHandler, payload: Any, *, status: int = 200) -> None:
    _respond(handler, status, json.dumps(payload, ensure_ascii=False).encode(), "application/json; charset=utf-8")


# --- the demo's portal ------------------------------------------------------------------------------------------------

_FIRST = ["Aziza", "Jamshid", "Dilshod", "Madina", "Sherzod", "Kamola", "Rustam", "Feruza", "Ulug'bek", "Zarina"]
_LAST = ["Rahimova", "Karimov", "Tursunov", "Yusupova", "Aliyev", "Nazarova", "Mirzayev", "Ismoilova", "Qodirov"]


def written_forms(phone: str, index: int) -> str:
    """One of the ways a CRM user types the number, by ``index``: +998901234567, 998901234567, 901234567,
    +998 90 123 45 67, +998 (90) 123-45-67."""
    digits = _digits(phone)
    core = digits[-9:] if len(digits) >= 9 else digits
    code, rest = core[:2], core[2:]
    forms = [
        f"+998{core}",
        f"998{core}",
        core,
        f"+998 {code} {rest[:3]} {rest[3:5]} {rest[5:]}",
        f"+998 ({code}) {rest[:3]}-{rest[3:5]}-{rest[5:]}",
    ]
    return forms[index % len(forms)]


def demo_seed(fake: FakeBitrix24, phones: list[str], *, now: datetime | None = None, seed: int = 0) -> dict[str, int]:
    """The demo company's portal: for most numbers a contact (some a company or a lead) with its phone written in
    one of the Uzbek forms, deals in two funnels, and deals scheduled to move to won or lost over the next hour
    (``advance(now)`` applies them). About one number in eight has no CRM record ("no CRM match")."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    fake.add_funnel("7", "Kurslar")
    counts: Counter[str] = Counter()
    for index, phone in enumerate(dict.fromkeys(p for p in phones if len(_digits(p)) >= 9)):
        roll = rng.random()
        written = written_forms(phone, index)
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        created = now - timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 23))
        if roll < 0.12:
            counts["unknown"] += 1
            continue
        if roll < 0.22:
            fake.add_lead(f"Lead {first}", name=first, last_name=last, phones=[written], at=created)
            counts["leads"] += 1
            continue
        if roll < 0.32:
            party = {"company_id": fake.add_company(f"{last} Savdo MChJ", phones=[written], at=created)}
            counts["companies"] += 1
        else:
            party = {"contact_id": fake.add_contact(first, last, phones=[written], at=created)}
            counts["contacts"] += 1
        funnel = "7" if rng.random() < 0.4 else "0"
        for _ in range(1 if rng.random() < 0.8 else 2):
            title = "Python kursi" if funnel == "7" else f"Buyurtma #{rng.randint(1000, 9999)}"
            deal = fake.add_deal(
                title, funnel_id=funnel, stage="NEW", amount=f"{rng.randint(5, 90) * 100000}.00", at=created, **party
            )
            counts["deals"] += 1
            outcome = rng.random()
            if outcome < 0.3:
                fake.move_deal(deal, "WON", at=created + timedelta(days=1))
            elif outcome < 0.5:
                fake.move_deal(deal, "LOSE", at=created + timedelta(days=1))
            elif outcome < 0.85:  # still open now, closes during the demo
                stage = "WON" if rng.random() < 0.55 else "LOSE"
                fake.schedule_move(deal, stage, now + timedelta(minutes=rng.randint(2, 60)))
                counts["scheduled"] += 1
    return dict(counts)


def demo_phones(calls: int, seed: int) -> list[str]:
    """The customer numbers of the fake OnlinePBX's generated calls (same ``--calls``/``--seed``), so the demo's
    calls find their clients here."""
    from integrations.testing.onlinepbx import FakeOnlinePbx

    pbx = FakeOnlinePbx()
    pbx.add_calls_generated(calls, start=datetime(2026, 1, 1, tzinfo=UTC), seed=seed)
    phones = []
    for record in pbx.calls.values():
        number = record["caller_id_number"] if record["accountcode"] == "inbound" else record["destination_number"]
        phones.append(str(number))
    return phones


# --- a worker process for the shared-bucket test ---------------------------------------------------------------------


def bucket_worker(webhook_url: str, rate: float, burst: int, requests: int, redis_url: str, prefix: str) -> list[str]:
    """Sends ``requests`` reads through the real client, gated by the Redis bucket under ``prefix``; returns each
    outcome ("ok" or the error's class name). Runs in a spawned process: no Django needed."""
    from integrations.crm.bitrix import BitrixClient
    from integrations.limits import LocalLimits, RedisLimits

    limits = RedisLimits(redis_url, prefix=prefix) if redis_url else LocalLimits()
    client = BitrixClient(webhook_url, rate=rate, burst=burst, limits=limits, wait_seconds=60.0, max_retries=0)
    outcomes = []
    for _ in range(requests):
        try:
            client.call("crm.contact.list", {"select": ["ID"], "start": -1})
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001 - the test counts every kind of failure
            outcomes.append(type(exc).__name__)
    return outcomes


# --- CLI --------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m integrations.testing.bitrix24", description="Serve a fake Bitrix24."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--user-id", default="1")
    parser.add_argument("--code", default="k3x9q2w8e7r6t5y4")
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--tls", action="store_true", help="serve https with a self-signed certificate")
    parser.add_argument("--seed", choices=["none", "demo"], default="demo")
    parser.add_argument("--pbx-calls", type=int, default=40, help="the fake OnlinePBX's --calls, for its numbers")
    parser.add_argument("--pbx-seed", type=int, default=0, help="the fake OnlinePBX's --seed")
    parser.add_argument("--phones", default="", help="comma-separated numbers to seed instead")
    args = parser.parse_args(argv)

    fake = FakeBitrix24(
        host=args.host,
        port=args.port,
        user_id=args.user_id,
        code=args.code,
        rate=args.rate,
        burst=args.burst,
        tls=args.tls,
    )
    counts: dict[str, int] = {}
    if args.seed == "demo":
        phones = [p for p in args.phones.split(",") if p.strip()] or demo_phones(args.pbx_calls, args.pbx_seed)
        counts = demo_seed(fake, phones)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fake.start()
    print(f"Fake Bitrix24 serving at {fake.portal_url}", flush=True)
    print(f"  webhook URL: {fake.webhook_url}", flush=True)
    if fake.ca_file:
        print(f"  certificate: {fake.ca_file} (REQUESTS_CA_BUNDLE)", flush=True)
    print(f"  seeded: {counts}", flush=True)
    while not stop.wait(5.0):
        for deal_id in fake.advance():
            print(f"  deal {deal_id} moved to {fake.deals[int(deal_id)]['STAGE_ID']}", flush=True)
    fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
