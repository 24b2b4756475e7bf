from django.db.models import Prefetch, QuerySet

from calls.models import Call, CallEvent, Transcript, Utterance
from checklists.models import CallAnalysis, ItemResult, Scorecard
from companies.models import Company


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
