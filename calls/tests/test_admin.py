from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from calls.models import Call, CallStatus
from calls.tests.factories import CallFactory
from companies.models import Role

pytestmark = pytest.mark.django_db

CALLS = Path(__file__).resolve().parents[2] / "fixtures" / "calls"


def test_call_changelist_query_count_is_flat_and_shows_failures(supervisor_client, company, django_assert_num_queries):
    CallFactory.create_batch(3, company=company)
    CallFactory(company=company, status=CallStatus.FAILED, failure_code="recording_missing", failure_reason="No rec")
    # session, user, membership+company, ModelBackend's user and group permissions (2), count, one page with the
    # operator joined, date hierarchy (2), and the failure_code filter's choices
    with django_assert_num_queries(10):
        page = supervisor_client.get("/admin/calls/call/").content.decode()
    assert "Failed: recording_missing" in page and 'title="No rec"' in page


def test_supervisor_uploads_several_files_in_the_console(supervisor_client, company):
    files = [
        SimpleUploadedFile(p.name, p.read_bytes(), content_type="audio/mpeg")
        for p in sorted(CALLS.glob("*.mono8k.mp3"))[:2]
    ]
    response = supervisor_client.post(
        "/admin/calls/call/upload/",
        {"audio": files, "direction": "inbound", "started_at": "2026-11-20 10:00:00", "customer_phone": "901234567"},
        follow=True,
    )
    assert "2 call(s) created, 0 already known" in response.content.decode()
    calls = Call.objects.for_company(company)
    assert calls.count() == 2 and set(calls.values_list("status", flat=True)) == {CallStatus.RECORDING_STORED}


def test_console_upload_of_broken_file_says_why(supervisor_client, company):
    broken = Path(__file__).resolve().parents[2] / "fixtures" / "audio-edge" / "not-audio.mp3"
    response = supervisor_client.post(
        "/admin/calls/call/upload/",
        {
            "audio": [SimpleUploadedFile("x.mp3", broken.read_bytes())],
            "direction": "inbound",
            "started_at": "2026-11-20 10:00:00",
        },
        follow=True,
    )
    assert "X.mp3: The recording is not usable audio: not an audio file" in response.content.decode()  # capitalised
    assert not Call.objects.for_company(company).exists()


def test_analyst_cannot_open_upload(client, company, make_member):
    client.force_login(make_member(company, Role.ANALYST).user)
    assert client.get("/admin/calls/call/upload/").status_code == 403
