"""Recordings: downloaded from the fake OnlinePBX over real HTTP, or uploaded; checked, hashed and stored."""

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from calls.models import Call, CallStatus, Direction
from calls.services.recordings import call_fetch_recording
from calls.services.sync import pbx_sync_company
from calls.services.upload import UploadConflict, UploadRejected, call_upload
from calls.tests.factories import CallFactory
from integrations.errors import TransientIntegrationError
from integrations.models import PbxAccount
from operators.tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
STEREO_MP3 = FIXTURES / "calls" / "en-01-sale.stereo8k.mp3"
MONO_MP3 = FIXTURES / "calls" / "ru-02-complaint.mono8k.mp3"
OPUS_OGG = FIXTURES / "calls" / "ru-01-sale.stereo16k.ogg"
DOWNLOAD = "/calls-records/download/"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def pbx_call(pbx_fake, pbx_account, company):
    """Adds a call to the fake PBX and stores it as a NEW call waiting for its recording."""

    def make(*, recording: bytes | None = None, recording_mode: str | None = None) -> Call:
        record = pbx_fake.add_call(
            started_at=timezone.now() - dt.timedelta(hours=1), recording=recording, recording_mode=recording_mode
        )
        return CallFactory(
            company=company,
            operator=None,
            pbx_call_id=record["uuid"],
            direction=Direction.OUTBOUND,
            status=CallStatus.NEW,
            talk_seconds=171,
        )

    return make


def _downloads(pbx_fake) -> int:
    return sum(1 for path, _ in pbx_fake.requests_log if path.startswith(DOWNLOAD))


# --- call_fetch_recording ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "channels", "sample_rate", "codec", "ext"),
    [
        (STEREO_MP3, 2, 8000, "mp3", "mp3"),
        (MONO_MP3, 1, 8000, "mp3", "mp3"),
        (OPUS_OGG, 2, 48000, "opus", "ogg"),  # Opus always decodes at 48 kHz
    ],
)
def test_call_fetch_recording_stores_pbx_audio_with_its_facts(
    pbx_call, company, path, channels, sample_rate, codec, ext
):
    audio = path.read_bytes()
    call = pbx_call(recording=audio)

    result = call_fetch_recording(call_id=call.pk)

    call.refresh_from_db()
    assert result.pk == call.pk
    assert call.status == CallStatus.RECORDING_STORED
    assert call.recording.name.startswith(f"recordings/{company.pk}/")
    assert call.recording.name.endswith(f"{call.pbx_call_id}.{ext}")
    with default_storage.open(call.recording.name, "rb") as stored:
        assert stored.read() == audio
    assert call.recording_sha256 == hashlib.sha256(audio).hexdigest()
    assert call.recording_bytes == len(audio)
    assert (call.recording_channels, call.recording_sample_rate, call.recording_codec) == (channels, sample_rate, codec)
    assert call.recording_duration_seconds > 1
    assert call.recording_stored_at is not None
    assert (call.failure_code, call.failure_reason) == ("", "")


def test_call_fetch_recording_duration_matches_ground_truth(pbx_call):
    call = pbx_call(recording=STEREO_MP3.read_bytes())
    call_fetch_recording(call_id=call.pk)
    call.refresh_from_db()
    assert call.recording_duration_seconds == pytest.approx(43.565, abs=0.2)  # fixtures/calls/index.json


def test_call_fetch_recording_twice_changes_nothing(pbx_fake, pbx_call, media_root):
    call = pbx_call(recording=STEREO_MP3.read_bytes())
    call_fetch_recording(call_id=call.pk)
    first = Call.objects.get(pk=call.pk)

    call_fetch_recording(call_id=call.pk)

    again = Call.objects.get(pk=call.pk)
    assert (again.status, again.recording.name, again.updated_at) == (
        CallStatus.RECORDING_STORED,
        first.recording.name,
        first.updated_at,
    )
    assert _downloads(pbx_fake) == 1
    assert len([p for p in media_root.rglob("*") if p.is_file()]) == 1


@pytest.mark.parametrize("mode", ["missing", "404"])
def test_call_fetch_recording_missing_recording_fails_call_with_reason(pbx_call, mode):
    call = pbx_call(recording_mode=mode)

    call_fetch_recording(call_id=call.pk)

    call.refresh_from_db()
    assert call.status == CallStatus.FAILED
    assert call.failure_code == "recording_missing"
    assert call.failure_reason
    assert not call.recording
    assert Call.objects.filter(pk=call.pk).exists()


