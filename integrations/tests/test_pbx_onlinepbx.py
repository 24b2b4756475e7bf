"""OnlinePBX client against the fake OnlinePBX over real HTTP (no mocks)."""

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations.errors import RateLimited, TransientIntegrationError
from integrations.pbx.errors import (
    PbxAuthError,
    PbxBadResponse,
    PbxUnavailable,
    RecordingLinkExpired,
    RecordingTooLarge,
)
from integrations.pbx.onlinepbx import OnlinePbxClient
from integrations.testing.onlinepbx import FakeOnlinePbx

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
SEARCH = "mongo_history/search.json"


@pytest.fixture
def pbx_fake() -> Iterator[FakeOnlinePbx]:
    with FakeOnlinePbx() as fake:
        yield fake


def make_client(fake: FakeOnlinePbx, **kwargs: Any) -> OnlinePbxClient:
    kwargs.setdefault("timeout", (2, 5))
    return OnlinePbxClient(fake.base_url, fake.domain, kwargs.pop("auth_key", fake.auth_key), **kwargs)


def requests_to(fake: FakeOnlinePbx, method: str) -> list[dict[str, str]]:
    return [dict(parse_qsl(form)) for path, form in fake.requests_log if path.endswith(method)]


def all_calls(client: OnlinePbxClient, since: datetime, until: datetime) -> list[Any]:
    return [call for window in client.list_calls(since=since, until=until) for call in window]


# --- operators and authentication ------------------------------------------------------------------------------------


def test_list_operators_returns_extensions_names_and_disabled_flag(pbx_fake: FakeOnlinePbx) -> None:
    pbx_fake.operators = [
        {"num": "101", "name": "Dilnoza Karimova", "enabled": True},
        {"num": 102, "name": "Jasur Tursunov", "enabled": False, "queues": ["sales"]},
    ]

    operators = make_client(pbx_fake).list_operators()

    assert [(op.pbx_user_id, op.name, op.is_active) for op in operators] == [
        ("101", "Dilnoza Karimova", True),
        ("102", "Jasur Tursunov", False),
    ]


def test_client_authenticates_once_for_many_calls_and_reports_the_new_key_pair(pbx_fake: FakeOnlinePbx) -> None:
    pairs: list[tuple[str, str]] = []
    client = make_client(pbx_fake, on_new_key_pair=lambda key_id, key: pairs.append((key_id, key)))

    client.list_operators()
    client.list_operators()
    all_calls(client, T0, T0 + timedelta(days=3))

    assert pbx_fake.auth_count == 1
    assert len(pairs) == 1 and client.key_pair == pairs[0]
    sent = [headers.get("x-pbx-authentication") for headers in pbx_fake.request_headers[1:]]
    assert sent == [f"{pairs[0][0]}:{pairs[0][1]}"] * len(sent)


def test_client_with_a_stored_key_pair_does_not_authenticate_again(pbx_fake: FakeOnlinePbx) -> None:
    first = make_client(pbx_fake)
    first.list_operators()
    assert first.key_pair is not None
    pairs: list[tuple[str, str]] = []

    second = make_client(pbx_fake, key_pair=first.key_pair, on_new_key_pair=lambda *pair: pairs.append(pair))
    second.list_operators()

    assert pbx_fake.auth_count == 1
    assert pairs == []


def test_list_calls_reauthenticates_once_when_keys_expire_midway_and_misses_no_call(pbx_fake: FakeOnlinePbx) -> None:
    pbx_fake.add_calls_generated(30, start=T0, spacing_seconds=3 * 3600)  # 87 hours of calls
    pairs: list[tuple[str, str]] = []
    client = make_client(pbx_fake, on_new_key_pair=lambda *pair: pairs.append(pair))

    calls = []
    for window in client.list_calls(since=T0, until=T0 + timedelta(days=4)):
        calls.extend(window)
        if len(pbx_fake.requests_log) == 2:  # auth + first window: the PBX drops our key now
            pbx_fake.expire_keys()

    assert sorted(call.pbx_call_id for call in calls) == sorted(pbx_fake.calls)
    assert pbx_fake.auth_count == 2
    assert len(pairs) == 2 and pairs[0] != pairs[1]
    assert len(requests_to(pbx_fake, SEARCH)) == 4 + 1  # four windows, the second one sent twice


