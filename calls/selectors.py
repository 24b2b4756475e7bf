from django.db.models import QuerySet

from calls.models import Call, Transcript, Utterance
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
