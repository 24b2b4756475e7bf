import datetime as dt
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from calls.models import Call, CallEvent, CallStatus, FailureCode, ReviewState, Transcript, Utterance, recording_path
from calls.tests.factories import CallFactory
from checklists.models import CallAnalysis, ChecklistItem, ChecklistSection, ItemResult, Scorecard
from checklists.services import checklist_publish
from checklists.tests.factories import ChecklistFactory
from companies.models import Role
from companies.services import api_token_create
from integrations.models import SyncKind, SyncRun, SyncStatus
from integrations.services import pbx_push_secret_rotate
from operators.tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db


def test_call_list_newest_first_with_operator_and_flat_query_count(token_client, company, django_assert_num_queries):
    calls = CallFactory.create_batch(3, company=company)
    with django_assert_num_queries(2):  # token with company, one cursor page with operator and transcript joined
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


# --- The integrator API (issue 13): resources, expand, filters, paging, actions, errors ---


def analysed_call(company, *, checklist=None, score=80.0, said="hello, how can I help", **fields):
    """A DONE call with a transcript (2 turns), an analysis and one scorecard of 2 items, as the pipeline leaves it."""
    call = CallFactory(company=company, status=CallStatus.DONE, score=score, language="en", **fields)
    transcript = Transcript.objects.create(
        company=company, call=call, engine="ground-truth", language="en", speaker_method="channels", duration_ms=9000
    )
    Utterance.objects.bulk_create(
        [
            Utterance(
                company=company,
                call=call,
                transcript=transcript,
                speaker="operator",
                start_ms=0,
                end_ms=2000,
                text=said,
            ),
            Utterance(
                company=company,
                call=call,
                transcript=transcript,
                speaker="customer",
                start_ms=2500,
                end_ms=5000,
                text="I want a refund",
            ),
        ]
    )
    CallAnalysis.objects.create(
        company=company,
        call=call,
        engine="offline:rules-v1",
        summary="Wanted a refund",
        customer_sentiment="negative",
        customer_sentiment_reason="asked for money back",
        operator_sentiment="neutral",
        outcome="not_resolved",
        topics=["refund"],
    )
    if checklist is None:
        checklist = ChecklistFactory(company=company)
        section = ChecklistSection.objects.create(company=company, checklist=checklist, title="Opening")
        for order, criterion in enumerate(["Greets the customer", "Offers help"]):
            ChecklistItem.objects.create(
                company=company,
                checklist=checklist,
                section=section,
                criterion=criterion,
                order=order,
                example_phrases="hello",
                allow_na=True,
            )
        checklist_publish(checklist=checklist)
    version = checklist.versions.order_by("-number").first()
    scorecard = Scorecard.objects.create(company=company, call=call, version=version, score=score)
    for item in version.items.all():
        ItemResult.objects.create(
            company=company,
            scorecard=scorecard,
            call=call,
            version_item=item,
            answer="met",
            evidence_quote=said,
            evidence_speaker="operator",
            evidence_ms=0,
            source="rules",
        )
    return call


def test_call_detail_shows_scores_flags_failure_and_links(token_client, company):
    call = analysed_call(company, auto_fail=True, needs_review=True)
    Transcript.objects.filter(call=call).update(low_confidence=True)
    failed = CallFactory(
        company=company, status=CallStatus.FAILED, failure_code=FailureCode.STT_NO_SPEECH, failure_reason="silence"
    )
    body = token_client.get(f"/api/v1/calls/{call.pk}/").json()
    assert (body["score"], body["auto_fail"], body["needs_review"], body["low_confidence"]) == (80.0, True, True, True)
    assert body["review_state"] == "not_reviewed" and body["language"] == "en" and body["failure"] is None
    assert body["links"]["scorecards"] == f"/api/v1/calls/{call.pk}/scorecards/"
    assert body["analysis"] is None and body["scorecards"] is None  # not expanded
    failure = token_client.get(f"/api/v1/calls/{failed.pk}/").json()["failure"]
    assert failure == {
        "code": "stt_no_speech",
        "explanation": "No speech was heard in the recording",
        "reason": "silence",
    }