def test_client_gives_up_with_auth_error_when_a_fresh_key_is_rejected_too(pbx_fake: FakeOnlinePbx) -> None:
    pbx_fake.fail_next(5, "not_auth", path_contains="user/get")

    with pytest.raises(PbxAuthError, match="rejected a freshly issued key pair"):
        make_client(pbx_fake).list_operators()

    assert pbx_fake.auth_count == 2
    assert len(requests_to(pbx_fake, "user/get.json")) == 2


def test_client_recognises_wrong_auth_data_as_an_auth_failure(pbx_fake: FakeOnlinePbx) -> None:
    # A key pair that no longer matches the PBX's format: WRONG_AUTH_DATA without isNotAuth (spec §3).
    client = make_client(pbx_fake, key_pair=("", "garbled"))

    assert len(client.list_operators()) == 5
    assert pbx_fake.auth_count == 1


def test_wrong_auth_key_raises_a_readable_auth_error_without_the_key(pbx_fake: FakeOnlinePbx) -> None:
    client = make_client(pbx_fake, auth_key="wrong-secret-key-123")

    with pytest.raises(PbxAuthError) as caught:
        client.list_operators()

    assert "did not accept the API key" in str(caught.value)
    assert "wrong-secret-key-123" not in str(caught.value)
    assert "wrong-secret-key-123" not in repr(client)
    assert requests_to(pbx_fake, "user/get.json") == []


def test_unknown_domain_raises_auth_error_naming_the_domain(pbx_fake: FakeOnlinePbx) -> None:
    client = OnlinePbxClient(pbx_fake.base_url, "pbx99999.onpbx.ru", pbx_fake.auth_key)

    with pytest.raises(PbxAuthError, match="pbx99999.onpbx.ru"):
        client.list_operators()

    assert len(pbx_fake.requests_log) == 1  # a configuration error is not retried


# --- transport and envelope failures ---------------------------------------------------------------------------------


def test_timeout_raises_pbx_unavailable_and_is_not_resent(pbx_fake: FakeOnlinePbx) -> None:
    pbx_fake.timeout_sleep_seconds = 1.5
    pbx_fake.fail_next(1, "timeout", path_contains=SEARCH)
    client = make_client(pbx_fake, timeout=(2, 0.5))

    with pytest.raises(PbxUnavailable, match="did not answer .* in time") as caught:
        all_calls(client, T0, T0 + timedelta(hours=1))

    assert isinstance(caught.value, TransientIntegrationError)
    assert len(requests_to(pbx_fake, SEARCH)) == 1


def test_http500_raises_pbx_unavailable_and_the_post_is_not_resent(pbx_fake: FakeOnlinePbx) -> None:
    pbx_fake.fail_next(1, "http500", path_contains=SEARCH)

    with pytest.raises(PbxUnavailable, match="HTTP 500"):
        all_calls(make_client(pbx_fake), T0, T0 + timedelta(hours=1))

    assert len(requests_to(pbx_fake, SEARCH)) == 1


def test_unreachable_pbx_raises_pbx_unavailable() -> None:
    with FakeOnlinePbx() as fake:
        base_url = fake.base_url  # the port is free again once the fake stops

    with pytest.raises(PbxUnavailable, match="Cannot connect"):
        OnlinePbxClient(base_url, "pbx-demo.onpbx.ru", "demo-auth-key").list_operators()


def test_html_instead_of_json_raises_bad_response_without_the_body(pbx_fake: FakeOnlinePbx) -> None:
    pbx_fake.fail_next(1, "garbage", path_contains=SEARCH)

    with pytest.raises(PbxBadResponse) as caught:
        all_calls(make_client(pbx_fake), T0, T0 + timedelta(hours=1))

    # A fixed message: whatever the host answered never reaches a person (issue 9, finding 8).
    assert str(caught.value) == f"OnlinePBX answered {SEARCH} with HTTP 200 and something that is not JSON"


def test_truncated_json_raises_bad_response(pbx_fake: FakeOnlinePbx) -> None:
    pbx_fake.fail_next(1, "malformed_json", path_contains="user/get")

    with pytest.raises(PbxBadResponse, match=r"user/get\.json .*not JSON"):
        make_client(pbx_fake).list_operators()


def test_status0_raises_bad_response_without_the_pbx_free_text(pbx_fake: FakeOnlinePbx) -> None:
    pbx_fake.fail_next(1, "status0", path_contains=SEARCH)

    with pytest.raises(PbxBadResponse) as caught:
        all_calls(make_client(pbx_fake), T0, T0 + timedelta(hours=1))

    assert str(caught.value) == f"OnlinePBX refused {SEARCH}: no error code given"  # the comment is vendor text