def test_call_fetch_recording_garbage_from_pbx_is_invalid(pbx_call):
    call = pbx_call(recording_mode="garbage")
    call_fetch_recording(call_id=call.pk)
    call.refresh_from_db()
    assert (call.status, call.failure_code) == (CallStatus.FAILED, "recording_invalid")
    assert "not usable audio" in call.failure_reason
    assert not call.recording


@pytest.mark.parametrize("name", ["not-audio.mp3", "truncated.mp3", "empty.wav"])
def test_call_fetch_recording_broken_audio_is_invalid(pbx_call, media_root, name):
    call = pbx_call(recording=(FIXTURES / "audio-edge" / name).read_bytes())

    call_fetch_recording(call_id=call.pk)

    call.refresh_from_db()
    assert (call.status, call.failure_code) == (CallStatus.FAILED, "recording_invalid")
    assert call.failure_reason.startswith("The recording is not usable audio")
    assert not call.recording
    assert not any(p.is_file() for p in media_root.rglob("*"))  # nothing half-stored


@pytest.mark.parametrize("name", ["silence.mp3", "tone.wav"])
def test_call_fetch_recording_accepts_valid_edge_audio(pbx_call, name):
    call = pbx_call(recording=(FIXTURES / "audio-edge" / name).read_bytes())
    call_fetch_recording(call_id=call.pk)
    call.refresh_from_db()
    assert call.status == CallStatus.RECORDING_STORED, call.failure_reason


def test_call_fetch_recording_too_large_fails_call(pbx_call, settings, media_root):
    settings.DIALIX_RECORDING_MAX_BYTES = 10_000
    call = pbx_call(recording=STEREO_MP3.read_bytes())  # 131 564 bytes

    call_fetch_recording(call_id=call.pk)

    call.refresh_from_db()
    assert (call.status, call.failure_code) == (CallStatus.FAILED, "recording_too_large")
    assert "limit" in call.failure_reason
    assert not any(p.is_file() for p in media_root.rglob("*"))


@pytest.mark.parametrize("path_contains", [DOWNLOAD, "mongo_history"])
def test_call_fetch_recording_pbx_500_raises_for_retry_and_call_stays_new(pbx_fake, pbx_call, path_contains):
    call = pbx_call(recording=STEREO_MP3.read_bytes())
    pbx_fake.fail_next(1, "http500", path_contains=path_contains)

    with pytest.raises(TransientIntegrationError):
        call_fetch_recording(call_id=call.pk)

    call.refresh_from_db()
    assert (call.status, call.failure_code, call.attempts) == (CallStatus.NEW, "", 1)
    assert not call.recording
    call_fetch_recording(call_id=call.pk)  # the task's retry
    call.refresh_from_db()
    assert call.status == CallStatus.RECORDING_STORED


def test_call_fetch_recording_rejected_credentials_fail_call(pbx_fake, pbx_call):
    call = pbx_call(recording=STEREO_MP3.read_bytes())
    pbx_fake.fail_next(2, "not_auth", path_contains="mongo_history")  # even a fresh key pair is refused
    call_fetch_recording(call_id=call.pk)
    call.refresh_from_db()
    assert (call.status, call.failure_code) == (CallStatus.FAILED, "recording_unavailable")
    assert call.failure_reason.startswith("PbxAuthError")


def test_call_fetch_recording_leaves_history_only_account_alone(pbx_fake, pbx_call, pbx_account):
    PbxAccount.objects.filter(pk=pbx_account.pk).update(fetch_recordings=False)
    call = pbx_call(recording=STEREO_MP3.read_bytes())
    call_fetch_recording(call_id=call.pk)
    call.refresh_from_db()
    assert (call.status, call.attempts) == (CallStatus.NEW, 0)
    assert pbx_fake.requests_log == []