def test_call_list_with_expand_costs_the_same_queries_for_one_call_or_five(
    token_client, company, django_assert_num_queries
):
    checklist_call = analysed_call(company)
    checklist = checklist_call.scorecards.get().version.checklist
    url = "/api/v1/calls/?expand=analysis,scorecards,transcript"
    # token, page (operator, transcript, analysis joined), scorecards, their results, utterances
    with django_assert_num_queries(5):
        one = token_client.get(url).json()["results"]
    for _ in range(4):
        analysed_call(company, checklist=checklist)
    with django_assert_num_queries(5):
        five = token_client.get(url).json()["results"]
    assert len(one) == 1 and len(five) == 5
    first = five[-1]
    assert first["analysis"]["outcome"] == "not_resolved" and first["analysis"]["topics"] == ["refund"]
    assert [u["speaker"] for u in first["utterances"]] == ["operator", "customer"]
    items = first["scorecards"][0]["items"]
    assert items[0]["criterion"] == "Greets the customer" and items[0]["evidence_quote"].startswith("hello")


def test_unknown_expand_is_400_naming_the_parameter(token_client, company):
    response = token_client.get("/api/v1/calls/?expand=analysis,recording")
    assert response.status_code == 400
    assert "recording" in response.json()["error"]["details"]["expand"][0]


def test_call_sub_resources_transcript_utterances_analysis_scorecards(token_client, company):
    call = analysed_call(company)
    assert token_client.get(f"/api/v1/calls/{call.pk}/analysis/").json()["customer_sentiment_reason"] == (
        "asked for money back"
    )
    page = token_client.get(f"/api/v1/calls/{call.pk}/utterances/?page_size=1").json()
    assert [u["text"] for u in page["results"]] == ["hello, how can I help"]
    rest = token_client.get(page["next"]).json()
    assert [u["text"] for u in rest["results"]] == ["I want a refund"] and rest["next"] is None
    cards = token_client.get(f"/api/v1/calls/{call.pk}/scorecards/").json()
    assert cards[0]["version"] == 1 and cards[0]["items"][0]["machine_answer"] == "met"
    assert cards[0]["items"][0]["correction"] is None
    bare = CallFactory(company=company)
    for sub in ("analysis", "transcript", "recording"):
        response = token_client.get(f"/api/v1/calls/{bare.pk}/{sub}/")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_filters_each_narrow_the_calls(token_client, company):
    base = timezone.now().replace(microsecond=0)
    good = analysed_call(
        company,
        score=95,
        started_at=base - dt.timedelta(hours=1),
        customer_phone="+998901234567",
        said="we can offer a discount",
    )
    bad = analysed_call(
        company,
        score=20,
        auto_fail=True,
        needs_review=True,
        started_at=base - dt.timedelta(days=2),
        direction="outbound",
        review_state=ReviewState.REVIEWED,
    )
    CallAnalysis.objects.filter(call=bad).update(outcome="sale")

    def ids(query: str) -> list[int]:
        response = token_client.get(f"/api/v1/calls/?{query}")
        assert response.status_code == 200, response.content
        return [c["id"] for c in response.json()["results"]]

    since = (base - dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=5))).isoformat()
    assert ids(f"started_after={since.replace('+', '%2B')}") == [good.pk]
    assert ids(f"started_before={since.replace('+', '%2B')}") == [bad.pk]
    assert ids("score_min=50") == [good.pk] and ids("score_max=50") == [bad.pk]
    assert ids("auto_fail=true") == [bad.pk] and ids("needs_review=false") == [good.pk]
    assert ids("review_state=reviewed") == [bad.pk] and ids("direction=outbound") == [bad.pk]
    assert ids("outcome=sale") == [bad.pk] and ids("language=en") == [good.pk, bad.pk]
    assert ids("customer_phone=%2B998 (90) 123-45-67") == [good.pk] and ids("customer_phone=901234567") == [good.pk]
    assert ids("said=discount") == [good.pk] and ids("said=refund") == [good.pk, bad.pk]
    checklist = good.scorecards.get().version.checklist
    assert ids(f"checklist={checklist.pk}") == [good.pk]
    assert ids("ordering=score") == [bad.pk, good.pk] and ids("ordering=-score") == [good.pk, bad.pk]