@pytest.mark.parametrize(
    "domain", ["evil.com/x?", "pbx.onpbx.ru/../x", "pbx.onpbx.ru?a=1", "a#b", "user@pbx.ru", "pbx.ru:8080", "a b", ""]
)
def test_client_refuses_a_domain_that_is_not_a_host_name(pbx_fake: FakeOnlinePbx, domain: str) -> None:
    with pytest.raises(ValueError, match="domain must look like"):
        OnlinePbxClient(pbx_fake.base_url, domain, pbx_fake.auth_key)
    assert pbx_fake.requests_log == []


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:1/?x=", "http://127.0.0.1:1/#", "http://u:p@127.0.0.1:1"])
def test_client_refuses_a_base_url_with_a_query_fragment_or_credentials(base_url: str) -> None:
    with pytest.raises(ValueError, match="base URL must not"):
        OnlinePbxClient(base_url, "pbx1.onpbx.ru", "key")


def test_http429_raises_rate_limited_with_retry_after(pbx_fake: FakeOnlinePbx) -> None:
    pbx_fake.fail_next(1, "http429", path_contains="user/get")

    with pytest.raises(RateLimited) as caught:
        make_client(pbx_fake).list_operators()

    assert caught.value.retry_after == 7.0
    assert "retry in 7 s" in str(caught.value)


# --- call history ----------------------------------------------------------------------------------------------------


def test_list_calls_splits_a_long_range_into_windows_of_at_most_seven_days(pbx_fake: FakeOnlinePbx) -> None:
    pbx_fake.add_calls_generated(240, start=T0, spacing_seconds=3600)  # one call an hour for ten days
    client = make_client(pbx_fake, window=timedelta(days=7))
    until = T0 + timedelta(days=10)

    windows = list(client.list_calls(since=T0, until=until))

    sent = [(int(form["start_stamp_from"]), int(form["start_stamp_to"])) for form in requests_to(pbx_fake, SEARCH)]
    assert len(sent) == len(windows) == 2
    assert all(to - since <= 7 * 24 * 3600 for since, to in sent)
    assert sent[0][0] == int(T0.timestamp()) and sent[-1][1] == int(until.timestamp())
    assert sent[0][1] == sent[1][0]  # contiguous: no gap where calls could hide
    ids = [call.pbx_call_id for window in windows for call in window]
    assert len(ids) == len(set(ids)) == 240


def test_list_calls_lists_a_call_on_a_window_boundary_once_and_excludes_until(pbx_fake: FakeOnlinePbx) -> None:
    on_boundary = pbx_fake.add_call(started_at=T0 + timedelta(days=1))
    at_until = pbx_fake.add_call(started_at=T0 + timedelta(days=2))
    client = make_client(pbx_fake, window=timedelta(days=1))

    windows = list(client.list_calls(since=T0, until=T0 + timedelta(days=2)))

    assert [[call.pbx_call_id for call in window] for window in windows] == [[], [on_boundary["uuid"]]]
    assert at_until["uuid"] not in {call.pbx_call_id for window in windows for call in window}


def test_list_calls_rejects_naive_datetimes_and_windows_over_seven_days(pbx_fake: FakeOnlinePbx) -> None:
    with pytest.raises(ValueError, match="7 days"):
        make_client(pbx_fake, window=timedelta(days=8))
    with pytest.raises(ValueError, match="timezone-aware"):
        make_client(pbx_fake).list_calls(since=datetime(2025, 1, 1), until=T0)  # naive on purpose
    assert pbx_fake.requests_log == []


def test_fake_refuses_history_windows_over_seven_days_like_the_real_pbx(pbx_fake: FakeOnlinePbx) -> None:
    client = make_client(pbx_fake)
    client.list_operators()
    assert client.key_pair is not None
    since = int(T0.timestamp())

    answer = requests.post(
        f"{pbx_fake.base_url}/{pbx_fake.domain}/{SEARCH}",
        data={"start_stamp_from": since, "start_stamp_to": since + 8 * 24 * 3600},
        headers={"x-pbx-authentication": ":".join(client.key_pair)},
        timeout=5,
    ).json()

    assert answer["status"] == "0" and "7 days" in answer["comment"]


