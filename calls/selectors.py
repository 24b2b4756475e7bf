import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchVector, SearchVectorExact
from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from calls.models import Call, CallEvent, Transcript, Utterance
from calls.phones import normalise_phone
from checklists.models import CallAnalysis, ItemResult, Scorecard
from companies.models import Company
from operators.models import Operator


def call_list(*, company: Company) -> QuerySet[Call]:
    return Call.objects.for_company(company).select_related("operator").order_by("-started_at", "-id")


def call_get(*, company: Company | None, call_id: int) -> Call:
    """One call of the company (DoesNotExist for another company's: answered like a missing one).
    company=None only for Dialix staff (superusers)."""
    qs = Call.objects.all() if company is None else Call.objects.for_company(company)
    return qs.select_related("operator", "transcript").get(pk=call_id)


def call_utterances(*, call: Call) -> QuerySet[Utterance]:
    return Utterance.objects.filter(call=call, company_id=call.company_id).order_by("start_ms", "id")


def call_transcript(*, call: Call) -> Transcript | None:
    return Transcript.objects.filter(call=call, company_id=call.company_id).first()


def call_analysis(*, call: Call) -> CallAnalysis | None:
    return CallAnalysis.objects.filter(call=call, company_id=call.company_id).first()


def call_scorecards(*, call: Call) -> list[Scorecard]:
    """The call's scorecards with their item results and items, in checklist order (3 queries)."""
    results = ItemResult.objects.select_related("version_item", "overridden_by").order_by("version_item__order", "id")
    return list(
        Scorecard.objects.filter(call=call, company_id=call.company_id)
        .select_related("version__checklist")
        .prefetch_related(Prefetch("results", queryset=results))
        .order_by("version__checklist__name")
    )


def call_events(*, call: Call) -> list[CallEvent]:
    """The call's journey, oldest first."""
    return list(CallEvent.objects.filter(call=call, company_id=call.company_id).order_by("created_at", "id"))


# --- Search of the calls list (issue 12): a number in any written form, an operator, or words said in the call ---

_PHONE_LIKE = re.compile(r"[\d\s+()\-.]+")
_PBX_ID_LIKE = re.compile(r"(?=.*\d)[\w.:-]{8,}")  # one token with a digit: a PBX uuid or a vendor's id, not a word
MIN_PHONE_DIGITS = 7


@dataclass(frozen=True, slots=True)
class TranscriptHit:
    """The first turn of a call that contains the searched words."""

    call_id: int
    speaker: str
    start_ms: int
    text: str


def _said(term: str) -> Q | SearchVectorExact:
    """Utterances containing the words. PostgreSQL: full-text with the 'simple' configuration (no stemming, so Uzbek,
    Russian and English match alike), the same expression as the GIN index calls_utterance_text_fts; SQLite (the
    demo): a substring match."""
    if connection.vendor == "postgresql":
        return SearchVectorExact(SearchVector("text", config="simple"), SearchQuery(term, config="simple"))
    return Q(text__icontains=term)


def call_search_kind(*, term: str) -> str:
    """How a search term is read: "phone", "pbx_id" or "text" (an operator's name or words said)."""
    digits = sum(ch.isdigit() for ch in term)
    if _PHONE_LIKE.fullmatch(term) and digits >= MIN_PHONE_DIGITS:
        return "phone"
    if _PBX_ID_LIKE.fullmatch(term):
        return "pbx_id"
    return "text"


def call_search(*, calls: QuerySet[Call], company: Company | None, term: str) -> tuple[QuerySet[Call], bool]:
    """The calls matching a search term, and whether the match is on the transcript (then the page shows each
    call's hit from call_search_hits).

    Every branch is one index lookup or one semi-join, never an OR across tables: an OR with the transcript would make
    PostgreSQL test every call of the company, while a semi-join starts from the GIN index when the words are rare
    and from the newest calls when they are common. company=None only for Dialix staff (superusers).
    """
    term = " ".join(term.split())
    if not term:
        return calls, False
    kind = call_search_kind(term=term)
    if kind == "phone":
        phone = normalise_phone(term)
        return calls.filter(customer_phone=phone or term), False
    if kind == "pbx_id":
        return calls.filter(Q(pbx_call_id=term) | Q(customer_phone=term)), False
    operators = Operator.objects.all() if company is None else Operator.objects.for_company(company)
    operator_ids = list(operators.filter(name__icontains=term).values_list("pk", flat=True)[:100])
    if operator_ids:
        return calls.filter(operator_id__in=operator_ids), False
    said = Utterance.objects.filter(_said(term), call_id=OuterRef("pk"))
    return calls.filter(Exists(said)), True


def call_search_hits(*, call_ids: list[int], term: str) -> dict[int, TranscriptHit]:
    """For each call (a page of the list), its first turn containing the words of `term` (one query)."""
    term = " ".join(term.split())
    if not call_ids or not term:
        return {}
    rows = (
        Utterance.objects.filter(_said(term), call_id__in=call_ids)
        .order_by("call_id", "start_ms", "id")
        .values_list("call_id", "speaker", "start_ms", "text")
    )
    hits: dict[int, TranscriptHit] = {}
    for call_id, speaker, start_ms, text in rows:
        hits.setdefault(call_id, TranscriptHit(call_id=call_id, speaker=speaker, start_ms=start_ms, text=text))
    return hits


# --- The integrator API (issue 13): calls with what a list shows, and what `expand=` adds, in constant queries ---

API_EXPANSIONS = ("analysis", "scorecards", "transcript")


def call_api_list(*, company: Company, expand: frozenset[str] | set[str] = frozenset()) -> QuerySet[Call]:
    """The company's calls for the API: operator and transcript joined (low confidence), and per expansion one
    join or one prefetch query for the whole page, never one per call."""
    calls = (
        Call.objects.for_company(company)
        .select_related("operator", "transcript", "reviewed_by")
        .order_by("-started_at", "-id")
    )
    if "analysis" in expand:
        calls = calls.select_related("analysis")
    if "scorecards" in expand:
        results = ItemResult.objects.select_related("version_item", "overridden_by").order_by(
            "version_item__order", "id"
        )
        scorecards = (
            Scorecard.objects.select_related("version__checklist")
            .prefetch_related(Prefetch("results", queryset=results))
            .order_by("version__checklist__name", "id")
        )
        calls = calls.prefetch_related(Prefetch("scorecards", queryset=scorecards))
    if "transcript" in expand:
        calls = calls.prefetch_related(Prefetch("utterances", queryset=Utterance.objects.order_by("start_ms", "id")))
    return calls


def call_item_result(*, call: Call, result_id: int) -> ItemResult:
    """One item result of the call's scorecards (DoesNotExist for another call's or company's)."""
    return ItemResult.objects.filter(company_id=call.company_id, call=call).get(pk=result_id)


def calls_said(*, calls: QuerySet[Call], term: str) -> QuerySet[Call]:
    """The calls in which these words were said (the same full-text match as the console's search)."""
    term = " ".join(term.split())
    if not term:
        return calls
    return calls.filter(Exists(Utterance.objects.filter(_said(term), call_id=OuterRef("pk"))))
