from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from calls.tests.factories import CallFactory
from companies.models import Role

pytestmark = pytest.mark.django_db

AUDIO = (Path(__file__).resolve().parents[2] / "fixtures" / "calls" / "en-01-sale.stereo8k.mp3").read_bytes()


@pytest.fixture
def recorded_call(company):
    call = CallFactory(company=company)
    call.recording.save("rec.mp3", ContentFile(AUDIO), save=True)
    return call


def test_recording_streams_whole_file_to_a_member(supervisor_client, recorded_call):
    response = supervisor_client.get(f"/calls/{recorded_call.pk}/recording/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == AUDIO
    assert response["Accept-Ranges"] == "bytes" and response["Content-Type"] == "audio/mpeg"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-99", 0, 99), ("bytes=1000-", 1000, len(AUDIO) - 1), ("bytes=-500", len(AUDIO) - 500, len(AUDIO) - 1)],
)
def test_recording_answers_range_requests_so_the_player_can_seek(supervisor_client, recorded_call, header, start, end):
    response = supervisor_client.get(f"/calls/{recorded_call.pk}/recording/", HTTP_RANGE=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(AUDIO)}"
    assert b"".join(response.streaming_content) == AUDIO[start : end + 1]


def test_recording_range_past_the_end_is_416(supervisor_client, recorded_call):
    response = supervisor_client.get(f"/calls/{recorded_call.pk}/recording/", HTTP_RANGE=f"bytes={len(AUDIO)}-")
    assert response.status_code == 416


def test_recording_of_other_company_is_404_and_anonymous_must_log_in(client, other_company, make_member, company):
    theirs = CallFactory(company=other_company)
    theirs.recording.save("rec.mp3", ContentFile(AUDIO), save=True)
    assert client.get(f"/calls/{theirs.pk}/recording/").status_code == 302
    client.force_login(make_member(company, Role.ANALYST).user)
    assert client.get(f"/calls/{theirs.pk}/recording/").status_code == 404


def test_integrator_login_cannot_fetch_recordings(client, company, make_member, recorded_call):
    client.force_login(make_member(company, Role.INTEGRATOR).user)
    assert client.get(f"/calls/{recorded_call.pk}/recording/").status_code == 403