def test_inbound_call_operator_is_the_user_leg_that_answered(pbx_fake: FakeOnlinePbx) -> None:
    start = int(T0.timestamp())
    record = pbx_fake.add_call(
        direction="inbound",
        customer_phone="998901234567",
        started_at=start,
        duration_seconds=120,
        events=[
            {"type": "transfer", "timestamp": start, "number": "998712000000"},
            {"type": "user", "timestamp": start + 1, "number": "102", "end_stamp": start + 15},
            {"type": "user", "timestamp": start + 15, "number": "104", "answered_stamp": start + 20},
        ],
    )

    [call] = all_calls(make_client(pbx_fake), T0, T0 + timedelta(hours=1))

    assert call.pbx_call_id == record["uuid"]
    assert (call.direction, call.operator_ext, call.customer_phone_raw) == ("inbound", "104", "998901234567")
    assert call.started_at == T0 and call.ended_at == T0 + timedelta(seconds=120)
    assert call.talk_seconds == record["user_talk_time"] > 0


def test_unanswered_inbound_call_has_no_operator(pbx_fake: FakeOnlinePbx) -> None:
    pbx_fake.add_call(direction="inbound", operator_ext=None, customer_phone="+998935551122", started_at=T0)

    [call] = all_calls(make_client(pbx_fake), T0, T0 + timedelta(hours=1))

    assert call.operator_ext is None
    assert call.talk_seconds == 0
    assert call.customer_phone_raw == "+998935551122"
    assert call.hangup_cause == "ORIGINATOR_CANCEL"


def test_outbound_call_operator_is_the_caller_id_number(pbx_fake: FakeOnlinePbx) -> None:
    pbx_fake.add_call(direction="outbound", operator_ext="103", customer_phone="901234567", started_at=T0)

    [call] = all_calls(make_client(pbx_fake), T0, T0 + timedelta(hours=1))

    assert (call.direction, call.operator_ext, call.customer_phone_raw) == ("outbound", "103", "901234567")
    assert call.hangup_cause == "NORMAL_CLEARING"


def test_call_with_numeric_gateway_and_unknown_keys_is_listed(pbx_fake: FakeOnlinePbx) -> None:
    record = pbx_fake.add_call(started_at=T0, gateway=998712000000, quality_score=None, transcription={"x": 1})

    [call] = all_calls(make_client(pbx_fake), T0, T0 + timedelta(hours=1))

    assert call.pbx_call_id == record["uuid"]


@pytest.mark.parametrize(
    ("missing", "message"),
    [("uuid", "has no uuid"), ("user_talk_time", "has no user_talk_time"), ("accountcode", "unknown direction")],
)
def test_broken_call_record_is_named_in_its_window_instead_of_dropped_or_blocking_the_others(
    pbx_fake: FakeOnlinePbx, missing: str, message: str
) -> None:
    good = pbx_fake.add_call(started_at=T0)
    broken = pbx_fake.add_call(started_at=T0 + timedelta(minutes=5))
    del broken[missing]

    [window] = list(make_client(pbx_fake).list_calls(since=T0, until=T0 + timedelta(hours=1)))

    assert [call.pbx_call_id for call in window] == [good["uuid"]]
    [rejected] = window.rejected
    assert rejected.pbx_call_id == broken.get("uuid", "")
    assert message in rejected.reason
    assert "998901234567" not in rejected.reason  # our own text, never the vendor's record


def test_list_calls_by_end_time_finds_a_long_call_in_the_window_of_its_end(pbx_fake: FakeOnlinePbx) -> None:
    long_call = pbx_fake.add_call(started_at=T0, duration_seconds=2 * 3600)  # ends at T0 + 2 h
    pbx_fake.add_call(started_at=T0 + timedelta(minutes=10), duration_seconds=60)  # ends inside the first hour

    client = make_client(pbx_fake)
    [late] = list(client.list_calls(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3), by="end"))

    assert [call.pbx_call_id for call in late] == [long_call["uuid"]]
    [form] = requests_to(pbx_fake, SEARCH)
    assert set(form) == {"end_stamp_from", "end_stamp_to"}


def test_list_calls_parses_ten_thousand_generated_calls(pbx_fake: FakeOnlinePbx) -> None:
    pbx_fake.add_calls_generated(10_000, start=T0, spacing_seconds=60, seed=7)
    client = make_client(pbx_fake)  # default one-day windows: seven requests

    windows = list(client.list_calls(since=T0, until=T0 + timedelta(days=7)))

    calls = [call for window in windows for call in window]
    assert len(calls) == len({call.pbx_call_id for call in calls}) == 10_000
    assert all(window == sorted(window, key=lambda call: call.started_at) for window in windows)
    assert {call.direction for call in calls} == {"inbound", "outbound"}
    answered_inbound = [call for call in calls if call.direction == "inbound" and call.talk_seconds > 0]
    assert answered_inbound and all(call.operator_ext for call in answered_inbound)
    assert all(call.started_at.tzinfo is UTC for call in calls)


