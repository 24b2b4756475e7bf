import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from calls.models import Call, CallStatus, recording_path
from calls.tests.factories import CallFactory
from companies.models import Role
from integrations.models import SyncKind, SyncRun, SyncStatus
from integrations.services import pbx_push_secret_rotate
from operators.tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db


def test_call_list_newest_first_with_operator_and_flat_query_count(token_client, company, django_assert_num_queries):
    calls = CallFactory.create_batch(3, company=company)
    with django_assert_num_queries(3):  # token with company, page count, one page with operator joined
        response = token_client.get("/api/v1/calls/")
    results = response.json()["results"]
    assert [r["id"] for r in results] == [c.id for c in sorted(calls, key=lambda c: c.started_at, reverse=True)]
    assert results[0]["operator"] is not None


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
GOOD = FIXTURES / "calls" / "en-01-sale.stereo8k.mp3"
BROKEN = FIXTURES / "audio-edge" / "not-audio.mp3"
OTHER = FIXTURES / "calls" / "en-02-complaint.stereo8k.mp3"


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _upload(client, path=GOOD, **fields):
    data = {"direction": "inbound", "started_at": "2026-11-20T10:00:00+05:00", **fields}
    with open(path, "rb") as fh:
        data["audio"] = SimpleUploadedFile(path.name, fh.read(), content_type="audio/mpeg")
    return client.post("/api/v1/calls/", data, format="multipart")


def test_upload_creates_call_with_recording_and_answers_202(token_client, company):
    response = _upload(token_client, external_id="crm-42", customer_phone="90 123 45 67")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["created"] is True and body["status"] == CallStatus.RECORDING_STORED
    call = Call.objects.for_company(company).get(pk=body["id"])
    assert call.pbx_call_id == "crm-42" and call.customer_phone == "+998901234567"
    assert call.recording.name.startswith(f"recordings/{company.pk}/") and call.recording_channels == 2


def test_upload_same_file_twice_is_one_call(token_client, company):
    first = _upload(token_client).json()
    second = _upload(token_client)
    assert second.status_code == 202, second.content
    assert first["id"] == second.json()["id"] and second.json()["created"] is False
    assert (first["duplicate"], second.json()["duplicate"]) == (False, True)
    assert Call.objects.for_company(company).count() == 1


def test_upload_retried_with_the_same_external_id_answers_the_same_call_as_a_duplicate(token_client, company):
    # Finding 2: the first POST stored the call and then answered 500; its retry was deduplicated and failed again.
    first = _upload(token_client, external_id="crm-77")
    retry = _upload(token_client, external_id="crm-77")
    assert (first.status_code, retry.status_code) == (202, 202), retry.content
    assert retry.json()["id"] == first.json()["id"]
    assert (retry.json()["duplicate"], retry.json()["created"]) == (True, False)
    assert retry.json()["pbx_call_id"] == "crm-77" and retry.json()["status"] == CallStatus.RECORDING_STORED
    assert Call.objects.for_company(company).count() == 1


def test_upload_of_another_recording_under_a_known_external_id_is_a_conflict(token_client, company):
    _upload(token_client, external_id="crm-78")
    response = _upload(token_client, path=OTHER, external_id="crm-78")
    assert response.status_code == 409 and "external_id" in response.json()["error"]["details"]
    assert Call.objects.for_company(company).count() == 1


@pytest.mark.parametrize(
    "external_id", ["../x", "a/b", "../../../../etc/passwd", "nul\x00byte", "..", "a b", "x" * 129]
)
def test_upload_with_an_unsafe_external_id_is_400_and_stores_nothing(token_client, company, external_id, media_root):
    response = _upload(token_client, external_id=external_id)
    assert response.status_code == 400, response.content
    assert "external_id" in response.json()["error"]["details"]
    assert not Call.objects.for_company(company).exists()  # no orphan call row
    assert not any(media_root.rglob("*.mp3"))  # and no file


