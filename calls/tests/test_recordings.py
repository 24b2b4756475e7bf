"""Recordings: downloaded from the fake OnlinePBX over real HTTP, or uploaded; checked, hashed and stored."""

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from calls.models import Call, CallEvent, CallStatus, Direction
from calls.services.recordings import call_fetch_recording
from calls.services.retry import RECORDING, StepRetry
from calls.services.sync import pbx_sync_company
from calls.services.upload import UploadConflict, UploadRejected, call_upload
from calls.tasks import call_fetch_recording_task
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
TRIES = RECORDING.max_retries + 1  # the first try and every retry of the recording step


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def pbx_call(pbx_fake, pbx_account, company):
    """Adds a call to the fake PBX and stores it as a NEW call waiting for its recording."""

    def make(
        *, recording: bytes | None = None, recording_mode: str | None = None, talk_seconds: int | None = None
    ) -> Call:
        record = pbx_fake.add_call(
            started_at=timezone.now() - dt.timedelta(hours=1),
            recording=recording,
            recording_mode=recording_mode,
            talk_seconds=talk_seconds,
        )
        return CallFactory(
            company=company,
            operator=None,
            pbx_call_id=record["uuid"],
            direction=Direction.OUTBOUND,
            status=CallStatus.NEW,
            talk_seconds=record["user_talk_time"],  # as the sync stores it: the fake's is the recording's length
        )

    return make


def _downloads(pbx_fake) -> int:
    return sum(1 for path, _ in pbx_fake.requests_log if path.startswith(DOWNLOAD))


def _links_asked(pbx_fake) -> int:
    return sum(1 for path, form in pbx_fake.requests_log if path.endswith("search.json") and "download=1" in form)


def _download_tokens(pbx_fake) -> list[str]:
    return [path[len(DOWNLOAD) :].split("/", 1)[0] for path, _ in pbx_fake.requests_log if path.startswith(DOWNLOAD)]


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


def test_call_fetch_recording_missing_recording_fails_call_with_reason(pbx_fake, pbx_call):
    call = pbx_call(recording_mode="missing")  # the API's own answer: no link for this call

    call_fetch_recording(call_id=call.pk)

    call.refresh_from_db()
    assert call.status == CallStatus.FAILED
    assert call.failure_code == "recording_missing"
    assert call.failure_reason
    assert not call.recording
    assert Call.objects.filter(pk=call.pk).exists()


def test_call_fetch_recording_garbage_from_pbx_on_every_try_is_invalid(eager_retries, pbx_fake, pbx_call):
    call = pbx_call(recording_mode="garbage")

    call_fetch_recording_task.delay(call.pk)

    call.refresh_from_db()
    assert (call.status, call.failure_code) == (CallStatus.FAILED, "recording_invalid")
    assert "not usable audio" in call.failure_reason and f"after {TRIES} attempts" in call.failure_reason
    assert not call.recording
    assert _downloads(pbx_fake) == TRIES


@pytest.mark.parametrize("name", ["not-audio.mp3", "truncated.mp3", "empty.wav"])
def test_call_fetch_recording_broken_audio_on_every_try_is_invalid(eager_retries, pbx_call, media_root, name):
    call = pbx_call(recording=(FIXTURES / "audio-edge" / name).read_bytes())

    call_fetch_recording_task.delay(call.pk)

    call.refresh_from_db()
    assert (call.status, call.failure_code) == (CallStatus.FAILED, "recording_invalid")
    assert call.failure_reason.startswith("The recording is not usable audio")
    assert not call.recording
    assert not any(p.is_file() for p in media_root.rglob("*"))  # nothing half-stored


def test_call_fetch_recording_garbage_on_first_try_is_retried_not_failed(pbx_fake, pbx_call):
    call = pbx_call(recording=STEREO_MP3.read_bytes())
    pbx_fake.fail_recording(call.pbx_call_id, "garbage")

    with pytest.raises(StepRetry, match="not usable audio"):
        call_fetch_recording(call_id=call.pk)

    call.refresh_from_db()
    assert (call.status, call.failure_code, call.attempts) == (CallStatus.NEW, "", 1)
    call_fetch_recording(call_id=call.pk)  # the task's retry
    call.refresh_from_db()
    assert call.status == CallStatus.RECORDING_STORED
    assert call.recording_sha256 == hashlib.sha256(STEREO_MP3.read_bytes()).hexdigest()