# --- recordings ------------------------------------------------------------------------------------------------------


def test_recording_is_downloaded_byte_for_byte_without_the_auth_header(pbx_fake: FakeOnlinePbx) -> None:
    audio = b"ID3\x04\x00" + bytes(range(256)) * 800  # ~200 KB, several chunks
    record = pbx_fake.add_call(started_at=T0, recording=audio)
    client = make_client(pbx_fake)
    dest = io.BytesIO()

    url = client.recording_url(record["uuid"])
    assert url is not None
    written = client.download_recording(url, dest, max_bytes=10_000_000)

    assert written == len(audio) and dest.getvalue() == audio
    assert requests_to(pbx_fake, SEARCH) == [{"download": "1", "uuid": record["uuid"]}]
    assert "x-pbx-authentication" not in pbx_fake.request_headers[-1]


def test_recording_url_is_none_when_the_call_has_no_recording(pbx_fake: FakeOnlinePbx) -> None:
    record = pbx_fake.add_call(started_at=T0, recording=b"ID3", recording_mode="missing")

    assert make_client(pbx_fake).recording_url(record["uuid"]) is None


def test_failing_recording_link_raises_retryable_link_expired(pbx_fake: FakeOnlinePbx) -> None:
    # Only the API's empty link means "no recording" (spec §6); a link that 404s is asked afresh on the next try.
    record = pbx_fake.add_call(started_at=T0, recording_mode="404")
    client = make_client(pbx_fake)
    url = client.recording_url(record["uuid"])
    assert url is not None

    with pytest.raises(RecordingLinkExpired, match="HTTP 404") as caught:
        client.download_recording(url, io.BytesIO(), max_bytes=1_000_000)

    assert url.split("/")[-2] not in str(caught.value)  # the download token stays out of the admin


def test_recording_over_the_limit_raises_recording_too_large_before_download(pbx_fake: FakeOnlinePbx) -> None:
    record = pbx_fake.add_call(started_at=T0, recording=b"\xff\xfb" * 1_000_000)
    client = make_client(pbx_fake)
    url = client.recording_url(record["uuid"])
    assert url is not None
    dest = io.BytesIO()

    with pytest.raises(RecordingTooLarge, match=r"1\.9 MB, over the 1\.0 MB limit"):
        client.download_recording(url, dest, max_bytes=1_048_576)

    assert dest.getvalue() == b""


def test_recording_host_errors_raise_pbx_unavailable(pbx_fake: FakeOnlinePbx) -> None:
    record = pbx_fake.add_call(started_at=T0, recording=b"ID3" * 100)
    client = make_client(pbx_fake)
    url = client.recording_url(record["uuid"])
    assert url is not None
    pbx_fake.fail_next(1, "http500", path_contains="calls-records")

    with pytest.raises(PbxUnavailable, match="HTTP 500"):
        client.download_recording(url, io.BytesIO(), max_bytes=1_000_000)


# Servers below are pytest-httpserver: shapes the fake cannot produce on purpose.


def test_streamed_recording_without_content_length_stops_at_the_limit(httpserver: HTTPServer) -> None:
    def stream(request: Request) -> Response:
        return Response((b"\xff\xfb" * 5_000 for _ in range(20)), content_type="audio/mpeg")  # chunked, 200 KB

    httpserver.expect_request("/rec.mp3").respond_with_handler(stream)
    client = OnlinePbxClient(httpserver.url_for("/"), "pbx-demo.onpbx.ru", "demo-auth-key")
    dest = io.BytesIO()

    with pytest.raises(RecordingTooLarge):
        client.download_recording(httpserver.url_for("/rec.mp3"), dest, max_bytes=100_000)

    assert len(dest.getvalue()) <= 100_000


def test_recording_download_survives_one_gateway_error_but_posts_are_never_resent(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/rec.mp3").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/rec.mp3").respond_with_data(b"ID3audio", content_type="audio/mpeg")
    httpserver.expect_request("/pbx-demo.onpbx.ru/auth.json", method="POST").respond_with_data("busy", status=503)
    client = OnlinePbxClient(httpserver.url_for("/"), "pbx-demo.onpbx.ru", "demo-auth-key")
    dest = io.BytesIO()

    assert client.download_recording(httpserver.url_for("/rec.mp3"), dest, max_bytes=1_000) == 8
    with pytest.raises(PbxUnavailable, match="HTTP 503"):
        client.list_operators()

    assert [entry[0].method for entry in httpserver.log] == ["GET", "GET", "POST"]