def test_upload_with_an_unsafe_external_id_in_the_metadata_part_is_400(token_client, company):
    with open(GOOD, "rb") as fh:
        audio = SimpleUploadedFile(GOOD.name, fh.read(), content_type="audio/mpeg")
    metadata = json.dumps({"direction": "outbound", "started_at": "2026-11-20T10:00:00Z", "external_id": "a/../b"})
    response = token_client.post("/api/v1/calls/", {"audio": audio, "metadata": metadata}, format="multipart")
    assert response.status_code == 400 and "external_id" in response.json()["error"]["details"]
    assert not Call.objects.for_company(company).exists()


def test_upload_stores_its_recording_under_a_safe_name_from_a_client_file_name(token_client, company):
    with open(GOOD, "rb") as fh:
        audio = SimpleUploadedFile("../../evil.mp3/..\\x.MP3", fh.read(), content_type="audio/mpeg")
    data = {
        "direction": "inbound",
        "started_at": "2026-11-20T10:00:00Z",
        "external_id": "crm:2026.11-a_b",
        "audio": audio,
    }
    response = token_client.post("/api/v1/calls/", data, format="multipart")
    assert response.status_code == 202, response.content
    name = Call.objects.for_company(company).get().recording.name
    assert name == f"recordings/{company.pk}/2026/11/crm_2026_11-a_b.mp3"


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "Too large"),  # finding 9: this nesting raised RecursionError (500)
        ('{"a": ' + "[" * 5_000 + "]" * 5_000 + "}", "Nested too deeply"),
        ("[1, 2]", "Must be a JSON object"),
    ],
)
def test_upload_with_unusable_metadata_is_400_on_metadata(token_client, company, metadata, message):
    with open(GOOD, "rb") as fh:
        audio = SimpleUploadedFile(GOOD.name, fh.read(), content_type="audio/mpeg")
    response = token_client.post("/api/v1/calls/", {"audio": audio, "metadata": metadata}, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["metadata"][0].startswith(message)
    assert not Call.objects.for_company(company).exists()


def test_upload_metadata_as_json_part(token_client, company):
    with open(GOOD, "rb") as fh:
        audio = SimpleUploadedFile(GOOD.name, fh.read(), content_type="audio/mpeg")
    metadata = json.dumps({"direction": "outbound", "started_at": "2026-11-20T10:00:00Z", "external_id": "m-1"})
    response = token_client.post("/api/v1/calls/", {"audio": audio, "metadata": metadata}, format="multipart")
    assert response.status_code == 202, response.content
    assert Call.objects.for_company(company).get(pbx_call_id="m-1").direction == "outbound"


@pytest.mark.parametrize(
    ("fields", "path", "bad_field"),
    [
        ({"direction": "sideways"}, GOOD, "direction"),
        ({"started_at": "yesterday"}, GOOD, "started_at"),
        ({"operator_id": 999999}, GOOD, "operator_id"),
        ({"operator_extension": "no-such"}, GOOD, "operator_extension"),
        ({}, BROKEN, "audio"),
        ({"metadata": "{not json"}, GOOD, "metadata"),
    ],
)
def test_upload_bad_payload_is_400_with_field_error(token_client, company, fields, path, bad_field):
    response = _upload(token_client, path=path, **fields)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and bad_field in error["details"]
    assert not Call.objects.for_company(company).exists()


def test_upload_without_audio_is_400(token_client):
    response = token_client.post("/api/v1/calls/", {"direction": "inbound", "started_at": "2026-11-20T10:00:00Z"})
    assert response.status_code == 400 and "audio" in response.json()["error"]["details"]


def test_upload_with_other_companys_operator_is_rejected(token_client, other_company):
    theirs = OperatorFactory(company=other_company)
    response = _upload(token_client, operator_id=theirs.pk)
    assert response.status_code == 400 and "operator_id" in response.json()["error"]["details"]


def test_analyst_session_cannot_upload(client, company, make_member):
    client.force_login(make_member(company, Role.ANALYST).user)
    assert _upload(client).status_code == 403


def test_push_schedules_fetch_of_that_call(
    api_client, pbx_fake, pbx_account, company, django_capture_on_commit_callbacks
):
    secret = pbx_push_secret_rotate(account=pbx_account)
    record = pbx_fake.add_call(direction="inbound", operator_ext="102", talk_seconds=40)
    pbx_fake.recordings[record["uuid"]] = GOOD.read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"/api/v1/pbx/webhook/{secret}/", {"uuid": record["uuid"], "event": "call_end"})
    assert response.status_code == 202 and response.json()["queued"] is True
    # Tasks run in process in these tests: the pushed call is now stored with its recording, once.
    call = Call.objects.for_company(company).get(pbx_call_id=record["uuid"])
    assert call.status == CallStatus.RECORDING_STORED and call.source == "push"
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(f"/api/v1/pbx/webhook/{secret}/", {"uuid": record["uuid"]}, format="json")
    assert Call.objects.for_company(company).filter(pbx_call_id=record["uuid"]).count() == 1