def test_call_fetch_recording_garbage_on_the_last_try_fails_invalid(pbx_fake, pbx_call):
    call = pbx_call(recording_mode="garbage")
    Call.objects.filter(pk=call.pk).update(attempts=TRIES - 1)  # every earlier try was garbage too

    call_fetch_recording(call_id=call.pk)

    call.refresh_from_db()
    assert (call.status, call.failure_code, call.attempts) == (CallStatus.FAILED, "recording_invalid", TRIES)


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        ("garbage", "audio/mpeg that is not audio"),
        ("html", "a 200 error page"),
        ("truncated", "40% of the file with an honest Content-Length"),
        ("short_read", "the connection closes after 40% of the announced length"),
        ("404", "the file host has not got the file yet"),
        ("expired", "the first link is already expired (403)"),
    ],
)
def test_call_fetch_recording_task_one_fault_then_stores_the_whole_file(
    eager_retries, pbx_fake, pbx_call, media_root, fault, why
):
    audio = STEREO_MP3.read_bytes()
    call = pbx_call(recording=audio)
    pbx_fake.fail_recording(call.pbx_call_id, fault)

    call_fetch_recording_task.delay(call.pk)

    call.refresh_from_db()
    assert call.status == CallStatus.RECORDING_STORED, call.failure_reason
    with default_storage.open(call.recording.name, "rb") as stored:
        assert stored.read() == audio
    assert call.recording_duration_seconds == pytest.approx(43.565, abs=0.2)
    assert (call.failure_code, call.failure_reason) == ("", "")
    assert _links_asked(pbx_fake) == 2  # a fresh link for the retry
    assert len([p for p in media_root.rglob("*") if p.is_file()]) == 1


def test_call_fetch_recording_expired_link_is_never_used_again(eager_retries, pbx_fake, pbx_call):
    call = pbx_call(recording=STEREO_MP3.read_bytes())
    pbx_fake.fail_recording(call.pbx_call_id, "expired", "expired")

    call_fetch_recording_task.delay(call.pk)

    call.refresh_from_db()
    assert call.status == CallStatus.RECORDING_STORED, call.failure_reason
    tokens = _download_tokens(pbx_fake)
    assert len(tokens) == 3 and len(set(tokens)) == 3  # each try downloads from the link it has just been given


@pytest.mark.parametrize(
    ("recording", "talk_seconds", "decoded", "reported"),
    [
        (STEREO_MP3, None, 17.4, 44.0),  # MP3 with a Xing header: the header says 43.6 s too
        (OPUS_OGG, None, 17.0, 44.0),  # Ogg: the cut file's last page gives its length, only the PBX's figure shows it
    ],
)
def test_call_fetch_recording_task_truncated_on_every_try_fails_with_the_numbers(
    eager_retries, pbx_fake, pbx_call, media_root, recording, talk_seconds, decoded, reported
):
    call = pbx_call(recording=recording.read_bytes(), recording_mode="truncated", talk_seconds=talk_seconds)

    call_fetch_recording_task.delay(call.pk)

    call.refresh_from_db()
    assert (call.status, call.failure_code, call.attempts) == (CallStatus.FAILED, "recording_truncated", TRIES)
    assert call.failure_reason == (
        f"The recording is cut short: decoded {decoded:.1f} s of the {reported:.1f} s the PBX reports. "
        f"(after {TRIES} attempts)"
    )
    assert call.get_failure_code_display() == "The recording is shorter than the call (retried, then failed)"
    assert not call.recording and not any(p.is_file() for p in media_root.rglob("*"))
    assert Call.objects.filter(pk=call.pk).exists()  # the call is kept, to be fetched again from the console
    assert _downloads(pbx_fake) == _links_asked(pbx_fake) == TRIES
    assert CallEvent.objects.filter(call=call, to_status=CallStatus.FAILED, code="recording_truncated").count() == 1


def test_call_fetch_recording_truncated_first_try_is_retried_and_keeps_the_call_new(pbx_fake, pbx_call):
    call = pbx_call(recording=OPUS_OGG.read_bytes())
    pbx_fake.fail_recording(call.pbx_call_id, "truncated")

    with pytest.raises(StepRetry, match=r"decoded 17\.0 s of the 44\.0 s the PBX reports"):
        call_fetch_recording(call_id=call.pk)

    call.refresh_from_db()
    assert (call.status, call.failure_code, call.attempts, call.recording.name) == (CallStatus.NEW, "", 1, "")


