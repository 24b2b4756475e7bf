"""What Dialix needs from a CRM, as plain values; each vendor client (integrations.crm.bitrix) maps its wire format
onto these, so the calls app never sees a vendor's field names and an amoCRM connector can follow.

Entity kinds are lower-case words ("contact", "company", "lead", "deal"); ids are strings as the CRM gives them.
Times are aware datetimes. Nothing here touches the database: the adapters take and return plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

EntityKind = Literal["contact", "company", "lead", "deal"]
Semantic = Literal["open", "won", "lost"]
WriteKind = Literal["comment", "activity"]


@dataclass(frozen=True, slots=True)
class CrmParty:
    """The CRM's record of the caller (a contact, a company or a lead); named so it never reads as the API client."""

    kind: EntityKind  # "contact", "company" or "lead"
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class CrmStage:
    entity_id: str  # the dictionary: "DEAL_STAGE", "DEAL_STAGE_7", "STATUS" (lead stages)
    status_id: str  # "NEW", "C7:WON"
    name: str
    semantic: Semantic
    funnel_id: str  # "0" for the general funnel, "" for lead stages
    funnel_name: str


@dataclass(frozen=True, slots=True)
class CrmDeal:
    id: str
    title: str
    funnel_id: str  # CATEGORY_ID
    stage_id: str  # STAGE_ID as the CRM gives it ("C7:WON")
    semantic: Semantic  # from STAGE_SEMANTIC_ID: P open, S won, F lost
    created_at: datetime
    modified_at: datetime | None
    closed_at: datetime | None
    amount: str  # OPPORTUNITY, a decimal string
    currency: str
    contact_id: str  # "" when none
    company_id: str  # "" when none


@dataclass(frozen=True, slots=True)
class CrmMatch:
    """The answer to "who is this phone number": the preferred client (contact, then company, then lead) or None
    for "no CRM match", plus that client's deals, newest first."""

    phone: str  # the number as asked (digits of the stored form)
    client: CrmParty | None
    deals: tuple[CrmDeal, ...] = ()


@dataclass(frozen=True, slots=True)
class CrmWrite:
    """One result to write back: a timeline comment or a call activity on one entity. ``key`` is the caller's
    idempotency key (call id + analysis version) and is echoed in the answer of a batch."""

    key: str
    kind: WriteKind
    entity_kind: EntityKind
    entity_id: str
    text: str
    subject: str = ""  # activity only
    phone: str = ""  # activity only: COMMUNICATIONS
    direction: Literal["inbound", "outbound"] = "inbound"  # activity only
    started_at: datetime | None = None  # activity only
    ended_at: datetime | None = None  # activity only
    responsible_id: str = ""  # activity only: the webhook's user id when empty
    existing_id: str = ""  # an id written before for this key: update it instead of adding a second one
    # activity only, added for Bitrix24: the client (contact/company/lead) the call was with, for COMMUNICATIONS when
    # the entity is a deal; empty: the entity itself
    party_kind: EntityKind | None = None
    party_id: str = ""


@dataclass(frozen=True, slots=True)
class CrmWriteResult:
    key: str
    written_id: str  # "" when it failed
    error: str = ""  # our own text, never the vendor's whole body


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """What *Test connection* found: each part a person can act on, e.g. ("CRM scope", False, "the webhook lacks
    the crm scope: add it in Bitrix24 → Developer resources → the webhook")."""

    ok: bool
    parts: tuple[tuple[str, bool, str], ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class DealPage:
    deals: tuple[CrmDeal, ...]
    last_id: str  # the highest deal id in this page; the next page asks for ids above it


class CrmClient(Protocol):
    """One portal. Implementations obey the portal's limits (one request at a time, the shared leaky bucket) and
    raise integrations.crm.errors: CrmAuthError (401/403: stop the connection), CrmRateLimited (wait and retry),
    CrmUnavailable (5xx, timeouts, garbage: retry), CrmError (anything else)."""

    def check(self) -> ConnectionCheck: ...

    def match_phones(self, phones: list[str]) -> dict[str, CrmMatch]:
        """For each number (as stored on the call: E.164 or raw digits), the client and its deals. Every Uzbek
        written form is tried (``+998901234567``, ``998901234567``, ``901234567``). Batched: many numbers cost a
        few requests, not one each. A number nobody has maps to ``CrmMatch(client=None)``."""
        ...

    def stages(self) -> list[CrmStage]:
        """Every deal funnel's stages and the lead stages, keyed by (entity_id, status_id), with funnel names."""
        ...

    def deals_modified_since(self, since: datetime | None, *, after_id: str = "") -> DealPage:
        """Deals with DATE_MODIFY > since (all deals when None), ordered by id, one page of at most 50 above
        ``after_id``. An empty page ends the poll."""
        ...

    def write(self, writes: list[CrmWrite]) -> list[CrmWriteResult]:
        """Write results back (batched, ≤ 50 a request); a write with ``existing_id`` updates that record."""
        ...

    def find_written(self, *, kind: WriteKind, entity_kind: EntityKind, entity_id: str, marker: str) -> str:
        """The id of a comment (``kind="comment"``) or call activity on that entity whose text contains ``marker``;
        "" when none: a write a crashed worker left without saving its id. One request (the 50 newest)."""
        ...

    def entity_url(self, kind: EntityKind, entity_id: str) -> str:
        """A link a person opens in the portal, e.g. https://acme.bitrix24.kz/crm/deal/details/410/."""
        ...