def test_push_with_unknown_secret_is_404_and_bad_body_is_400(api_client, pbx_account):
    assert api_client.post("/api/v1/pbx/webhook/pbxhook_wrong/", {"uuid": "x"}).status_code == 404
    secret = pbx_push_secret_rotate(account=pbx_account)
    response = api_client.post(f"/api/v1/pbx/webhook/{secret}/", {"event": "call_end"})
    assert response.status_code == 400 and "uuid" in response.json()["error"]["details"]


def test_operator_filter_answers_another_companys_operator_like_a_missing_one(token_client, company, other_company):
    """No existence oracle: the filter's choices are the token's company's operators only."""
    from operators.models import Operator

    mine = Operator.objects.create(company=company, name="Mine", pbx_extension="101")
    theirs = Operator.objects.create(company=other_company, name="Theirs", pbx_extension="101")
    CallFactory(company=company, operator=mine)
    assert len(token_client.get(f"/api/v1/calls/?operator={mine.pk}").json()["results"]) == 1
    foreign = token_client.get(f"/api/v1/calls/?operator={theirs.pk}")
    missing = token_client.get(f"/api/v1/calls/?operator={theirs.pk + 1000}")
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json()["error"]["code"] == missing.json()["error"]["code"]
    assert list(foreign.json()["error"]["details"]) == list(missing.json()["error"]["details"]) == ["operator"]


@pytest.mark.django_db(transaction=True)
def test_push_while_the_pbx_is_down_answers_202_and_records_the_failure_in_process(api_client, pbx_fake, pbx_account):
    # No broker: the fetch runs inside the request once it commits; its Celery Retry escaped as a 500 (finding 9).
    secret = pbx_push_secret_rotate(account=pbx_account)
    pbx_fake.fail_next(20, "http500")
    response = api_client.post(f"/api/v1/pbx/webhook/{secret}/", {"uuid": "call-while-down", "event": "call_end"})
    assert response.status_code == 202 and response.json()["queued"] is True
    run = SyncRun.objects.get(account=pbx_account, kind=SyncKind.PUSH)
    assert run.status == SyncStatus.FAILED and run.finished_at is not None
    assert run.error.startswith("PbxUnavailable"), run.error


def test_recording_path_is_safe_whatever_the_call_id_holds(company):
    call = CallFactory.build(company=company, pbx_call_id="../../a/b\x00c..d")  # PostgreSQL refuses NUL: not saved
    path = recording_path(call, "../x/evil.m/p3\x00")
    assert path.startswith(f"recordings/{company.pk}/") and ".." not in path and "\x00" not in path
    assert path.rsplit("/", 1)[-1] == "a_b_c_d.mp3"
