"""Usage and cost (issue 16): per company and month, audio received and transcribed per engine, LLM tokens and
cost, storage; the same figures on the console page and at /api/v1/usage/; an estimate before a bulk re-analysis."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.selectors_usage import usage_months
from calls.models import Call, CallStatus, Transcript
from calls.tests.factories import CallFactory
from checklists.models import CallAnalysis
from companies.models import Role

pytestmark = pytest.mark.django_db

TASHKENT = ZoneInfo("Asia/Tashkent")
TODAY = dt.date(2026, 12, 2)
THIS_MONTH = dt.datetime(2026, 12, 1, 0, 30, tzinfo=TASHKENT)  # Nov 30 19:30 UTC: December in Tashkent
LAST_MONTH = dt.datetime(2026, 11, 15, 12, 0, tzinfo=TASHKENT)


def _call(
    company, *, stored_at, seconds=120.0, size=10_000, engine="openai", llm=("openai:gpt-4o-mini", 1000, 200, "0.0012")
):
    call = CallFactory(
        company=company,
        status=CallStatus.DONE,
        started_at=stored_at,
        duration_seconds=int(seconds),
        recording=f"recordings/{company.pk}/{stored_at:%Y%m%d%H%M%S}-{size}.wav",
        recording_stored_at=stored_at,
        recording_duration_seconds=seconds,
        recording_bytes=size,
    )
    transcript = Transcript.objects.create(
        company=company,
        call=call,
        engine=engine,
        language="en",
        speaker_method="channels",
        duration_ms=int(seconds * 1000),
    )
    Transcript.objects.filter(pk=transcript.pk).update(created_at=stored_at)
    if llm:
        name, prompt, completion, cost = llm
        analysis = CallAnalysis.objects.create(
            company=company,
            call=call,
            engine=name,
            customer_sentiment="neutral",
            operator_sentiment="neutral",
            outcome="information",
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=Decimal(cost) if cost else None,
        )
        CallAnalysis.objects.filter(pk=analysis.pk).update(created_at=stored_at)
    return call


@pytest.fixture
def usage_calls(company, other_company):
    _call(company, stored_at=THIS_MONTH, seconds=90, size=1000)
    _call(
        company,
        stored_at=THIS_MONTH + dt.timedelta(days=1),
        seconds=30,
        size=3000,
        engine="offline",
        llm=("offline", 0, 0, None),
    )
    _call(company, stored_at=LAST_MONTH, seconds=600, size=5000)
    _call(other_company, stored_at=THIS_MONTH, seconds=6000, size=999_999)  # never in company's figures
    Call.objects.filter(company=company, recording_bytes=5000).update(recording="")  # its file expired: not stored now


def test_usage_per_month_engine_and_storage(company, usage_calls, django_assert_num_queries):
    with django_assert_num_queries(4):  # received, transcribed, analysed, storage
        usage = usage_months(company=company, months=3, today=TODAY)
    assert [m.month for m in usage.months] == [dt.date(2026, 12, 1), dt.date(2026, 11, 1), dt.date(2026, 10, 1)]
    december, november, october = usage.months
    assert (december.calls_received, december.audio_minutes_received, december.storage_added_bytes) == (2, 2.0, 4000)
    assert {(e.engine, e.calls, e.minutes, e.cost_usd) for e in december.transcribed} == {
        ("offline", 1, 0.5, Decimal("0.0000")),
        ("openai", 1, 1.5, Decimal("0.0090")),  # 1.5 min x $0.006
    }
    assert [(e.engine, e.analyses, e.prompt_tokens, e.completion_tokens, e.cost_usd) for e in december.llm] == [
        ("offline", 1, 0, 0, Decimal("0.0000")),
        ("openai:gpt-4o-mini", 1, 1000, 200, Decimal("0.0012")),
    ]
    assert december.llm_tokens == 1200 and december.cost_usd == Decimal("0.0102")
    assert (november.calls_received, november.audio_minutes_received, november.audio_minutes_transcribed) == (
        1,
        10.0,
        10.0,
    )
    assert november.cost_usd == Decimal("0.0612")  # the month keeps its figures after its file expired
    assert (october.calls_received, october.transcribed, october.llm) == (0, [], [])
    assert (usage.storage_bytes, usage.recordings_stored) == (4000, 2)


def test_usage_api_matches_the_page_for_tokens_and_owners_only(company, usage_calls, token_client, make_member, client):
    body = token_client.get("/api/v1/usage/?months=2").json()
    assert body["storage_bytes"] == 4000 and body["recordings_stored"] == 2 and len(body["months"]) == 2
    month = body["months"][0]
    assert month["month"] == timezone.localdate(timezone=TASHKENT).replace(day=1).isoformat()
    expected = usage_months(company=company, months=2).months[0]
    assert month["audio_minutes_received"] == expected.audio_minutes_received
    assert Decimal(month["cost_usd"]) == expected.cost_usd
    assert token_client.get("/api/v1/usage/?months=0").status_code == 400
    assert token_client.get("/api/v1/usage/?months=abc").status_code == 400

    owner = make_member(company, Role.OWNER)
    client.force_login(owner.user)
    assert client.get("/api/v1/usage/").status_code == 200
    page = client.get(reverse("admin-usage"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Usage and cost" in html and "999" not in html.split('data-testid="storage"')[1].split("</p>")[0]

    analyst = make_member(company, Role.ANALYST)
    client.force_login(analyst.user)
    assert client.get("/api/v1/usage/").status_code == 403
    assert client.get(reverse("admin-usage")).status_code == 403


def test_the_engines_prices_are_a_setting(company, usage_calls, settings):
    settings.DIALIX_STT_USD_PER_MINUTE = {"openai": "0.01"}
    december = usage_months(company=company, months=1, today=TODAY).months[0]
    assert {e.engine: e.cost_usd for e in december.transcribed}["openai"] == Decimal("0.0150")


def test_usage_api_is_in_the_schema(client):
    schema = client.get("/api/schema/").content.decode()
    assert "/api/v1/usage/" in schema and "UsageMonth" in schema


def test_a_bulk_reanalysis_shows_the_estimate_first(company, usage_calls, make_member, client):
    supervisor = make_member(company, Role.SUPERVISOR)
    client.force_login(supervisor.user)
    calls = list(Call.objects.filter(company=company).order_by("id")[:2])
    changelist = reverse("admin:calls_call_changelist")
    page = client.post(
        changelist, {"action": "reanalyse_openai", "_selected_action": [c.pk for c in calls], "index": "0"}
    )
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="estimate"' in html
    # 2 calls x the average of the company's openai analyses (1000 + 200 tokens, $0.0012 each)
    assert "<td>2400</td>" in html and "<td>0.0024</td>" in html
    assert Call.objects.filter(pk__in=[c.pk for c in calls], status=CallStatus.DONE).count() == 2  # nothing ran yet
    done = client.post(
        changelist,
        {"action": "reanalyse_openai", "_selected_action": [c.pk for c in calls], "confirm": "yes"},
        follow=True,
    )
    assert "2 call(s) queued for analysis with openai" in done.content.decode()


def test_the_backfill_page_shows_what_a_day_of_history_costs(company, make_member, client, settings):
    from integrations.models import PbxAccount

    settings.DIALIX_STT_ENGINE = "openai"  # $0.006 a minute
    for days_ago in (1, 2, 3):
        _call(
            company,
            stored_at=timezone.now() - dt.timedelta(days=days_ago),
            seconds=300,
            llm=("openai", 900, 100, "0.03"),
        )
    account = PbxAccount.objects.create(company=company, domain="alpha.onpbx.ru", api_key="k")
    supervisor = make_member(company, Role.SUPERVISOR)
    client.force_login(supervisor.user)
    page = client.post(
        reverse("admin:integrations_pbxaccount_changelist"),
        {"action": "read_history", "_selected_action": [account.pk], "index": "0"},
    )
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="estimate"' in html
    # 3 calls of 5 minutes in 30 days: 0.1 call and 0.5 minute a day; 0.5 x 0.006 + 0.1 x 0.03 = 0.006 -> 0.01
    assert "<td>alpha.onpbx.ru</td><td>0.1</td><td>0.5</td><td>0.01</td>" in html
