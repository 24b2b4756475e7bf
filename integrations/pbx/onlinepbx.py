"""OnlinePBX HTTP API v2 client (wire format: shared/specs/onlinepbx.md).

Not thread-safe: one client per tenant, calls kept serial (spec §8).
"""

import json
import logging
import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from operator import attrgetter
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

import requests

from integrations.errors import RateLimited
from integrations.http import make_session
from integrations.pbx.base import Direction, HistoryBy, PbxCall, PbxCallWindow, PbxOperator, PbxRejectedRecord
from integrations.pbx.errors import (
    PbxAuthError,
    PbxBadResponse,
    PbxUnavailable,
    RecordingLinkExpired,
    RecordingNotAudio,
    RecordingTooLarge,
)
from integrations.wire import type_name

logger = logging.getLogger(__name__)

MAX_WINDOW = timedelta(days=7)  # spec §5: a range query may span at most 7 days (604 800 s)
AUTH_HEADER = "x-pbx-authentication"
_AUTH_ERROR_CODES = frozenset({"API_KEY_CHECK_FAILED", "WRONG_AUTH_DATA"})
_NOT_AUTH_TRUE = (True, 1, "1", "true")
_DIRECTIONS: dict[str, Direction] = {"inbound": "inbound", "outbound": "outbound"}
_SEARCH = "mongo_history/search.json"
_CHUNK_BYTES = 64 * 1024
_NOT_AUDIO_TYPES = frozenset({"text/html", "application/json"})  # error pages served with 200 by proxies
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\Z")  # a host name: nothing that ends the path
_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}\Z")


