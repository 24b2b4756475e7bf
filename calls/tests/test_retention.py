"""Retention (issue 16): a company's policy deletes old recordings from the storage (local disk and a GCS bucket,
through the storage API) and old transcripts, keeps the call with its score and figures (the rollups equal a
recount, unchanged), says so on the call page and in the API, logs counts and one audit line, and is idempotent."""

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from analytics.models import DailyCallRollup, DailyItemRollup, DailyTopicRollup
from analytics.services import rollups_rebuild
from calls.models import Call, CallStatus, Utterance
from calls.services.analysis import call_analyse
from calls.services.retention import RetentionCounts, company_retention_apply, retention_apply_all
from calls.tasks import calls_retention_task
from calls.tests.factories import CallFactory, transcribed_call_from_fixture
from checklists.demo import demo_checklists
from checklists.models import CallAnalysis, ItemResult
from companies.models import AuditEntry, Role

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def checklists(company):
    company.name = "Dialix Market"
    company.recording_retention_days, company.text_retention_days = 90, 730
    company.save()
    return demo_checklists(company)


def scored(company, fixture_id: str, days_ago: int) -> Call:
    call = transcribed_call_from_fixture(company, fixture_id, started_at=NOW - dt.timedelta(days=days_ago))
    call = call_analyse(call_id=call.pk)
    call.recording.save(f"{fixture_id}.wav", ContentFile(b"RIFF" + b"\0" * 1024), save=True)
    return Call.objects.get(pk=call.pk)


def rollup_rows(company) -> list[tuple]:
    rows = []
    for model in (DailyCallRollup, DailyItemRollup, DailyTopicRollup):
        fields = [f.attname for f in model._meta.concrete_fields if f.name != "id"]
        rows += [
            (model.__name__, *r) for r in model.objects.filter(company=company).order_by(*fields).values_list(*fields)
        ]
    return rows


def test_retention_deletes_old_recordings_and_texts_keeps_figures_and_is_idempotent(
    company, other_company, checklists, make_member, client
):
    old_text = scored(company, "en-01-sale", days_ago=800)  # both expired
    old_audio = scored(company, "en-02-complaint", days_ago=100)  # the recording only
    fresh = scored(company, "en-03-callback", days_ago=10)
    busy = CallFactory(company=company, status=CallStatus.TRANSCRIBING, started_at=NOW - dt.timedelta(days=900))
    busy.recording.save("busy.wav", ContentFile(b"RIFF"), save=True)
    elsewhere = CallFactory(company=other_company, status=CallStatus.DONE, started_at=NOW - dt.timedelta(days=900))
    elsewhere.recording.save("other.wav", ContentFile(b"RIFF"), save=True)  # the other company keeps everything
    rollups_rebuild(company_id=company.pk)
    figures = rollup_rows(company)
    scores = dict(Call.objects.filter(company=company).values_list("id", "score"))
    files = {c.pk: c.recording.name for c in (old_text, old_audio, fresh, busy, elsewhere)}
    tokens = (
        CallAnalysis.objects.filter(call=old_text).values_list("prompt_tokens", "completion_tokens", "cost_usd").get()
    )
    AuditEntry.objects.all().delete()

    counts = retention_apply_all(now=NOW)

    assert counts[company.pk] == RetentionCounts(recordings=2, texts=1)
    assert other_company.pk not in counts
    for pk in (old_text.pk, old_audio.pk):
        assert not default_storage.exists(files[pk])
        call = Call.objects.get(pk=pk)
        assert call.recording == "" and call.recording_deleted_at == NOW
    for pk in (fresh.pk, busy.pk, elsewhere.pk):
        assert default_storage.exists(files[pk]) and Call.objects.get(pk=pk).recording.name == files[pk]

    assert not Utterance.objects.filter(call=old_text).exists()
    assert Utterance.objects.filter(call=old_audio).exists() and Utterance.objects.filter(call=fresh).exists()
    analysis = CallAnalysis.objects.get(call=old_text)
    assert analysis.summary == "" and analysis.customer_sentiment_reason == ""
    assert (analysis.prompt_tokens, analysis.completion_tokens, analysis.cost_usd) == tokens  # usage kept
    assert analysis.topics  # the dashboard's topic labels stay
    assert not ItemResult.objects.filter(call=old_text).exclude(evidence_quote="").exists()
    assert ItemResult.objects.filter(call=old_audio).exclude(evidence_quote="").exists()
    assert Call.objects.get(pk=old_text.pk).text_deleted_at == NOW
    assert dict(Call.objects.filter(company=company).values_list("id", "score")) == scores

    rollups_rebuild(company_id=company.pk)
    assert rollup_rows(company) == figures  # the dashboard's figures, recounted from the calls, did not move

    [line] = AuditEntry.objects.all()
    assert (line.event, line.company_id, line.actor_label) == ("retention_applied", company.pk, "system:retention")
    assert line.additional_data["recordings_deleted"] == 2 and line.additional_data["texts_deleted"] == 1

    # Idempotent: the second run finds nothing, writes nothing.
    assert retention_apply_all(now=NOW + dt.timedelta(hours=1))[company.pk] == RetentionCounts()
    assert AuditEntry.objects.count() == 1 and Call.objects.get(pk=old_text.pk).text_deleted_at == NOW

    # What a person sees on the call whose text expired: the page and the API say so; the score stays.
    owner = make_member(company, Role.OWNER)
    client.force_login(owner.user)
    page = client.get(reverse("admin:calls_call_change", args=[old_text.pk])).content.decode()
    assert "Transcript removed on" in page and "by the retention policy" in page
    assert "Recording removed on" in page
    assert not AuditEntry.objects.filter(event="transcript_opened").exists()  # nothing was there to read