def test_checklist_filter_answers_another_companys_checklist_like_a_missing_one(token_client, other_company):
    theirs = ChecklistFactory(company=other_company)
    foreign = token_client.get(f"/api/v1/calls/?checklist={theirs.pk}")
    missing = token_client.get(f"/api/v1/calls/?checklist={theirs.pk + 1000}")
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json()["error"] == missing.json()["error"]


def test_bad_filter_values_are_400_per_field(token_client):
    response = token_client.get("/api/v1/calls/?started_after=yesterday&score_min=lots&ordering=length")
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"started_after", "score_min"}
    assert "ordering" in token_client.get("/api/v1/calls/?ordering=length").json()["error"]["details"]


def test_cursor_pages_neither_repeat_nor_skip_when_calls_arrive(token_client, company):
    calls = CallFactory.create_batch(5, company=company)
    first = token_client.get("/api/v1/calls/?page_size=2").json()
    CallFactory(company=company, started_at=timezone.now())  # a newer call arrives between the pages
    seen = [c["id"] for c in first["results"]]
    url = first["next"]
    while url:
        page = token_client.get(url).json()
        seen += [c["id"] for c in page["results"]]
        url = page["next"]
    assert seen == [c.pk for c in sorted(calls, key=lambda c: c.started_at, reverse=True)]


def test_page_size_is_capped_at_200(token_client, company):
    Call.objects.bulk_create(CallFactory.build(company=company, operator=None) for _ in range(205))
    assert len(token_client.get("/api/v1/calls/?page_size=1000").json()["results"]) == 200


@pytest.fixture
def recording_call(company, media_root):
    call = CallFactory(company=company, status=CallStatus.DONE)
    call.recording.save("a.mp3", SimpleUploadedFile("a.mp3", GOOD.read_bytes()), save=True)
    return call


def test_recording_is_a_signed_link_that_works_without_a_login_and_only_for_that_call(
    token_client, company, recording_call, client
):
    body = token_client.get(f"/api/v1/calls/{recording_call.pk}/recording/").json()
    assert body["expires_in"] == 900 and "sig=" in body["url"]
    path = body["url"].removeprefix("http://testserver")
    response = client.get(path)  # no session, no token
    assert response.status_code == 200 and b"".join(response.streaming_content) == GOOD.read_bytes()
    other = CallFactory(company=company)
    assert client.get(path.replace(f"/{recording_call.pk}/", f"/{other.pk}/")).status_code == 403
    assert client.get(path + "x").status_code == 403


def test_recording_link_expires_after_15_minutes(token_client, recording_call, client, monkeypatch):
    import time

    path = token_client.get(f"/api/v1/calls/{recording_call.pk}/recording/").json()["url"]
    later = time.time() + 16 * 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get(path.removeprefix("http://testserver")).status_code == 403


def test_reanalyse_answers_202_and_moves_the_call_back_keeping_corrections(token_client, company):
    call = analysed_call(company)
    result = ItemResult.objects.filter(call=call).first()
    corrected = token_client.post(
        f"/api/v1/calls/{call.pk}/items/{result.pk}/correct/",
        {"answer": "not_met", "reason": "no greeting"},
        format="json",
    )
    assert corrected.status_code == 200, corrected.content
    item = next(i for i in corrected.json()["items"] if i["id"] == result.pk)
    assert item["answer"] == "not_met" and item["machine_answer"] == "met"
    assert item["correction"]["reason"] == "no greeting" and item["correction"]["at"]
    assert corrected.json()["score"] == 50.0
    response = token_client.post(f"/api/v1/calls/{call.pk}/reanalyse/")
    assert response.status_code == 202 and response.json()["status"] == CallStatus.TRANSCRIBED
    assert CallEvent.objects.filter(call=call, to_status=CallStatus.TRANSCRIBED).exists()
    assert ItemResult.objects.get(pk=result.pk).original_answer == "met"  # the correction stays