def test_pbx_sync_company_refetches_recording_that_appeared_later(
    pbx_fake, pbx_account, company, django_capture_on_commit_callbacks
):
    PbxAccount.objects.filter(pk=pbx_account.pk).update(backfill_days=1)
    now = timezone.now()
    record = pbx_fake.add_call(started_at=now - dt.timedelta(minutes=20), recording_mode="missing")
    with django_capture_on_commit_callbacks(execute=True):
        pbx_sync_company(company_id=company.pk, until=now - dt.timedelta(minutes=1))
    call = Call.objects.for_company(company).get(pbx_call_id=record["uuid"])
    assert (call.status, call.failure_code) == (CallStatus.FAILED, "recording_missing")
    # The PBX publishes the recording; the next sync re-reads the call inside its overlap.
    del pbx_fake.recording_modes[record["uuid"]]
    pbx_fake.recordings[record["uuid"]] = STEREO_MP3.read_bytes()

    with django_capture_on_commit_callbacks() as callbacks:
        run = pbx_sync_company(company_id=company.pk, until=now)
    call.refresh_from_db()
    assert run.updated == 1
    assert (call.status, call.failure_code, call.failure_reason) == (CallStatus.NEW, "", "")
    for callback in callbacks:
        callback()  # commit: the (eager) recording task runs

    call.refresh_from_db()
    assert call.status == CallStatus.RECORDING_STORED
    assert call.recording_sha256 == hashlib.sha256(STEREO_MP3.read_bytes()).hexdigest()


# --- call_upload ------------------------------------------------------------------------------------------------------


def _upload(company, path: Path, **kwargs):
    with path.open("rb") as audio:
        return call_upload(
            company=company,
            audio=audio,
            filename=path.name,
            direction=kwargs.pop("direction", Direction.INBOUND),
            started_at=kwargs.pop("started_at", timezone.now().replace(microsecond=0) - dt.timedelta(days=1)),
            **kwargs,
        )


def test_call_upload_stores_call_with_recording(company):
    operator = OperatorFactory(company=company)
    result = _upload(company, MONO_MP3, operator=operator, customer_phone="90 123 45 67")
    call = Call.objects.for_company(company).get()
    assert result.created and result.call.pk == call.pk
    assert call.status == CallStatus.RECORDING_STORED
    assert call.recording.name.startswith(f"recordings/{company.pk}/")
    assert call.recording_sha256 == hashlib.sha256(MONO_MP3.read_bytes()).hexdigest()
    assert (call.operator_id, call.customer_phone, call.customer_phone_raw) == (
        operator.pk,
        "+998901234567",
        "90 123 45 67",
    )
    assert call.duration_seconds == round(call.recording_duration_seconds)


def test_call_upload_same_file_twice_gives_one_call(company):
    first = _upload(company, STEREO_MP3)
    second = _upload(company, STEREO_MP3)
    assert (first.created, second.created) == (True, False)
    assert second.call.pk == first.call.pk
    assert Call.objects.for_company(company).count() == 1
    assert second.call.recording.name == first.call.recording.name


def test_call_upload_same_external_id_with_other_file_conflicts(company):
    first = _upload(company, STEREO_MP3, external_id="crm-42")
    with pytest.raises(UploadConflict) as exc_info:
        _upload(company, MONO_MP3, external_id="crm-42")
    assert "external_id" in exc_info.value.details
    call = Call.objects.for_company(company).get()
    assert call.recording_sha256 == first.call.recording_sha256  # the first recording is kept


def test_call_upload_same_external_id_in_two_companies_gives_two_calls(company, other_company):
    _upload(company, STEREO_MP3, external_id="crm-42")
    _upload(other_company, MONO_MP3, external_id="crm-42")
    assert Call.objects.for_company(company).count() == 1
    assert Call.objects.for_company(other_company).count() == 1


@pytest.mark.parametrize("name", ["not-audio.mp3", "truncated.mp3", "empty.wav"])
def test_call_upload_broken_audio_is_rejected(company, name):
    with pytest.raises(UploadRejected) as exc_info:
        _upload(company, FIXTURES / "audio-edge" / name)
    assert exc_info.value.details["audio"]
    assert not Call.objects.for_company(company).exists()


def test_call_upload_too_large_is_rejected(company, settings):
    settings.DIALIX_UPLOAD_MAX_BYTES = 10_000
    with pytest.raises(UploadRejected) as exc_info:
        _upload(company, STEREO_MP3)
    assert "limit" in exc_info.value.details["audio"][0]
    assert not Call.objects.for_company(company).exists()


def test_call_upload_rejects_operator_of_another_company(company, other_company):
    stranger = OperatorFactory(company=other_company)
    with pytest.raises(UploadRejected) as exc_info:
        _upload(company, MONO_MP3, operator=stranger)
    assert "operator" in exc_info.value.details
    assert not Call.objects.for_company(company).exists()