def test_the_api_answers_410_for_a_removed_transcript(company, checklists, token_client):
    call = scored(company, "en-01-sale", days_ago=800)
    company_retention_apply(company=company, now=NOW)
    response = token_client.get(f"/api/v1/calls/{call.pk}/transcript/")
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "transcript_removed"
    detail = token_client.get(f"/api/v1/calls/{call.pk}/").json()
    assert detail["score"] == Call.objects.get(pk=call.pk).score is not None
    assert token_client.post(f"/api/v1/calls/{call.pk}/reanalyse/").status_code == 409  # no text left to analyse


def test_no_policy_keeps_everything(company):
    call = CallFactory(company=company, status=CallStatus.DONE, started_at=NOW - dt.timedelta(days=5000))
    call.recording.save("kept.wav", ContentFile(b"RIFF"), save=True)
    assert retention_apply_all(now=NOW) == {}
    assert default_storage.exists(Call.objects.get(pk=call.pk).recording.name)


def test_the_nightly_beat_entry_runs_the_task(company):
    entry = PeriodicTask.objects.get(name="calls-retention")
    assert entry.task == "calls.tasks.calls_retention_task" and entry.enabled and entry.crontab is not None
    company.recording_retention_days = 1
    company.save()
    call = CallFactory(company=company, status=CallStatus.DONE, started_at=NOW - dt.timedelta(days=3))
    call.recording.save("old.wav", ContentFile(b"RIFF"), save=True)
    name = Call.objects.get(pk=call.pk).recording.name
    calls_retention_task.delay()  # eager in the suite: the task as Beat queues it
    assert not default_storage.exists(name) and Call.objects.get(pk=call.pk).recording == ""


@pytest.fixture
def gcs_bucket(settings, monkeypatch):
    """A real GCS JSON API on loopback (gcp-storage-emulator) as the default storage, as in production."""
    from gcp_storage_emulator.server import create_server
    from google.auth.credentials import AnonymousCredentials

    server = create_server("127.0.0.1", 0, in_memory=True, default_bucket="dialix-retention")
    server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{server._api._httpd.server_address[1]}")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
            "OPTIONS": {
                "bucket_name": "dialix-retention",
                "project_id": "dialix-test",
                "credentials": AnonymousCredentials(),
                "file_overwrite": False,
            },
        },
    }
    yield default_storage
    server.stop()


def test_retention_deletes_recordings_from_a_gcs_bucket(company, gcs_bucket):
    company.recording_retention_days = 30
    company.save()
    old = CallFactory(company=company, status=CallStatus.DONE, started_at=NOW - dt.timedelta(days=31))
    new = CallFactory(company=company, status=CallStatus.DONE, started_at=NOW - dt.timedelta(days=29))
    for call in (old, new):
        call.recording.save("a.wav", ContentFile(b"RIFF" + b"\1" * 64), save=True)
    names = {c.pk: Call.objects.get(pk=c.pk).recording.name for c in (old, new)}
    assert all(gcs_bucket.exists(name) for name in names.values())
    assert type(gcs_bucket._wrapped).__name__ == "GoogleCloudStorage"

    assert company_retention_apply(company=company, now=NOW) == RetentionCounts(recordings=1)
    assert not gcs_bucket.exists(names[old.pk]) and gcs_bucket.exists(names[new.pk])
    assert company_retention_apply(company=company, now=NOW) == RetentionCounts()  # idempotent
