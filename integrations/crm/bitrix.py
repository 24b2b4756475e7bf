"""Bitrix24 REST client over an incoming webhook (wire format: shared/specs/bitrix24.md).

Our own small client on ``requests`` (through integrations/http.py), not the official ``b24pysdk`` 1.3.2, because:

- the portal's limits are ours to keep, across every worker on every machine: EVERY request must pass the shared
  Redis leaky bucket and the per-portal mutex (integrations/limits.py). The SDK sends, pages (``as_list_fast``) and
  waits out ``QUERY_LIMIT_EXCEEDED`` on its own, inside calls we cannot gate request by request; its own back-off
  and ours would double the waits, and a worker sleeping inside the SDK holds our per-portal mutex blind;
- it always builds ``https://<domain>/rest``: the tests and the demo would need the fake to serve TLS with a
  certificate trusted through ``REQUESTS_CA_BUNDLE`` process-wide, which also changes what every other client trusts;
- the errors a person must act on (wrong webhook code, missing crm scope, user rights, REST not on the plan) are
  mapped here from the exact ``error``/``error_description`` (often an empty ``error``), into integrations.crm.errors;
- what we use is small: POST JSON, ``batch`` with bracket-notation commands, and a few ``crm.*`` methods.

One client serves one portal. ``requests_sent`` counts the HTTP requests really sent (retries included), for the bench.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext

from integrations.crm.base import (
    ConnectionCheck,
    CrmDeal,
    CrmMatch,
    CrmParty,
    CrmStage,
    CrmWrite,
    CrmWriteResult,
    DealPage,
    EntityKind,
    Semantic,
)
from integrations.crm.errors import CrmAuthError, CrmConfigError, CrmError, CrmRateLimited, CrmUnavailable
from integrations.crm.phones import search_forms, short_forms
from integrations.errors import RateLimited, TransientIntegrationError
from integrations.http import make_session
from integrations.limits import LimitBackend, limit_mutex, limit_rate
from integrations.wire import snippet

logger = logging.getLogger(__name__)

BATCH_MAX = 50  # spec §8: at most 50 commands in one batch
PAGE = 50  # spec §4: list methods answer 50 rows a page, fixed
FINDBYCOMM_MAX_VALUES = 20  # spec §6
_WEBHOOK_PATH = re.compile(r"/rest/(?P<user>\d+)/(?P<code>[A-Za-z0-9_]+)/?\Z")
_RATE_CODES = frozenset({"QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT"})
_ENTITY_TYPE_IDS: dict[str, int] = {"lead": 1, "deal": 2, "contact": 3, "company": 4}  # CRM owner type ids
_PREFERENCE: tuple[EntityKind, ...] = ("contact", "company", "lead")
_NAME_FIELDS: dict[str, list[str]] = {
    "contact": ["ID", "NAME", "SECOND_NAME", "LAST_NAME"],
    "company": ["ID", "TITLE"],
    "lead": ["ID", "TITLE", "NAME", "LAST_NAME"],
}
DEAL_FIELDS = [
    "ID",
    "TITLE",
    "CATEGORY_ID",
    "STAGE_ID",
    "STAGE_SEMANTIC_ID",
    "OPPORTUNITY",
    "CURRENCY_ID",
    "DATE_CREATE",
    "DATE_MODIFY",
    "CLOSEDATE",
    "CLOSED",
    "CONTACT_ID",
    "COMPANY_ID",
]
_SEMANTICS: dict[str, Semantic] = {"P": "open", "S": "won", "F": "lost"}
_EXTRA_SEMANTICS: dict[str, Semantic] = {"process": "open", "success": "won", "failure": "lost", "apology": "lost"}
_BUCKET_MARGIN = 0.95  # our bucket stays a little under the portal's: latency jitter never tips it over
RATE_LIMIT_BACKOFF_SECONDS = 1.0  # first wait after a 503 QUERY_LIMIT_EXCEEDED; doubles on each retry
DEFAULT_OPERATION_WAIT_SECONDS = 60.0  # a 429 that does not say when its limit resets


def _(text: str) -> str:
    """gettext, and the text itself where Django is not configured (the bench, a spawned worker)."""
    try:
        return gettext(text)
    except ImproperlyConfigured:
        return text


def bracket_query(params: Mapping[str, Any]) -> str:
    """PHP bracket notation, as a batch command's query string takes it: ``filter[PHONE]=...&select[0]=ID``."""
    pairs: list[str] = []

    def add(key: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for sub, item in value.items():
                add(f"{key}[{quote(str(sub), safe='')}]", item)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                add(f"{key}[{index}]", item)
        else:
            text = "" if value is None else ("Y" if value is True else "N" if value is False else str(value))
            pairs.append(f"{key}={quote(text, safe='')}")

    for name, value in params.items():
        add(quote(str(name), safe=""), value)
    return "&".join(pairs)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _parse_dt(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:  # spec §2: always with an offset; a bare one is read as UTC rather than guessed
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


class _Wait(Exception):
    """Internal: a rate-limit answer that is worth waiting out (``error`` carries the exception if we give up)."""

    def __init__(self, error: CrmRateLimited, wait: float) -> None:
        super().__init__(str(error))
        self.error, self.wait = error, wait


class BitrixClient:
    """A Bitrix24 portal through one incoming webhook. Thread-safe only as far as the portal's mutex goes: keep one
    client per worker thread."""

    def __init__(
        self,
        webhook_url: str,
        *,
        rate: float = 2.0,
        burst: int = 50,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        limits: LimitBackend | None = None,
        max_retries: int = 4,
        wait_seconds: float = 30.0,
        find_by_comm: bool = True,
        backoff_seconds: float = RATE_LIMIT_BACKOFF_SECONDS,
    ) -> None:
        parts = urlsplit((webhook_url or "").strip())
        match = _WEBHOOK_PATH.match(parts.path or "")
        if parts.scheme not in ("http", "https") or not parts.hostname or match is None:
            raise CrmConfigError(
                "The webhook URL must look like https://<portal>/rest/<user id>/<code>/ "
                "(Bitrix24 → Developer resources → Other → Incoming webhook)"
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise CrmConfigError("The webhook URL must carry no query, fragment or credentials")
        if rate <= 0 or burst < 1:
            raise ValueError("a portal's limit needs rate > 0 and burst >= 1")
        self.portal = parts.netloc.lower()
        self.portal_url = f"{parts.scheme}://{self.portal}"
        self.user_id = match["user"]
        # Exactly one "/" between the base and the method, whatever the customer pasted (spec §1).
        self._base = f"{self.portal_url}/rest/{match['user']}/{match['code']}/"
        self.rate, self.burst = float(rate), int(burst)
        self._bucket = (self.rate * _BUCKET_MARGIN, max(int(self.burst * _BUCKET_MARGIN), 1))
        self._session = session if session is not None else make_session(timeout=timeout)
        self._timeout = timeout
        self._limits = limits
        self._max_retries = max_retries
        self._wait_seconds = wait_seconds
        self._find_by_comm = find_by_comm
        self._backoff = backoff_seconds
        self._blocked_until: dict[str, float] = {}  # method -> time.time() its OPERATION_TIME_LIMIT resets
        self._count_lock = threading.Lock()
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"BitrixClient(portal={self.portal!r})"  # the webhook code stays out of logs and tracebacks

    @property
    def limit_key(self) -> str:
        return f"crm-bitrix:{self.portal}"

    # --- transport ----------------------------------------------------------------------------------------------------

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One REST method; the whole answer (``result``, ``total``, ``next``, ``time``). Rate-limit answers are waited
        out (bounded), then CrmRateLimited; other failures raise at once."""
        attempt = 0
        started = time.monotonic()
        while True:
            try:
                return self._send(method, dict(params or {}))
            except _Wait as wait:
                attempt += 1
                if wait.wait <= 0:  # QUERY_LIMIT_EXCEEDED: someone else drains the portal's bucket too; back off
                    wait.wait = self._backoff * 2 ** (attempt - 1)
                    wait.error.retry_after = wait.wait
                spent = time.monotonic() - started
                if attempt > self._max_retries or spent + wait.wait > self._wait_seconds:
                    raise wait.error from None
                logger.info(
                    "crm_rate_limit_wait",
                    extra={"crm_portal": self.portal, "crm_method": method, "wait_seconds": round(wait.wait, 2)},
                )
                time.sleep(wait.wait)

    def _send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        blocked = self._blocked_until.get(method.lower(), 0.0) - time.time()
        if blocked > 0:
            error = CrmRateLimited(
                f"Bitrix24 ({self.portal}) limits the run time of {method}; it resets in {blocked:.0f} s",
                retry_after=blocked,
            )
            raise _Wait(error, blocked)
        read_timeout = self._timeout[1]
        try:
            with limit_mutex(
                f"{self.limit_key}:one-at-a-time",
                lease_seconds=read_timeout + 15,
                wait_seconds=max(self._wait_seconds, read_timeout + 5),
                what=f"the Bitrix24 portal {self.portal}",
                backend=self._limits,
            ):
                limit_rate(
                    f"{self.limit_key}:bucket",
                    rate=self._bucket[0],
                    burst=self._bucket[1],
                    wait_seconds=self._wait_seconds,
                    what=f"requests to {self.portal}",
                    backend=self._limits,
                )
                with self._count_lock:
                    self.requests_sent += 1
                response = self._session.post(self._base + method.lstrip("/"), json=params, timeout=self._timeout)
        except CrmRateLimited:
            raise
        except RateLimited as exc:  # our own bucket or the portal's mutex: not within the wait bound
            raise CrmRateLimited(str(exc), retry_after=exc.retry_after) from exc
        except TransientIntegrationError as exc:  # the shared limiter (Redis) is down
            raise CrmUnavailable(str(exc)) from exc
        except requests.Timeout as exc:
            raise CrmUnavailable(f"Bitrix24 ({self.portal}) did not answer {method} in time") from exc
        except requests.RequestException as exc:
            raise CrmUnavailable(f"Bitrix24 ({self.portal}) could not be reached: {type(exc).__name__}") from exc
        return self._interpret(method, response)

    def _interpret(self, method: str, response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise CrmUnavailable(
                f"Bitrix24 ({self.portal}) answered {method} with HTTP {status} and a body that is not its JSON"
            )
        timing = body.get("time")
        if "error" in body:  # spec §3: the key, not the status, says it failed; the code is often ""
            code, description = _text(body.get("error")), _text(body.get("error_description"))
            error = self.error_for(method, code, description, status=status)
            if isinstance(error, CrmRateLimited):
                wait = self._wait_for(method, code, timing, response)
                error.retry_after = wait or RATE_LIMIT_BACKOFF_SECONDS
                raise _Wait(error, wait)
            raise error
        if status >= 500:
            raise CrmUnavailable(f"Bitrix24 ({self.portal}) answered {method} with HTTP {status}")
        if status >= 400 or "result" not in body:
            raise CrmUnavailable(f"Bitrix24 ({self.portal}) answered {method} with HTTP {status} and no result")
        return body

    def _wait_for(self, method: str, code: str, timing: Any, response: requests.Response) -> float:
        """Seconds to wait before asking again; 0 for "back off" (the caller doubles its wait each time)."""
        if code.upper() != "OPERATION_TIME_LIMIT":
            return 0.0
        # spec §4: the method is refused until time.operating_reset_at (Unix seconds)
        reset_at = timing.get("operating_reset_at") if isinstance(timing, dict) else None
        if isinstance(reset_at, int | float) and not isinstance(reset_at, bool):
            wait = max(float(reset_at) - time.time(), 0.0) + 0.2
        else:
            header = response.headers.get("Retry-After", "")
            wait = float(header) if header.isdigit() else DEFAULT_OPERATION_WAIT_SECONDS
        self._blocked_until[method.lower()] = time.time() + wait
        return max(wait, 0.01)

    def error_for(self, method: str, code: str, description: str, *, status: int = 0) -> CrmError | CrmUnavailable:
        """The typed error for a Bitrix24 ``error``/``error_description`` pair (top level or one batch command)."""
        where = f"Bitrix24 ({self.portal})"
        said = snippet(description or code or "no reason given", 160)
        upper = code.upper()
        if upper == "QUERY_LIMIT_EXCEEDED":
            return CrmRateLimited(f"{where} refused {method}: too many requests", retry_after=1.0)
        if upper == "OPERATION_TIME_LIMIT":
            return CrmRateLimited(
                f"{where} limits the run time of {method} for now", retry_after=DEFAULT_OPERATION_WAIT_SECONDS
            )
        if upper in ("NO_AUTH_FOUND", "INVALID_TOKEN", "EXPIRED_TOKEN", "WRONG_AUTH_TYPE") or status == 401:
            return CrmAuthError(
                f"{where} does not accept the webhook (the code is wrong or the webhook was deleted): create an "
                "incoming webhook in Bitrix24 → Developer resources → Other and paste its URL here",
                reason="webhook",
            )
        if upper == "INSUFFICIENT_SCOPE":
            return CrmAuthError(
                f"{where}: the webhook lacks the crm scope: edit the webhook in Bitrix24 → Developer resources, "
                "tick CRM (crm) and save",
                reason="scope",
            )
        if upper == "INVALID_CREDENTIALS":
            return CrmAuthError(
                f"{where}: the webhook's user lacks the rights for {method}: give that user CRM access "
                "(read contacts, companies, leads, deals; add to the timeline) or create the webhook as such a user",
                reason="rights",
            )
        if upper == "ACCESS_DENIED" and status == 403:
            return CrmAuthError(
                f"{where} has no REST API on its plan (REST is only on paid Bitrix24 plans): upgrade the plan",
                reason="plan",
            )
        if upper == "INVALID_REQUEST" and "https" in description.lower():
            return CrmAuthError(f"{where} requires https: use the https:// webhook URL", reason="https")
        if upper == "ACCESS_DENIED" or "access denied" in description.lower():
            return CrmAuthError(
                f"{where}: the webhook's user may not {method} (Access denied): give that user CRM rights to read "
                "contacts, companies, leads and deals and to add to their timeline",
                reason="rights",
            )
        if upper in ("INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER", "OVERLOAD_LIMIT") or status >= 500:
            return CrmUnavailable(f"{where} failed on {method}: {said}")
        return CrmError(f"{where} refused {method}: {said}")

    # --- batch --------------------------------------------------------------------------------------------------------

    def batch(
        self, commands: Mapping[str, tuple[str, Mapping[str, Any]]]
    ) -> tuple[dict[str, Any], dict[str, CrmError | CrmUnavailable], dict[str, int], dict[str, int]]:
        """Up to 50 ``key: (method, params)`` in one request: (results, errors, totals, nexts) keyed like the
        commands. A command's own failure is in errors; the whole request's failure raises."""
        if len(commands) > BATCH_MAX:
            raise ValueError(f"a batch takes at most {BATCH_MAX} commands")
        if not commands:
            return {}, {}, {}, {}
        cmd = {key: f"{method}?{bracket_query(params)}" for key, (method, params) in commands.items()}
        body = self.call("batch", {"halt": 0, "cmd": cmd})
        payload = body.get("result")
        if not isinstance(payload, dict):
            raise CrmUnavailable(f"Bitrix24 ({self.portal}) answered a batch without its result")

        def keyed(value: Any) -> dict[str, Any]:
            return value if isinstance(value, dict) else {}  # PHP's empty array arrives as []

        results = keyed(payload.get("result"))
        errors: dict[str, CrmError | CrmUnavailable] = {}
        for key, error in keyed(payload.get("result_error")).items():
            if isinstance(error, dict):
                method = commands.get(key, ("batch", {}))[0]
                errors[key] = self.error_for(method, _text(error.get("error")), _text(error.get("error_description")))
        totals = {k: int(v) for k, v in keyed(payload.get("result_total")).items() if str(v).isdigit()}
        nexts = {k: int(v) for k, v in keyed(payload.get("result_next")).items() if str(v).isdigit()}
        missing = [key for key in commands if key not in results and key not in errors]
        for key in missing:
            errors[key] = CrmUnavailable(f"Bitrix24 ({self.portal}) left command {key} of a batch unanswered")
        return results, errors, totals, nexts

    def _batch_reads(
        self, commands: Mapping[str, tuple[str, Mapping[str, Any]]], *, tolerate: bool = False
    ) -> tuple[dict[str, Any], dict[str, CrmError | CrmUnavailable]]:
        """Reads in batches of 50. A command's error raises, unless ``tolerate``: then only an error that would hit
        every command (the webhook, its scope, the plan, the rate limit) raises and the others are returned."""
        results: dict[str, Any] = {}
        errors: dict[str, CrmError | CrmUnavailable] = {}
        keys = list(commands)
        for chunk in _chunks(keys, BATCH_MAX):
            got, failed, _totals, _nexts = self.batch({key: commands[key] for key in chunk})
            for error in failed.values():
                if not tolerate or _hits_everything(error):
                    raise error
            results.update(got)
            errors.update(failed)
        return results, errors

    # --- CrmClient ----------------------------------------------------------------------------------------------------

    def check(self) -> ConnectionCheck:
        """Reads a little of everything Dialix uses in one batch and names what works and what is missing."""
        parts: list[tuple[str, bool, str]] = []
        commands = {
            "contacts": ("crm.contact.list", {"select": ["ID"], "start": -1}),
            "deals": ("crm.deal.list", {"select": ["ID"], "start": -1}),
            "funnels": ("crm.category.list", {"entityTypeId": 2}),
            "stages": ("crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE"}}),
        }
        not_checked = _("not checked (fix the part above first)")
        try:
            results, errors, _totals, _nexts = self.batch(commands)
        except CrmUnavailable as exc:
            parts.append((_("Portal reachable"), False, str(exc)))
            return ConnectionCheck(ok=False, parts=tuple(parts))
        except CrmRateLimited as exc:
            parts.append((_("Portal reachable"), False, str(exc)))
            return ConnectionCheck(ok=False, parts=tuple(parts))
        except CrmAuthError as exc:
            parts.append((_("Portal reachable"), True, self.portal))
            names = {
                "webhook": _("Webhook valid"),
                "plan": _("REST API on the portal's plan"),
                "https": _("Webhook valid"),
                "scope": _("CRM scope"),
                "rights": _("CRM read rights"),
            }
            parts.append((names.get(exc.reason, _("Webhook valid")), False, str(exc)))
            parts.append((_("CRM read rights"), False, not_checked))
            return ConnectionCheck(ok=False, parts=tuple(parts))
        except CrmError as exc:
            parts.append((_("Portal reachable"), False, str(exc)))
            return ConnectionCheck(ok=False, parts=tuple(parts))
        parts.append((_("Portal reachable"), True, self.portal))
        parts.append((_("Webhook valid"), True, _("the portal accepts it")))
        scope_error = next(
            (e for e in errors.values() if isinstance(e, CrmAuthError) and e.reason in ("scope", "plan", "webhook")),
            None,
        )
        if scope_error is not None:
            parts.append((_("CRM scope"), False, str(scope_error)))
            parts.append((_("CRM read rights"), False, not_checked))
            return ConnectionCheck(ok=False, parts=tuple(parts))
        parts.append((_("CRM scope"), True, _("granted")))
        labels = {
            "contacts": _("Contacts readable"),
            "deals": _("Deals readable"),
        }
        for key, label in labels.items():
            if key in errors:
                parts.append((label, False, str(errors[key])))
            else:
                parts.append((label, True, _("yes")))
        if "stages" in errors or "funnels" in errors:
            parts.append((_("Funnels and stages"), False, str(errors.get("stages") or errors.get("funnels"))))
        else:
            funnels = results.get("funnels")
            count = len(funnels.get("categories", [])) if isinstance(funnels, dict) else 0
            stages = results.get("stages") if isinstance(results.get("stages"), list) else []
            parts.append(
                (
                    _("Funnels and stages"),
                    True,
                    _("%(funnels)s funnel(s); %(stages)s stage(s) in the general funnel")
                    % {"funnels": max(count, 1), "stages": len(stages)},
                )
            )
        ok = all(part[1] for part in parts)
        parts.append(
            (
                _("Write rights"),
                True,
                _(
                    "not tested: that needs writing into the CRM. The first result written back shows it; a refusal "
                    "stops the connection with the reason here."
                ),
            )
        )
        return ConnectionCheck(ok=ok, parts=tuple(parts))

    def match_phones(self, phones: list[str]) -> dict[str, CrmMatch]:
        answer: dict[str, CrmMatch] = {}
        wanted: dict[str, list[str]] = {}
        for phone in dict.fromkeys(phones):
            forms = short_forms(phone)
            if forms:
                wanted[phone] = forms
            else:
                answer[phone] = CrmMatch(phone=phone, client=None)  # no usable number: "no CRM match"
        found: dict[str, tuple[EntityKind, str]] = {}
        names: dict[tuple[str, str], str] = {}
        fallback: list[str] = list(wanted) if not self._find_by_comm else []
        if self._find_by_comm and wanted:
            commands = {
                f"f{index}": (
                    "crm.duplicate.findbycomm",
                    {"type": "PHONE", "values": wanted[phone][:FINDBYCOMM_MAX_VALUES]},
                )
                for index, phone in enumerate(wanted)
            }
            keys = dict(zip(commands, wanted, strict=True))
            results, errors = self._batch_reads(commands, tolerate=True)
            for key, phone in keys.items():
                if key in errors:
                    fallback.append(phone)
                    continue
                hit = _pick_duplicate(results.get(key))
                if hit is not None:
                    found[phone] = hit
            if fallback:
                logger.info("crm_findbycomm_fallback", extra={"crm_portal": self.portal, "phones": len(fallback)})
        if fallback:
            found_by_list, listed_names = self._match_by_lists(fallback)
            found.update(found_by_list)
            names.update(listed_names)
        parties = sorted({hit for hit in found.values() if hit not in names})
        deal_owners = sorted({hit for hit in found.values() if hit[0] in ("contact", "company")})
        commands = {}
        for kind, entity_id in parties:
            commands[f"n_{kind}_{entity_id}"] = (
                f"crm.{kind}.list",
                {"filter": {"ID": entity_id}, "select": _NAME_FIELDS[kind]},
            )
        for kind, entity_id in deal_owners:
            owner_field = "CONTACT_ID" if kind == "contact" else "COMPANY_ID"
            commands[f"d_{kind}_{entity_id}"] = (
                "crm.deal.list",
                {"filter": {owner_field: entity_id}, "select": DEAL_FIELDS, "order": {"DATE_CREATE": "DESC"}},
            )
        results, _errors = self._batch_reads(commands)  # any failure raises: a link is never recorded half-read
        for kind, entity_id in parties:
            rows = results.get(f"n_{kind}_{entity_id}")
            if isinstance(rows, list) and rows and isinstance(rows[0], dict):
                names[(kind, entity_id)] = _party_name(kind, rows[0])
        for phone in wanted:
            hit = found.get(phone)
            if hit is None or hit not in names:  # unknown, or gone since the duplicate index saw it
                answer[phone] = CrmMatch(phone=phone, client=None)
                continue
            kind, entity_id = hit
            rows = results.get(f"d_{kind}_{entity_id}") if kind in ("contact", "company") else None
            deals = tuple(parse_deal(row) for row in rows if isinstance(row, dict)) if isinstance(rows, list) else ()
            answer[phone] = CrmMatch(
                phone=phone, client=CrmParty(kind=kind, id=entity_id, name=names[hit]), deals=deals
            )
        logger.info(
            "crm_phones_matched",
            extra={
                "crm_portal": self.portal,
                "phones": len(answer),
                "matched": sum(1 for m in answer.values() if m.client is not None),
            },
        )
        return answer

    def _match_by_lists(
        self, phones: list[str]
    ) -> tuple[dict[str, tuple[EntityKind, str]], dict[tuple[str, str], str]]:
        """The list methods with each exact written form (spec §5: the PHONE filter matches exactly), contacts
        first, then companies, then leads, each asked only for the numbers still unmatched."""
        found: dict[str, tuple[EntityKind, str]] = {}
        names: dict[tuple[str, str], str] = {}
        for kind in _PREFERENCE:
            open_phones = [phone for phone in phones if phone not in found]
            if not open_phones:
                break
            commands: dict[str, tuple[str, Mapping[str, Any]]] = {}
            order: dict[str, list[str]] = {}
            for p_index, phone in enumerate(open_phones):
                for f_index, form in enumerate(search_forms(phone)):
                    key = f"l{p_index}_{f_index}"
                    order.setdefault(phone, []).append(key)
                    commands[key] = (
                        f"crm.{kind}.list",
                        {"filter": {"PHONE": form}, "select": _NAME_FIELDS[kind], "order": {"ID": "ASC"}},
                    )
            results, _errors = self._batch_reads(commands)
            for phone, keys in order.items():
                for key in keys:
                    rows = results.get(key)
                    if isinstance(rows, list) and rows and isinstance(rows[0], dict) and _text(rows[0].get("ID")):
                        hit = (kind, _text(rows[0]["ID"]))
                        found[phone] = hit
                        names[hit] = _party_name(kind, rows[0])
                        break
        return found, names

    def stages(self) -> list[CrmStage]:
        results, _errors = self._batch_reads(
            {
                "funnels": ("crm.category.list", {"entityTypeId": 2}),
                "lead": ("crm.status.list", {"filter": {"ENTITY_ID": "STATUS"}, "order": {"SORT": "ASC"}}),
                "deal0": ("crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE"}, "order": {"SORT": "ASC"}}),
            }
        )
        funnels = results.get("funnels")
        categories = funnels.get("categories", []) if isinstance(funnels, dict) else []
        funnel_names = {"0": _("General")}
        for category in categories:
            if isinstance(category, dict) and _text(category.get("id")):
                funnel_names[_text(category["id"])] = _text(category.get("name")) or _text(category["id"])
        extra = sorted((fid for fid in funnel_names if fid != "0"), key=lambda v: (len(v), v))
        commands = {
            f"deal{fid}": ("crm.status.list", {"filter": {"ENTITY_ID": f"DEAL_STAGE_{fid}"}, "order": {"SORT": "ASC"}})
            for fid in extra
        }
        more, _errors = self._batch_reads(commands)
        results.update(more)
        stages: dict[tuple[str, str], CrmStage] = {}
        for key, funnel_id in [("lead", ""), ("deal0", "0"), *((f"deal{fid}", fid) for fid in extra)]:
            rows = results.get(key)
            for row in rows if isinstance(rows, list) else []:
                if not isinstance(row, dict) or not _text(row.get("STATUS_ID")):
                    continue
                stage = CrmStage(
                    entity_id=_text(row.get("ENTITY_ID")) or ("STATUS" if key == "lead" else f"DEAL_STAGE_{funnel_id}"),
                    status_id=_text(row["STATUS_ID"]),
                    name=_text(row.get("NAME")) or _text(row["STATUS_ID"]),
                    semantic=_stage_semantic(row),
                    funnel_id=funnel_id,
                    funnel_name="" if key == "lead" else funnel_names.get(funnel_id, funnel_id),
                )
                stages[(stage.entity_id, stage.status_id)] = stage  # lead NEW and deal NEW are different keys
        return list(stages.values())

    def deals_modified_since(self, since: datetime | None, *, after_id: str = "") -> DealPage:
        filters: dict[str, Any] = {}
        if since is not None:
            if since.tzinfo is None:
                raise ValueError("since must be an aware datetime")
            filters[">DATE_MODIFY"] = since.isoformat(timespec="seconds")
        if after_id:
            filters[">ID"] = after_id
        # spec §4, big exports: order by ID, >ID of the last page, start=-1 (no total count); 50 rows a page.
        body = self.call(
            "crm.deal.list", {"filter": filters, "order": {"ID": "ASC"}, "select": DEAL_FIELDS, "start": -1}
        )
        rows = body.get("result")
        if not isinstance(rows, list):
            raise CrmUnavailable(f"Bitrix24 ({self.portal}) answered crm.deal.list without a list of deals")
        deals = tuple(parse_deal(row) for row in rows[:PAGE] if isinstance(row, dict))
        last = max((int(d.id) for d in deals if d.id.isdigit()), default=int(after_id) if after_id.isdigit() else 0)
        return DealPage(deals=deals, last_id=str(last) if (deals or after_id) else "")

    def write(self, writes: list[CrmWrite]) -> list[CrmWriteResult]:
        """Adds (or, with ``existing_id``, updates) each result, 50 a request. A command the portal refuses is that
        write's ``error`` (``"not_found"`` when the record to update is gone, so the caller can write it afresh);
        a failure of the whole request raises, and nothing says which writes landed: the caller finds them with
        ``find_written`` before writing again."""
        results: dict[str, CrmWriteResult] = {}
        for chunk in _chunks(list(writes), BATCH_MAX):
            commands = {f"w{index}": _write_command(w, self.user_id) for index, w in enumerate(chunk)}
            got, errors, _totals, _nexts = self.batch(commands)
            for index, item in enumerate(chunk):
                key = f"w{index}"
                if key in errors:
                    error = errors[key]
                    if _hits_everything(error):
                        raise error
                    text = "not_found" if item.existing_id and _is_not_found(error) else str(error)
                    results[item.key] = CrmWriteResult(key=item.key, written_id="", error=text)
                    continue
                value = got.get(key)
                written = item.existing_id if item.existing_id else _text(value)
                if not written or value is False:
                    results[item.key] = CrmWriteResult(
                        key=item.key, written_id="", error=f"Bitrix24 ({self.portal}) did not confirm the write"
                    )
                else:
                    results[item.key] = CrmWriteResult(key=item.key, written_id=written)
        return [results[w.key] for w in writes]

    def find_written(self, *, kind: str, entity_kind: EntityKind, entity_id: str, marker: str) -> str:
        """The id of a comment (``kind="comment"``) or call activity on the entity whose text contains ``marker``
        ("" when none): a write a crashed worker left without saving its id. Reads the 50 newest (one request)."""
        if kind == "comment":
            body = self.call(
                "crm.timeline.comment.list",
                {
                    "filter": {"ENTITY_ID": entity_id, "ENTITY_TYPE": entity_kind},
                    "select": ["ID", "COMMENT"],
                    "order": {"ID": "DESC"},
                },
            )
            field = "COMMENT"
        else:
            body = self.call(
                "crm.activity.list",
                {
                    "filter": {"OWNER_TYPE_ID": _ENTITY_TYPE_IDS[entity_kind], "OWNER_ID": entity_id, "TYPE_ID": 2},
                    "select": ["ID", "DESCRIPTION"],
                    "order": {"ID": "DESC"},
                },
            )
            field = "DESCRIPTION"
        rows = body.get("result")
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and marker in _text(row.get(field)):
                return _text(row.get("ID"))
        return ""

    def entity_url(self, kind: EntityKind, entity_id: str) -> str:
        return f"{self.portal_url}/crm/{kind}/details/{quote(str(entity_id), safe='')}/"


# --- wire values -> ours ----------------------------------------------------------------------------------------------


def origin_id(key: str) -> str:
    """A call activity's ORIGIN_ID: the caller's idempotency key, so the portal's own record names its source."""
    return f"dialix:{key}"


def _is_not_found(error: Exception) -> bool:
    text = str(error).lower()
    return "not found" in text or "not_found" in text


def _write_command(w: CrmWrite, default_user: str) -> tuple[str, dict[str, Any]]:
    if w.kind == "comment":
        text = w.text
        if w.existing_id:
            return (
                "crm.timeline.comment.update",
                {
                    "id": w.existing_id,
                    "ownerTypeId": _ENTITY_TYPE_IDS[w.entity_kind],
                    "ownerId": w.entity_id,
                    "fields": {"COMMENT": text},
                },
            )
        return (
            "crm.timeline.comment.add",
            {"fields": {"ENTITY_ID": w.entity_id, "ENTITY_TYPE": w.entity_kind, "COMMENT": text}},
        )
    first_line = w.text.strip().splitlines()[0][:250] if w.text.strip() else ""
    fields: dict[str, Any] = {
        "SUBJECT": w.subject or first_line or "Dialix",
        "DESCRIPTION": w.text,
        "DESCRIPTION_TYPE": 1,
        "COMPLETED": "Y",
    }
    if w.existing_id:
        return "crm.activity.update", {"id": w.existing_id, "fields": fields}
    party_kind, party_id = (w.party_kind, w.party_id) if w.party_kind and w.party_id else (w.entity_kind, w.entity_id)
    fields.update(
        {
            "OWNER_TYPE_ID": _ENTITY_TYPE_IDS[w.entity_kind],
            "OWNER_ID": w.entity_id,
            "TYPE_ID": 2,  # a call
            "DIRECTION": 1 if w.direction == "inbound" else 2,
            "RESPONSIBLE_ID": w.responsible_id or default_user,
            "ORIGIN_ID": origin_id(w.key),
            "COMMUNICATIONS": [
                {"VALUE": w.phone, "ENTITY_ID": party_id, "ENTITY_TYPE_ID": _ENTITY_TYPE_IDS[party_kind]}
            ],
        }
    )
    if w.started_at is not None:
        fields["START_TIME"] = w.started_at.isoformat(timespec="seconds")
    if w.ended_at is not None:
        fields["END_TIME"] = w.ended_at.isoformat(timespec="seconds")
    return "crm.activity.add", {"fields": fields}


def _pick_duplicate(payload: Any) -> tuple[EntityKind, str] | None:
    """crm.duplicate.findbycomm's ``{"CONTACT": [75], "LEAD": [...]}`` (``[]`` when nothing): contact, then
    company, then lead; the oldest (lowest id) of a kind."""
    if not isinstance(payload, dict):
        return None
    for kind in _PREFERENCE:
        ids = payload.get(kind.upper())
        if isinstance(ids, list):
            numbers = sorted(int(v) for v in ids if str(v).isdigit())
            if numbers:
                return kind, str(numbers[0])
    return None


def _party_name(kind: str, row: Mapping[str, Any]) -> str:
    if kind == "company":
        return _text(row.get("TITLE"))
    person = " ".join(p for p in (_text(row.get("NAME")), _text(row.get("LAST_NAME"))) if p)
    return person or _text(row.get("TITLE")) or f"#{_text(row.get('ID'))}"


def _stage_semantic(row: Mapping[str, Any]) -> Semantic:
    code = _text(row.get("SEMANTICS")).upper()
    if code in ("S", "F"):
        return _SEMANTICS[code]
    extra = row.get("EXTRA")
    if isinstance(extra, dict) and _text(extra.get("SEMANTICS")).lower() in _EXTRA_SEMANTICS:
        return _EXTRA_SEMANTICS[_text(extra["SEMANTICS"]).lower()]
    return "open"


def _deal_semantic(row: Mapping[str, Any]) -> Semantic:
    code = _text(row.get("STAGE_SEMANTIC_ID")).upper()
    if code in _SEMANTICS:
        return _SEMANTICS[code]
    stage = _text(row.get("STAGE_ID")).upper()
    if stage.endswith("WON"):
        return "won"
    if stage.endswith(("LOSE", "LOST")):
        return "lost"
    return "open"


def parse_deal(row: Mapping[str, Any]) -> CrmDeal:
    """A crm.deal.list row (strings everywhere, spec §2) as our CrmDeal, times in UTC."""
    semantic = _deal_semantic(row)
    closed = _text(row.get("CLOSED")).upper() == "Y" or semantic != "open"
    return CrmDeal(
        id=_text(row.get("ID")),
        title=_text(row.get("TITLE")),
        funnel_id=_text(row.get("CATEGORY_ID")) or "0",
        stage_id=_text(row.get("STAGE_ID")),
        semantic=semantic,
        created_at=_parse_dt(row.get("DATE_CREATE")) or datetime(1970, 1, 1, tzinfo=UTC),
        modified_at=_parse_dt(row.get("DATE_MODIFY")),
        closed_at=_parse_dt(row.get("CLOSEDATE")) if closed else None,
        amount=_text(row.get("OPPORTUNITY")) or "0",
        currency=_text(row.get("CURRENCY_ID")),
        contact_id=_text(row.get("CONTACT_ID")) if _text(row.get("CONTACT_ID")) not in ("0",) else "",
        company_id=_text(row.get("COMPANY_ID")) if _text(row.get("COMPANY_ID")) not in ("0",) else "",
    )


def _hits_everything(error: Exception) -> bool:
    """An error of one command that every other command would meet too: stop, don't carry on command by command."""
    if isinstance(error, CrmRateLimited | CrmUnavailable):
        return True
    return isinstance(error, CrmAuthError) and error.reason != "rights"