class OnlinePbxClient:
    def __init__(
        self,
        base_url: str,
        domain: str,
        auth_key: str,
        *,
        key_pair: tuple[str, str] | None = None,
        on_new_key_pair: Callable[[str, str], None] | None = None,
        window: timedelta = timedelta(days=1),
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5, 30),
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("OnlinePBX base URL must start with http:// or https://")
        base = urlsplit(base_url)
        if base.query or base.fragment or "?" in base_url or "#" in base_url or "@" in base.netloc:
            raise ValueError("OnlinePBX base URL must not carry credentials, a query or a fragment")
        if not _DOMAIN.match(domain):
            raise ValueError("OnlinePBX domain must look like pbx12345.onpbx.ru")
        if not timedelta(seconds=1) <= window <= MAX_WINDOW:
            raise ValueError("OnlinePBX history window must be between 1 second and 7 days")
        self.domain = domain
        self._api_root = f"{base_url.rstrip('/')}/{quote(domain, safe='')}"
        self._auth_key = auth_key
        self._key_pair = key_pair
        self._on_new_key_pair = on_new_key_pair
        self._window_seconds = int(window.total_seconds())
        self._session = session if session is not None else make_session(timeout=timeout)
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"OnlinePbxClient(domain={self.domain!r})"  # keeps the keys out of logs and tracebacks

    @property
    def key_pair(self) -> tuple[str, str] | None:
        return self._key_pair

    # --- PbxClient -------------------------------------------------------------------------------------------------

    def list_operators(self) -> list[PbxOperator]:
        data = self._call("user/get.json", {})
        if not isinstance(data, list):
            raise PbxBadResponse(f"OnlinePBX user/get.json returned {type_name(data)} instead of a list of users")
        return [parse_operator(item) for item in data]

    def list_calls(self, *, since: datetime, until: datetime, by: HistoryBy = "start") -> Iterator[PbxCallWindow]:
        """Calls that started (``by="end"``: ended) in ``[since, until)``: one list per window (empty ones too),
        chronological.

        ``by="end"`` filters on ``end_stamp_from``/``end_stamp_to`` (spec §5), so a long call that the PBX lists only
        once it has ended is in the window of its end, however long before that it started. The window bounds are
        also applied here, so the result does not depend on whether the PBX treats the upper bound as inclusive; a
        uuid already yielded is never yielded again. A record the parser refuses is skipped and named (uuid and our
        reason, never its body) in the window's ``rejected``: one bad record never blocks the others.
        """
        _require_aware(since, "since")
        _require_aware(until, "until")
        if by not in ("start", "end"):
            raise ValueError("by must be 'start' or 'end'")
        # Integer bounds of [since, until) for whole-second stamps.
        return self._iter_windows(math.ceil(since.timestamp()), math.ceil(until.timestamp()), by=by)

    def _iter_windows(self, first: int, stop: int, *, by: HistoryBy) -> Iterator[PbxCallWindow]:
        seen: set[str] = set()
        rejected_seen: set[str] = set()
        stamp_of = attrgetter("ended_at" if by == "end" else "started_at")
        for window_from in range(first, stop, self._window_seconds):
            window_to = min(window_from + self._window_seconds, stop)
            form = {f"{by}_stamp_from": str(window_from), f"{by}_stamp_to": str(window_to)}
            data = self._call(_SEARCH, form)
            if data is None or data == "":
                data = []
            if not isinstance(data, list):
                raise PbxBadResponse(f"OnlinePBX call history returned {type_name(data)} instead of a list of calls")
            window = PbxCallWindow()
            outside = 0
            for record in data:
                try:
                    call = parse_call(record)
                except PbxBadResponse as exc:
                    call_id = _record_uuid(record)
                    if call_id not in rejected_seen or not call_id:
                        rejected_seen.add(call_id)
                        window.rejected.append(PbxRejectedRecord(pbx_call_id=call_id, reason=str(exc)))
                    continue
                stamp = int(stamp_of(call).timestamp())
                if not window_from <= stamp < window_to:
                    outside += 1
                    continue
                if call.pbx_call_id in seen:
                    continue
                seen.add(call.pbx_call_id)
                window.append(call)
            window.sort(key=attrgetter("started_at", "pbx_call_id"))
            log = logger.warning if window.rejected else logger.info
            log(
                "pbx_calls_window_fetched",
                extra={
                    "pbx_domain": self.domain,
                    "window_from": window_from,
                    "window_to": window_to,
                    "window_by": by,
                    "calls": len(window),
                    "records": len(data),
                    "outside_window": outside,
                    "rejected": len(window.rejected),
                },
            )
            yield window

    def get_call(self, pbx_call_id: str) -> list[PbxCall]:
        """The call with this uuid ([] when the PBX does not know it); uuid lookups have no window limit."""
        if not pbx_call_id:
            raise ValueError("pbx_call_id is required")
        data = self._call(_SEARCH, {"uuid": pbx_call_id})
        if data is None or data == "":
            data = []
        if not isinstance(data, list):
            raise PbxBadResponse(f"OnlinePBX call lookup returned {type_name(data)} instead of a list of calls")
        return [call for call in map(parse_call, data) if call.pbx_call_id == pbx_call_id]

    def recording_url(self, pbx_call_id: str) -> str | None:
        if not pbx_call_id:
            # An empty uuid would turn this into an archive request for the whole history.
            raise ValueError("pbx_call_id is required")
        data = self._call(_SEARCH, {"uuid": pbx_call_id, "download": "1"})
        if data is None or data == "" or data == [] or data == {}:
            return None
        if not isinstance(data, str):
            raise PbxBadResponse(
                f"OnlinePBX answered the recording request for call {pbx_call_id} with {type_name(data)} "
                "instead of a link"
            )
        url = data.strip()
        if not url.startswith(("http://", "https://")):
            raise PbxBadResponse(
                f"OnlinePBX answered the recording request for call {pbx_call_id} with something that is not a link"
            )
        return url

    def download_recording(self, url: str, dest: BinaryIO, *, max_bytes: int) -> int:
        where = urlsplit(url).netloc or "unknown host"  # the path carries the download token: keep it out of messages
        try:
            # No auth header: the link is the credential (spec §6), and the key must not travel to a file host.
            with self._session.get(url, stream=True, timeout=self._timeout) as response:
                status = response.status_code
                if status == 429:
                    raise _rate_limited(response, f"recording download from {where}")
                if status >= 500:
                    raise PbxUnavailable(f"The OnlinePBX recording host {where} answered HTTP {status}")
                if status != 200:
                    # Only the API's empty link means "no recording" (spec §6); a link that fails is asked afresh.
                    raise RecordingLinkExpired(
                        f"The OnlinePBX recording link ({where}) answered HTTP {status}: "
                        "the link expired or the file is not there yet"
                    )
                content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
                if content_type in _NOT_AUDIO_TYPES:
                    # The body is never shown: only what kind of answer it was.
                    raise RecordingNotAudio(
                        f"The OnlinePBX recording link ({where}) returned {content_type} instead of audio"
                    )
                length = response.headers.get("Content-Length", "")
                if length.isdigit() and int(length) > max_bytes:
                    raise RecordingTooLarge(
                        f"The recording is {_megabytes(int(length))}, over the {_megabytes(max_bytes)} limit"
                    )
                written = 0
                for chunk in response.iter_content(chunk_size=_CHUNK_BYTES):
                    written += len(chunk)
                    if written > max_bytes:
                        raise RecordingTooLarge(f"The recording is larger than the {_megabytes(max_bytes)} limit")
                    dest.write(chunk)
        except requests.Timeout as exc:
            raise PbxUnavailable(f"The OnlinePBX recording host {where} did not answer in time") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise PbxUnavailable(f"The recording download from {where} was interrupted or could not connect") from exc
        except requests.RequestException as exc:
            # e.g. a body that does not decompress: the next try gets a fresh link (spec §6: anything but "no
            # recording" is retryable)
            raise PbxUnavailable(f"The recording download from {where} failed: {type(exc).__name__}") from exc
        logger.info("pbx_recording_downloaded", extra={"pbx_domain": self.domain, "bytes": written})
        return written

    # --- wire --------------------------------------------------------------------------------------------------------

    def _call(self, method: str, form: dict[str, str]) -> Any:
        """POST an authorised method and return its ``data``; re-authenticates once on an auth failure (spec §3)."""
        if self._key_pair is None:
            self._authenticate()
        body = self._send(method, form, authorised=True)
        if _is_auth_failure(body):
            logger.warning(
                "pbx_key_pair_rejected",
                extra={"pbx_domain": self.domain, "method": method, "reason": _comment(body)},
            )
            self._authenticate()
            body = self._send(method, form, authorised=True)
            if _is_auth_failure(body):
                raise PbxAuthError(
                    f"OnlinePBX {self.domain} rejected a freshly issued key pair for {method} ({_comment(body)}); "
                    "check the API key and the API access in the PBX panel"
                )
        return self._data(method, body)

    def _authenticate(self) -> None:
        body = self._send("auth.json", {"auth_key": self._auth_key}, authorised=False)
        if _status(body) == "0":
            self._raise_if_unknown_domain(body)
            raise PbxAuthError(
                f"OnlinePBX {self.domain} did not accept the API key ({_comment(body)}); "
                "copy it again from the PBX panel: Integration → API"
            )
        data = self._data("auth.json", body)
        key_id = data.get("key_id") if isinstance(data, dict) else None
        key = data.get("key") if isinstance(data, dict) else None
        if not isinstance(key_id, str) or not key_id or not isinstance(key, str) or not key:
            raise PbxBadResponse("OnlinePBX auth.json answered without a key_id/key pair")
        pair = (key_id, key)
        is_new = pair != self._key_pair
        self._key_pair = pair
        logger.info("pbx_authenticated", extra={"pbx_domain": self.domain, "is_new_pair": is_new})
        if is_new and self._on_new_key_pair is not None:
            self._on_new_key_pair(key_id, key)

    def _send(self, method: str, form: dict[str, str], *, authorised: bool) -> dict[str, Any]:
        """One POST; transport failures become typed errors, the JSON envelope is returned unchecked."""
        headers = None
        if authorised and self._key_pair is not None:
            headers = {AUTH_HEADER: f"{self._key_pair[0]}:{self._key_pair[1]}"}
        try:
            response = self._session.post(
                f"{self._api_root}/{method}", data=form, headers=headers, timeout=self._timeout
            )
        except requests.Timeout as exc:
            raise PbxUnavailable(f"OnlinePBX did not answer {method} in time") from exc
        except requests.ConnectionError as exc:
            raise PbxUnavailable(f"Cannot connect to OnlinePBX at {urlsplit(self._api_root).netloc}") from exc
        except requests.RequestException as exc:
            raise PbxBadResponse(f"The request to OnlinePBX {method} failed: {type(exc).__name__}") from exc
        status = response.status_code
        if status == 429:
            raise _rate_limited(response, method)
        if status >= 500:
            raise PbxUnavailable(f"OnlinePBX answered HTTP {status} to {method}")
        if status == 403:
            # Spec §3: one client saw expired keys as a bare 403; treat it like isNotAuth.
            return {"status": "0", "isNotAuth": True, "comment": "HTTP 403 Forbidden"}
        try:
            body = json.loads(response.content)
        except ValueError:
            # Fixed text: whatever the host sent (an error page, another service's answer) is never shown or logged.
            raise PbxBadResponse(
                f"OnlinePBX answered {method} with HTTP {status} and something that is not JSON"
            ) from None
        if not isinstance(body, dict):
            raise PbxBadResponse(f"OnlinePBX answered {method} with {type_name(body)} instead of a JSON object")
        if "status" not in body:
            raise PbxBadResponse(f"OnlinePBX answer to {method} (HTTP {status}) has no status field")
        return body

    def _data(self, method: str, body: dict[str, Any]) -> Any:
        status = _status(body)
        if status == "1":
            return body.get("data")
        if status == "0":
            self._raise_if_unknown_domain(body)
            raise PbxBadResponse(f"OnlinePBX refused {method}: {_comment(body)}")
        raise PbxBadResponse(f"OnlinePBX answered {method} with an unknown status")

    def _raise_if_unknown_domain(self, body: dict[str, Any]) -> None:
        if body.get("errorCode") == "DOMAIN_NOT_FOUND":
            raise PbxAuthError(
                f"OnlinePBX does not know the PBX domain {self.domain!r}; check the domain in the PBX settings"
            )


