"""Deleting a call (issue 16): the recording file leaves the storage, every row hanging from the call goes, one audit
line stays, the dashboard rollups equal a recount, and a repeat changes nothing."""

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from analytics.models import DailyCallRollup, DailyItemRollup, DailyTopicRollup
from analytics.services import rollups_rebuild
from calls.models import Call, CallEvent, Transcript, Utterance
from calls.services.analysis import call_analyse
from calls.services.deletion import call_delete
from calls.tests.factories import transcribed_call_from_fixture
from checklists.demo import demo_checklists
from checklists.models import CallAnalysis, ItemResult, Scorecard
from companies.models import AuditEntry, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def checklists(company):
    company.name = "Dialix Market"  # the operators of the fixture calls say it
    company.save(update_fields=["name"])
    return demo_checklists(company)


def scored_with_audio(company, fixture_id: str = "en-02-complaint", **fields) -> Call:
    call = call_analyse(call_id=transcribed_call_from_fixture(company, fixture_id, **fields).pk)
    call.recording.save(f"{fixture_id}.wav", ContentFile(b"RIFF" + b"\0" * 2048), save=True)
    return Call.objects.get(pk=call.pk)


def rollup_rows(company) -> list[tuple]:
    rows = []
    for model in (DailyCallRollup, DailyItemRollup, DailyTopicRollup):
        fields = [f.attname for f in model._meta.concrete_fields if f.name != "id"]
        rows += [
            (model.__name__, *row)
            for row in model.objects.filter(company=company).order_by(*fields).values_list(*fields)
        ]
    return rows


def test_deleting_a_call_removes_file_rows_and_keeps_one_audit_line_and_right_rollups(
    company, checklists, make_member, django_capture_on_commit_callbacks
):
    owner = make_member(company, Role.OWNER)
    with django_capture_on_commit_callbacks(execute=True):  # the analyses' own rollup refreshes run here
        kept = scored_with_audio(company, "en-01-sale", started_at=timezone.now() - dt.timedelta(hours=2))
        gone = scored_with_audio(company, started_at=timezone.now() - dt.timedelta(hours=1))
    rollups_rebuild(company_id=company.pk)
    before = rollup_rows(company)
    name = gone.recording.name
    assert default_storage.exists(name) and Utterance.objects.filter(call=gone).exists()
    assert ItemResult.objects.filter(call=gone).exists() and CallAnalysis.objects.filter(call=gone).exists()
    AuditEntry.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        assert call_delete(company=company, call_id=gone.pk, by=owner.user) is True

    assert not default_storage.exists(name) and default_storage.exists(kept.recording.name)
    assert not Call.objects.filter(pk=gone.pk).exists()
    for model in (Transcript, Utterance, CallEvent, CallAnalysis, Scorecard, ItemResult):
        assert not model.objects.filter(call_id=gone.pk).exists(), model.__name__
    [line] = AuditEntry.objects.all()
    assert (line.event, line.object_pk, line.company_id) == ("call_deleted", str(gone.pk), company.pk)
    assert line.actor_id == owner.user_id and line.changes["started_at"][1] is None
    assert gone.customer_phone not in str(line.changes) + line.object_repr  # the customer's number does not live on

    after = rollup_rows(company)  # refreshed on commit from the signal
    assert after != before
    rollups_rebuild(company_id=company.pk)
    recount = rollup_rows(company)
    assert recount == after  # equal to a recount from the calls

    with django_capture_on_commit_callbacks(execute=True):
        assert call_delete(company=company, call_id=gone.pk, by=owner.user) is False  # idempotent
    assert AuditEntry.objects.count() == 1 and rollup_rows(company) == after


def test_another_company_cannot_delete_a_call(company, other_company, checklists):
    call = scored_with_audio(company)
    assert call_delete(company=other_company, call_id=call.pk) is False
    assert Call.objects.filter(pk=call.pk).exists() and default_storage.exists(call.recording.name)


def test_the_console_delete_goes_through_the_service(
    company, checklists, make_member, client, django_capture_on_commit_callbacks
):
    owner = make_member(company, Role.OWNER)
    client.force_login(owner.user)
    call = scored_with_audio(company)
    name = call.recording.name
    AuditEntry.objects.all().delete()
    changelist = reverse("admin:calls_call_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            changelist,
            {"action": "delete_selected", "_selected_action": [call.pk], "post": "yes"},
            REMOTE_ADDR="10.1.2.3",
        )
    assert response.status_code == 302
    assert not Call.objects.filter(pk=call.pk).exists() and not default_storage.exists(name)
    [line] = AuditEntry.objects.all()
    assert (line.event, line.actor_id, line.remote_addr) == ("call_deleted", owner.user_id, "10.1.2.3")
