import datetime as dt

import factory
from django.utils import timezone

from calls.models import Call, Direction
from companies.tests.factories import CompanyFactory
from operators.tests.factories import OperatorFactory


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call

    company = factory.SubFactory(CompanyFactory)
    operator = factory.SubFactory(OperatorFactory, company=factory.SelfAttribute("..company"))
    pbx_call_id = factory.Faker("uuid4")
    direction = Direction.INBOUND
    customer_phone = factory.Sequence(lambda n: f"+99890{n:07d}")
    started_at = factory.Sequence(lambda n: timezone.now() - dt.timedelta(minutes=n + 1))
    duration_seconds = 60


def transcribed_call_from_fixture(company, fixture_id: str, **call_fields):
    """A TRANSCRIBED call whose utterances are a committed fixture's ground-truth turns (no speech-to-text run)."""
    import json
    from pathlib import Path

    from calls.models import CallStatus, Transcript, Utterance

    truth = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "calls" / f"{fixture_id}.json").read_text())
    call = CallFactory(
        company=company,
        status=CallStatus.TRANSCRIBED,
        direction=truth["direction"],
        language=truth["language"],
        recording=f"recordings/{company.pk}/{fixture_id}.mp3",
        **call_fields,
    )
    transcript = Transcript.objects.create(
        company=company,
        call=call,
        engine="ground-truth",
        language=truth["language"],
        speaker_method="channels",
        duration_ms=int(truth["duration_seconds"] * 1000),
    )
    Utterance.objects.bulk_create(
        Utterance(
            company=company,
            call=call,
            transcript=transcript,
            speaker=turn["speaker"],
            start_ms=int(turn["start"] * 1000),
            end_ms=int(turn["end"] * 1000),
            text=turn["text"],
        )
        for turn in truth["turns"]
    )
    return call