# --- parsing (hot path: the sync bench parses 10 000 records) ------------------------------------------------------


def parse_operator(item: Any) -> PbxOperator:
    if not isinstance(item, dict):
        raise PbxBadResponse(f"OnlinePBX user record is {type_name(item)}, not an object")
    num = item.get("num")
    if num is None or num == "" or isinstance(num, bool | dict | list):
        raise PbxBadResponse("OnlinePBX user record has no extension number (num)")
    name = item.get("name")
    enabled = item.get("enabled", True)
    if isinstance(enabled, str):
        enabled = enabled.strip().lower() not in ("", "0", "false", "no")
    return PbxOperator(
        pbx_user_id=str(num).strip(),
        name=name.strip() if isinstance(name, str) else "",
        is_active=bool(enabled),
    )


def parse_call(record: Any) -> PbxCall:
    """One ``mongo_history/search.json`` record → PbxCall; raises PbxBadResponse rather than guessing."""
    if type(record) is not dict:
        raise PbxBadResponse(f"OnlinePBX call record is {type_name(record)}, not an object")
    call_id = record.get("uuid")
    if not isinstance(call_id, str) or not call_id:
        raise PbxBadResponse("OnlinePBX call record has no uuid")
    accountcode = record.get("accountcode")
    direction = _DIRECTIONS.get(accountcode) if type(accountcode) is str else None
    if direction is None and isinstance(accountcode, str):
        direction = _DIRECTIONS.get(accountcode.strip().lower())
    if direction is None:
        raise PbxBadResponse(f"OnlinePBX call {call_id} has an unknown direction (accountcode)")
    start = _int(record, "start_stamp", call_id)
    has_end = record.get("end_stamp") is not None
    has_duration = record.get("duration") is not None
    if not has_end and not has_duration:
        raise PbxBadResponse(f"OnlinePBX call {call_id} has neither end_stamp nor duration")
    end = _int(record, "end_stamp", call_id) if has_end else start + _int(record, "duration", call_id)
    duration = _int(record, "duration", call_id) if has_duration else end - start
    talk = _int(record, "user_talk_time", call_id)
    if end < start or duration < 0 or talk < 0:
        raise PbxBadResponse(f"OnlinePBX call {call_id} has negative times")
    if direction == "outbound":
        operator_ext = _text(record.get("caller_id_number")) or None
        customer = _text(record.get("destination_number"))
    else:
        operator_ext = _answered_extension(record.get("events"), call_id)
        customer = _text(record.get("caller_id_number"))
    try:
        started_at = datetime.fromtimestamp(start, UTC)
        ended_at = datetime.fromtimestamp(end, UTC)
    except (OverflowError, OSError, ValueError):
        raise PbxBadResponse(f"OnlinePBX call {call_id} has impossible timestamps ({start}, {end})") from None
    return PbxCall(
        pbx_call_id=call_id,
        direction=direction,
        operator_ext=operator_ext,
        customer_phone_raw=customer,
        started_at=started_at,
        ended_at=ended_at,
        duration_seconds=duration,
        talk_seconds=talk,
        hangup_cause=_text(record.get("hangup_cause")),
    )