def test_call_fetch_recording_recording_a_little_shorter_than_talk_time_is_whole(pbx_call):
    # The PBX counts talk time in whole seconds from the answer; recordings start a moment later.
    call = pbx_call(recording=STEREO_MP3.read_bytes(), talk_seconds=46)  # 43.6 s of audio: 2.4 s short
    call_fetch_recording(call_id=call.pk)
    call.refresh_from_db()
    assert call.status == CallStatus.RECORDING_STORED, call.failure_reason


def test_call_fetch_recording_task_short_read_on_every_try_gives_up_unavailable(eager_retries, pbx_fake, pbx_call):
    call = pbx_call(recording=STEREO_MP3.read_bytes(), recording_mode="short_read")

    call_fetch_recording_task.delay(call.pk)

    call.refresh_from_db()
    assert (call.status, call.failure_code) == (CallStatus.FAILED, "recording_unavailable")
    assert call.failure_reason.startswith(f"The PBX did not deliver the recording after {TRIES} attempts")
    assert "interrupted" in call.failure_reason


def test_call_fetch_recording_task_404_on_every_fresh_link_gives_up_unavailable(eager_retries, pbx_fake, pbx_call):
    call = pbx_call(recording_mode="404")

    call_fetch_recording_task.delay(call.pk)

    call.refresh_from_db()
    assert (call.status, call.failure_code) == (CallStatus.FAILED, "recording_unavailable")
    assert "HTTP 404" in call.failure_reason
    assert _downloads(pbx_fake) == _links_asked(pbx_fake) == TRIES


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
    pbx_fake.attach_recording(record["uuid"], STEREO_MP3.read_bytes())  # its talk time now agrees with the file

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


def test_pbx_sync_with_every_recording_fault_loses_and_duplicates_no_call(
    eager_retries, pbx_fake, pbx_account, company, media_root, django_capture_on_commit_callbacks
):
    PbxAccount.objects.filter(pk=pbx_account.pk).update(backfill_days=1)
    now = timezone.now()
    stereo, ogg = STEREO_MP3.read_bytes(), OPUS_OGG.read_bytes()
    cases = {  # (audio, permanent mode, one-off faults) -> what the call ends as
        "good": (stereo, None, (), CallStatus.RECORDING_STORED, ""),
        "cut once": (ogg, None, ("truncated",), CallStatus.RECORDING_STORED, ""),
        "short read once": (stereo, None, ("short_read",), CallStatus.RECORDING_STORED, ""),
        "garbage once": (stereo, None, ("garbage",), CallStatus.RECORDING_STORED, ""),
        "error page once": (ogg, None, ("html",), CallStatus.RECORDING_STORED, ""),
        "expired link": (stereo, None, ("expired",), CallStatus.RECORDING_STORED, ""),
        "always cut": (stereo, "truncated", (), CallStatus.FAILED, "recording_truncated"),
        "always garbage": (None, "garbage", (), CallStatus.FAILED, "recording_invalid"),
        "no recording": (None, "missing", (), CallStatus.FAILED, "recording_missing"),
    }
    uuids = {}
    for minutes, (name, (audio, mode, faults, _, _)) in enumerate(cases.items(), start=10):
        record = pbx_fake.add_call(
            started_at=now - dt.timedelta(minutes=minutes), recording=audio, recording_mode=mode, talk_seconds=None
        )
        pbx_fake.fail_recording(record["uuid"], *faults)
        uuids[name] = record["uuid"]
    unanswered = pbx_fake.add_call(started_at=now - dt.timedelta(minutes=40), operator_ext=None, direction="inbound")

    for until in (now - dt.timedelta(minutes=2), now):  # a second sync re-reads the same calls
        with django_capture_on_commit_callbacks(execute=True):
            pbx_sync_company(company_id=company.pk, until=until)

    calls = {call.pbx_call_id: call for call in Call.objects.for_company(company)}
    assert len(calls) == len(cases) + 1  # none lost, none twice (pbx_call_id is unique per company)
    assert calls[unanswered["uuid"]].status == CallStatus.SKIPPED
    for name, (audio, _, _, status, code) in cases.items():
        call = calls[uuids[name]]
        assert (call.status, call.failure_code) == (status, code), (name, call.failure_reason)
        if status == CallStatus.FAILED:
            assert call.failure_reason and call.get_failure_code_display() != call.failure_code, name
        else:
            with default_storage.open(call.recording.name, "rb") as stored:
                assert stored.read() == audio, name
    stored_files = [p for p in media_root.rglob("*") if p.is_file()]
    assert len(stored_files) == 6  # one file per stored call, nothing half-written
    assert "decoded 17.4 s of the 44.0 s the PBX reports" in calls[uuids["always cut"]].failure_reason
