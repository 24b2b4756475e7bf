"""What Dialix needs from a PBX, as plain values; each vendor client maps its wire format onto these."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Literal, Protocol

Direction = Literal["inbound", "outbound"]


@dataclass(frozen=True, slots=True)
class PbxOperator:
    pbx_user_id: str  # the internal extension, e.g. "101"
    name: str
    is_active: bool


@dataclass(frozen=True, slots=True)
class PbxCall:
    pbx_call_id: str  # the PBX's call uuid; the idempotency key
    direction: Direction
    operator_ext: str | None  # None when nobody answered an inbound call
    customer_phone_raw: str  # as the PBX gave it (998..., +998..., 9-digit local); normalise before matching
    started_at: datetime  # aware, UTC
    ended_at: datetime  # aware, UTC
    duration_seconds: int  # whole call including ringing
    talk_seconds: int  # answered talk; 0 = not answered
    hangup_cause: str


@dataclass(frozen=True, slots=True)
class PbxRejectedRecord:
    """A history record the parser refused: skipped, never blocking its window. Never the vendor's body."""

    pbx_call_id: str  # the record's uuid as far as it could be read ("" when it has none)
    reason: str  # our own fixed text, e.g. "OnlinePBX call ... has an unknown direction (accountcode)"


class PbxCallWindow(list[PbxCall]):
    """One window's calls (a list), plus the records of that window the parser rejected."""

    def __init__(self, calls: list[PbxCall] | None = None, *, rejected: list[PbxRejectedRecord] | None = None) -> None:
        super().__init__(calls or ())
        self.rejected: list[PbxRejectedRecord] = list(rejected or ())


HistoryBy = Literal["start", "end"]


class PbxClient(Protocol):
    def list_operators(self) -> list[PbxOperator]: ...

    def list_calls(self, *, since: datetime, until: datetime, by: HistoryBy = "start") -> Iterator[PbxCallWindow]:
        """Calls that started (``by="end"``: ended) in ``[since, until)``, one list per time window, each sorted by
        ``started_at``; a record the parser rejects is left out of the list and named in its ``rejected``.

        A call appears at most once over the whole iteration. Windows come in chronological order, so a caller can
        persist progress after each list.
        """
        ...

    def get_call(self, pbx_call_id: str) -> list[PbxCall]:
        """One call by its id, as a list ([] when the PBX does not know it)."""
        ...

    def recording_url(self, pbx_call_id: str) -> str | None:
        """A short-lived download link (request it right before downloading, never store it); None = no recording."""
        ...

    def download_recording(self, url: str, dest: BinaryIO, *, max_bytes: int) -> int:
        """Stream the recording into ``dest`` and return the bytes written.

        Raises RecordingTooLarge past ``max_bytes``; ``dest`` then holds a partial file the caller must discard.
        """
        ...