def test_correct_item_validates_each_field_and_refuses_another_calls_item(token_client, company):
    call = analysed_call(company)
    other = analysed_call(company)
    theirs = ItemResult.objects.filter(call=other).first()
    bad = token_client.post(f"/api/v1/calls/{call.pk}/items/{theirs.pk}/correct/", {}, format="json")
    assert bad.status_code == 404
    mine = ItemResult.objects.filter(call=call).first()
    bad = token_client.post(f"/api/v1/calls/{call.pk}/items/{mine.pk}/correct/", {"answer": "maybe"}, format="json")
    assert bad.status_code == 400 and set(bad.json()["error"]["details"]) == {"answer", "reason"}


def test_retranscribe_needs_a_recording(token_client, company, recording_call):
    assert token_client.post(f"/api/v1/calls/{recording_call.pk}/retranscribe/").status_code == 202
    assert Call.objects.get(pk=recording_call.pk).status == CallStatus.RECORDING_STORED
    bare = CallFactory(company=company, status=CallStatus.DONE)
    response = token_client.post(f"/api/v1/calls/{bare.pk}/retranscribe/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_possible"


def test_mark_reviewed_by_a_supervisor_session(client, company, make_member):
    call = analysed_call(company)
    member = make_member(company, Role.SUPERVISOR)
    client.force_login(member.user)
    response = client.post(f"/api/v1/calls/{call.pk}/review/")
    assert response.status_code == 200 and response.json()["review_state"] == "reviewed"
    assert response.json()["reviewed_by"] == member.user.username
    again = client.post(f"/api/v1/calls/{call.pk}/review/")
    assert again.status_code == 409


ACTIONS = ["reanalyse", "retranscribe", "review", "items/{result}/correct"]


@pytest.mark.parametrize("action", ACTIONS)
def test_read_only_callers_are_refused_every_action(client, company, make_member, action):
    call = analysed_call(company)
    path = f"/api/v1/calls/{call.pk}/{action.format(result=ItemResult.objects.filter(call=call).first().pk)}/"
    client.force_login(make_member(company, Role.ANALYST).user)
    refused = client.post(path, {"answer": "met", "reason": "x"}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    _, raw = api_token_create(company=company, name="bi", scope="read")
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert reader.post(path, {"answer": "met", "reason": "x"}, format="json").status_code == 403
    assert Call.objects.get(pk=call.pk).status == CallStatus.DONE


def test_every_api_error_is_the_one_json_body(token_client, api_client):
    unauthenticated = api_client.get("/api/v1/calls/")
    assert unauthenticated.status_code == 401 and unauthenticated.json()["error"]["code"] == "not_authenticated"
    missing = token_client.get("/api/v1/calls/999999999/")
    assert missing.status_code == 404 and set(missing.json()["error"]) == {"code", "message", "details"}
    assert token_client.get("/api/v1/no-such-endpoint/").json()["error"]["code"] == "not_found"


def test_a_time_with_an_offset_postgresql_refuses_is_still_answered(token_client, company):
    # schemathesis found it: PostgreSQL refuses offsets past ±15:59 (a 500); the filter compares in UTC.
    call = CallFactory(company=company, started_at=dt.datetime(2026, 1, 2, 12, tzinfo=dt.UTC))
    response = token_client.get("/api/v1/calls/?started_after=2026-01-01T19:00:00-16:46")  # 11:46 UTC
    assert response.status_code == 200 and [c["id"] for c in response.json()["results"]] == [call.pk]