def _record_uuid(record: Any) -> str:
    """A rejected record's uuid for the run's error list, as far as it can be read (bounded, printable)."""
    value = record.get("uuid") if type(record) is dict else None
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value[:64] if ch.isprintable())


def _int(record: dict[str, Any], key: str, call_id: str) -> int:
    value = record.get(key)
    if type(value) is int:
        return value
    if value is None:
        raise PbxBadResponse(f"OnlinePBX call {call_id} has no {key}")
    try:
        return int(value)
    except (TypeError, ValueError):
        pass
    try:
        # Some PBX builds send numbers as strings like "187.0".
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        raise PbxBadResponse(f"OnlinePBX call {call_id}: {key} is not a number") from None


def _text(value: Any) -> str:
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    return str(value)  # numbers: phones and gateways are sometimes sent as JSON numbers


def _answered_extension(events: Any, call_id: str) -> str | None:
    """Inbound calls: the extension of the first ``user`` leg that was answered (spec §5), None if nobody answered."""
    if not events:
        return None
    if type(events) is not list:
        raise PbxBadResponse(f"OnlinePBX call {call_id} has events that are not a list")
    best_number: str | None = None
    best_at = math.inf
    for event in events:
        if type(event) is not dict or event.get("type") != "user":
            continue
        answered = event.get("answered_stamp")
        number = _text(event.get("number"))
        if not answered or not number:
            continue
        try:
            answered_at = float(answered)
        except (TypeError, ValueError):
            answered_at = math.inf  # unreadable time: rank after readable ones, keep list order among equals
        if best_number is None or answered_at < best_at:
            best_number, best_at = number, answered_at
    return best_number


# --- helpers ---------------------------------------------------------------------------------------------------------


def _status(body: dict[str, Any]) -> str:
    status = body.get("status")
    # The spec's servers send strings; some clients saw integers (spec §1).
    if status == "1" or (type(status) is int and status == 1):
        return "1"
    if status == "0" or (type(status) is int and status == 0):
        return "0"
    return "?"


def _is_auth_failure(body: dict[str, Any]) -> bool:
    return _status(body) == "0" and (
        body.get("isNotAuth") in _NOT_AUTH_TRUE or body.get("errorCode") in _AUTH_ERROR_CODES
    )


def _comment(body: dict[str, Any]) -> str:
    """The reason the PBX gave, as its error code only: a vendor's free text is never shown (fixed messages)."""
    code = body.get("errorCode")
    if isinstance(code, str) and _ERROR_CODE.match(code):
        return f"error code {code}"
    return "no error code given"


def _rate_limited(response: requests.Response, what: str) -> RateLimited:
    retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
    hint = f"; retry in {retry_after:.0f} s" if retry_after is not None else ""
    return RateLimited(f"OnlinePBX is rate limiting {what}{hint}", retry_after=retry_after)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"
