"""The Bitrix24 client against the fake portal: real HTTP, the real Redis bucket (issue 14)."""

import multiprocessing
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from integrations.crm.base import CrmWrite
from integrations.crm.bitrix import BitrixClient, bracket_query
from integrations.crm.errors import CrmAuthError, CrmConfigError, CrmRateLimited, CrmUnavailable
from integrations.crm.phones import phone_key, search_forms, uz_core
from integrations.limits import LocalLimits, RedisLimits
from integrations.testing.bitrix24 import FakeBitrix24, bucket_worker, demo_seed

WRITTEN_FORMS = [
    "+998{core}",
    "998{core}",
    "{core}",
    "+998 {a} {b} {c} {d}",
    "+998 ({a}) {b}-{c}-{d}",
]


def _form(template: str, core: str) -> str:
    return template.format(core=core, a=core[:2], b=core[2:5], c=core[5:7], d=core[7:])


@pytest.fixture
def fake():
    with FakeBitrix24() as portal:
        yield portal


@pytest.fixture
def redis_limits() -> RedisLimits:
    """The real shared limiter, in keys of this test alone."""
    return RedisLimits(settings.REDIS_URL, prefix=f"dialix-test-crma:{uuid.uuid4().hex}:")


def _client(fake: FakeBitrix24, limits, **kwargs) -> BitrixClient:
    return BitrixClient(fake.webhook_url, rate=fake.rate, burst=fake.burst, limits=limits, **kwargs)


# --- phones -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["+998901234567", "998901234567", "901234567", "+998 90 123 45 67", "+998 (90) 123-45-67", "8 90 123-45-67"],
)
def test_phone_forms_of_every_uzbek_writing_share_one_core(raw):
    assert uz_core(raw) == "901234567"
    assert phone_key(raw) == "998901234567"
    assert search_forms(raw)[:3] == ["+998901234567", "998901234567", "901234567"]


def test_phone_forms_of_short_or_foreign_numbers():
    assert search_forms("101") == [] and search_forms("") == []
    assert search_forms("+7 912 345 67 89")[:2] == ["+79123456789", "79123456789"]


@pytest.mark.parametrize("find_by_comm", [True, False], ids=["findbycomm", "list-fallback"])
def test_match_phones_links_every_written_form_to_its_contact(fake, redis_limits, find_by_comm):
    """Five contacts, each stored in another Uzbek form; every one is asked for in all five forms."""
    cores = ["901234567", "911234568", "931234569", "941234560", "951234561"]
    contacts = {
        core: fake.add_contact(f"Client{i}", "Test", phones=[_form(template, core)])
        for i, (core, template) in enumerate(zip(cores, WRITTEN_FORMS, strict=True))
    }
    if not find_by_comm:
        fake.find_by_comm_enabled = False  # the portal refuses the duplicate search: the list methods take over
    asked = [_form(template, core) for core in cores for template in WRITTEN_FORMS]
    client = _client(fake, redis_limits)

    matches = client.match_phones(asked)

    assert len(matches) == 25
    for phone in asked:
        match = matches[phone]
        assert match.client is not None, phone
        assert (match.client.kind, match.client.id) == ("contact", contacts[uz_core(phone)]), phone
    if find_by_comm:
        assert client.requests_sent == 2  # one batch of 25 duplicate searches, one of 5 names (no deals)
    else:
        assert "crm.duplicate.findbycomm" in fake.methods_called()  # asked, refused, then the exact forms
        assert any(
            m == "crm.contact.list" and "PHONE" in str(e["params"]) for e in fake.requests_log for m in e["methods"]
        )


def test_match_phones_prefers_contact_then_company_then_lead(fake, redis_limits):
    lead_only = fake.add_lead("Lead A", name="Ali", phones=["+998 90 000 00 01"])
    fake.add_lead("Lead B", name="Vali", phones=["998900000002"])
    company = fake.add_company("Savdo MChJ", phones=["900000002"])
    fake.add_lead("Lead C", phones=["+998900000003"])
    fake.add_company("Other MChJ", phones=["+998900000003"])
    contact = fake.add_contact("Aziza", "Rahimova", phones=["998 90 000 00 03"])

    matches = _client(fake, redis_limits).match_phones(["998900000001", "998900000002", "998900000003"])

    assert (matches["998900000001"].client.kind, matches["998900000001"].client.id) == ("lead", lead_only)
    assert (matches["998900000002"].client.kind, matches["998900000002"].client.id) == ("company", company)
    assert matches["998900000002"].client.name == "Savdo MChJ"
    assert (matches["998900000003"].client.kind, matches["998900000003"].client.id) == ("contact", contact)
    assert matches["998900000003"].client.name == "Aziza Rahimova"


def test_match_phones_no_number_or_nobody_is_no_match(fake, redis_limits):
    fake.add_contact("Someone", phones=["+998991112233"])
    client = _client(fake, redis_limits)

    matches = client.match_phones(["", "101", "998977777777"])

    assert [matches[p].client for p in ("", "101", "998977777777")] == [None, None, None]
    assert client.requests_sent == 1  # only the real number was asked for; the rest never cost a request


def test_match_phones_returns_the_clients_deals_newest_first_with_outcome(fake, redis_limits):
    fake.add_funnel("7", "Kurslar")
    contact = fake.add_contact("Aziza", phones=["+998901234567"])
    now = datetime.now(UTC)
    old = fake.add_deal("Old order", contact_id=contact, at=now - timedelta(days=9))
    fake.move_deal(old, "LOSE", at=now - timedelta(days=8))
    new = fake.add_deal("Python kursi", contact_id=contact, funnel_id="7", at=now - timedelta(days=1))
    fake.move_deal(new, "WON", at=now)
    fake.add_deal("Someone else's", contact_id=fake.add_contact("Other", phones=["+998911111111"]))

    deals = _client(fake, redis_limits).match_phones(["901234567"])["901234567"].deals

    assert [(d.id, d.stage_id, d.semantic, d.funnel_id) for d in deals] == [
        (new, "C7:WON", "won", "7"),
        (old, "LOSE", "lost", "0"),
    ]
    assert deals[0].created_at.tzinfo is not None and deals[0].closed_at is not None


# --- stages, paging, batch --------------------------------------------------------------------------------------------


def test_stages_key_lead_and_deal_names_apart(fake, redis_limits):
    fake.add_funnel("7", "Kurslar")

    stages = {(s.entity_id, s.status_id): s for s in _client(fake, redis_limits).stages()}

    assert stages[("STATUS", "NEW")].name == "Unassigned" and stages[("STATUS", "NEW")].funnel_id == ""
    assert stages[("DEAL_STAGE", "NEW")].name == "New deal" and stages[("DEAL_STAGE", "NEW")].funnel_id == "0"
    assert stages[("DEAL_STAGE_7", "C7:WON")].semantic == "won"
    assert stages[("DEAL_STAGE_7", "C7:WON")].funnel_name == "Kurslar"
    assert stages[("DEAL_STAGE", "APOLOGY")].semantic == "lost"
    assert stages[("STATUS", "CONVERTED")].semantic == "won" and stages[("STATUS", "JUNK")].semantic == "lost"


def test_list_pages_follow_next_and_start(fake, redis_limits):
    for i in range(120):
        fake.add_contact(f"C{i}")
    client = _client(fake, redis_limits)

    pages, start = [], 0
    while start is not None:
        body = client.call("crm.contact.list", {"select": ["ID"], "start": start})
        pages.append(len(body["result"]))
        assert body["total"] == 120
        start = body.get("next")

    assert pages == [50, 50, 20]
    assert isinstance(body["result"][0]["ID"], str) and "time" in body


def test_deals_modified_since_pages_by_id_above_the_last(fake, redis_limits):
    now = datetime.now(UTC)
    before = [fake.add_deal(f"old {i}", at=now - timedelta(days=3)) for i in range(3)]
    changed = [fake.add_deal(f"new {i}", at=now - timedelta(hours=1)) for i in range(105)]
    fake.move_deal(before[0], "WON", at=now)  # an old deal that moved: modified since the cursor
    client = _client(fake, redis_limits)

    seen, after, sizes = [], "", []
    while True:
        page = client.deals_modified_since(now - timedelta(days=1), after_id=after)
        if not page.deals:
            break
        sizes.append(len(page.deals))
        seen += [d.id for d in page.deals]
        after = page.last_id

    assert sizes == [50, 50, 6]
    assert seen == sorted([before[0], *changed], key=int)
    assert all(entry["params"].get("start") == -1 for entry in fake.requests_log)  # no total counted


def test_bracket_query_and_batch_commands(fake, redis_limits):
    assert bracket_query({"filter": {"PHONE": "+998 90"}, "select": ["ID", "NAME"], "start": -1}) == (
        "filter[PHONE]=%2B998%2090&select[0]=ID&select[1]=NAME&start=-1"
    )
    contact = fake.add_contact("Aziza", phones=["+998 90 123 45 67"])
    client = _client(fake, redis_limits)
    commands = {f"c{i}": ("crm.contact.list", {"filter": {"PHONE": "+998 90 123 45 67"}}) for i in range(49)}
    commands["bad"] = ("crm.no.such.method", {})

    results, errors, totals, _ = client.batch(commands)

    assert client.requests_sent == 1 and fake.http_requests() == 1
    assert all(results[f"c{i}"][0]["ID"] == contact for i in range(49)) and totals["c0"] == 1
    assert "ERROR_METHOD_NOT_FOUND" in str(errors["bad"]) or "refused crm.no.such.method" in str(errors["bad"])
    with pytest.raises(ValueError):
        client.batch({f"c{i}": ("crm.contact.list", {}) for i in range(51)})


@pytest.mark.parametrize("tail", ["/", ""])
def test_webhook_base_joined_with_exactly_one_slash(fake, redis_limits, tail):
    url = fake.webhook_url.rstrip("/") + tail
    client = BitrixClient(url, limits=redis_limits)
    client.call("crm.contact.list", {"start": -1})
    assert fake.answered["200"] == 1


def test_webhook_url_of_the_wrong_form_is_refused():
    with pytest.raises(CrmConfigError):
        BitrixClient("https://acme.bitrix24.kz/crm/deal/", limits=LocalLimits())


# --- limits and faults ------------------------------------------------------------------------------------------------


def test_query_limit_exceeded_is_waited_out_and_retried(fake, redis_limits):
    fake.fail_next(2, "503")
    client = _client(fake, redis_limits, backoff_seconds=0.1)

    body = client.call("crm.contact.list", {"start": -1})

    assert body["result"] == []
    assert client.requests_sent == 3
    assert fake.answered["503 QUERY_LIMIT_EXCEEDED"] == 2 and fake.answered["200"] == 1


def test_operation_time_limit_waits_until_reset(fake, redis_limits):
    fake.fail_next(1, "429", reset_seconds=1.0)
    client = _client(fake, redis_limits)

    started = time.monotonic()
    client.call("crm.deal.list", {"start": -1})

    assert time.monotonic() - started >= 0.9  # until time.operating_reset_at, not at once
    assert fake.answered["429 OPERATION_TIME_LIMIT"] == 1 and fake.answered["200"] == 1


def test_operation_time_limit_beyond_the_wait_bound_raises_with_retry_after(fake, redis_limits):
    fake.fail_next(1, "429", reset_seconds=20.0)
    client = _client(fake, redis_limits, wait_seconds=1.0)

    with pytest.raises(CrmRateLimited) as raised:
        client.call("crm.deal.list", {"start": -1})
    assert 15 < raised.value.retry_after <= 21
    with pytest.raises(CrmRateLimited):  # the method stays blocked here: not even sent
        client.call("crm.deal.list", {"start": -1})
    assert client.requests_sent == 1


@pytest.mark.parametrize(
    ("mode", "reason", "words"),
    [
        ("401", "webhook", "does not accept the webhook"),
        ("403_scope", "scope", "lacks the crm scope"),
        ("403_rights", "rights", "lacks the rights"),
        ("403_plan", "plan", "no REST API on its plan"),
        ("access_denied", "rights", "Access denied"),
    ],
)
def test_refusals_raise_auth_errors_that_say_what_to_fix(fake, redis_limits, mode, reason, words):
    fake.fail_next(1, mode)
    with pytest.raises(CrmAuthError) as raised:
        _client(fake, redis_limits).call("crm.contact.list", {"start": -1})
    assert raised.value.reason == reason and words in str(raised.value)
    assert fake.code not in str(raised.value)


def test_wrong_webhook_code_is_an_auth_error(fake, redis_limits):
    client = BitrixClient(fake.webhook_url.replace(fake.code, "wrongcode123"), limits=redis_limits)
    with pytest.raises(CrmAuthError) as raised:
        client.match_phones(["+998901234567"])
    assert raised.value.reason == "webhook"


@pytest.mark.parametrize("mode", ["garbage", "html500", "http500", "truncated"])
def test_garbage_and_server_errors_are_unavailable(fake, redis_limits, mode):
    fake.fail_next(1, mode)
    with pytest.raises(CrmUnavailable):
        _client(fake, redis_limits).match_phones(["+998901234567"])


def test_timeout_is_unavailable(fake, redis_limits):
    fake.timeout_sleep_seconds = 1.5
    fake.fail_next(1, "timeout")
    with pytest.raises(CrmUnavailable, match="did not answer"):
        _client(fake, redis_limits, timeout=(1.0, 0.5)).call("crm.contact.list", {"start": -1})


def test_the_bucket_holds_across_two_worker_processes(fake):
    """Two processes send through the client with one Redis bucket: the portal's bucket never overflows. Each with a
    bucket of its own, the same load overflows it."""
    fake.rate, fake.burst = 4.0, 4
    spawn = multiprocessing.get_context("spawn")
    prefix = f"dialix-test-crma:{uuid.uuid4().hex}:"
    args = (fake.webhook_url, fake.rate, fake.burst, 10, settings.REDIS_URL, prefix)

    started = time.monotonic()
    with spawn.Pool(2) as pool:
        outcomes = pool.starmap(bucket_worker, [args, args])
    elapsed = time.monotonic() - started

    assert [o for run in outcomes for o in run] == ["ok"] * 20
    assert fake.limit_rejections == 0 and fake.answered["200"] == 20
    stamps = sorted(e["at"] for e in fake.requests_log)
    for i, first in enumerate(stamps):  # in any span, at most burst + rate * span requests arrived
        for j in range(i, len(stamps)):
            assert j - i + 1 <= fake.burst + fake.rate * (stamps[j] - first) + 1
    assert elapsed >= (20 - fake.burst) / fake.rate - 0.5

    fake.requests_log.clear()
    fake.answered.clear()
    time.sleep(fake.burst / fake.rate)  # the portal's bucket drains
    unshared = (fake.webhook_url, fake.rate, fake.burst, 10, "", "")  # "" = a limiter per process
    with spawn.Pool(2) as pool:
        outcomes = pool.starmap(bucket_worker, [unshared, unshared])
    assert fake.limit_rejections > 0  # without the shared bucket the portal refuses some


# --- check, write -----------------------------------------------------------------------------------------------------


def test_check_names_every_part_that_works(fake, redis_limits):
    fake.add_funnel("7", "Kurslar")
    check = _client(fake, redis_limits).check()
    names = [(name, ok) for name, ok, _ in check.parts]
    assert check.ok
    assert names[:6] == [
        ("Portal reachable", True),
        ("Webhook valid", True),
        ("CRM scope", True),
        ("Contacts readable", True),
        ("Deals readable", True),
        ("Funnels and stages", True),
    ]
    assert names[-1][0] == "Write rights" and "not tested" in check.parts[-1][2]
    assert fake.http_requests() == 1


def test_check_names_the_missing_scope_and_rights(fake, redis_limits):
    fake.scopes.clear()
    check = _client(fake, redis_limits).check()
    assert not check.ok
    assert ("CRM scope", False) in [(n, ok) for n, ok, _ in check.parts]
    assert any("tick CRM (crm)" in text for _, _, text in check.parts)

    fake.scopes.add("crm")
    fake.denied_methods.add("crm.deal.list")
    parts = {n: (ok, text) for n, ok, text in _client(fake, redis_limits).check().parts}
    assert parts["Contacts readable"][0] and not parts["Deals readable"][0]
    assert "CRM rights" in parts["Deals readable"][1]


def test_check_of_an_unreachable_portal(redis_limits):
    with FakeBitrix24() as gone:
        url = gone.webhook_url
    check = BitrixClient(url, limits=redis_limits, timeout=(0.5, 0.5)).check()
    assert not check.ok and check.parts[0][:2] == ("Portal reachable", False)


def test_write_adds_then_updates_the_same_comment_and_activity(fake, redis_limits):
    contact = fake.add_contact("Aziza", phones=["+998901234567"])
    deal = fake.add_deal("Order", contact_id=contact)
    client = _client(fake, redis_limits)
    comment = CrmWrite(key="call-1:v1", kind="comment", entity_kind="deal", entity_id=deal, text="Ball 86\n[m-1]")
    activity = CrmWrite(
        key="call-2:v1",
        kind="activity",
        entity_kind="deal",
        entity_id=deal,
        text="Ball 70",
        subject="Dialix: call analysed",
        phone="+998901234567",
        party_kind="contact",
        party_id=contact,
    )

    first = client.write([comment, activity])
    assert [r.error for r in first] == ["", ""] and client.requests_sent == 1
    comment_id, activity_id = first[0].written_id, first[1].written_id
    assert fake.comments[int(comment_id)]["COMMENT"] == "Ball 86\n[m-1]"
    stored = fake.activities[int(activity_id)]
    assert stored["OWNER_TYPE_ID"] == "2" and stored["COMMUNICATIONS"][0]["ENTITY_ID"] == contact
    assert stored["RESPONSIBLE_ID"] == fake.user_id

    again = client.write(
        [
            _replace(comment, text="Ball 90\n[m-1]", existing_id=comment_id),
            _replace(activity, text="Ball 75", existing_id=activity_id),
        ]
    )
    assert [r.written_id for r in again] == [comment_id, activity_id]
    assert len(fake.comments) == 1 and fake.comments[int(comment_id)]["COMMENT"] == "Ball 90\n[m-1]"
    assert len(fake.activities) == 1 and fake.activities[int(activity_id)]["DESCRIPTION"] == "Ball 75"
    assert client.find_written(kind="comment", entity_kind="deal", entity_id=deal, marker="[m-1]") == comment_id
    assert client.find_written(kind="comment", entity_kind="deal", entity_id=deal, marker="[m-2]") == ""

    del fake.comments[int(comment_id)]  # deleted in the CRM
    gone = client.write([_replace(comment, existing_id=comment_id)])
    assert gone[0].error == "not_found" and gone[0].written_id == ""


def test_write_batches_fifty_a_request_and_reports_each_refusal(fake, redis_limits):
    contact = fake.add_contact("Aziza")
    writes = [
        CrmWrite(key=f"k{i}", kind="comment", entity_kind="contact", entity_id=contact, text=f"t{i}") for i in range(60)
    ]
    writes[5] = _replace(writes[5], entity_id="999999")  # no such contact
    client = _client(fake, redis_limits)

    results = client.write(writes)

    assert client.requests_sent == 2
    assert sum(1 for r in results if r.written_id) == 59 and len(fake.comments) == 59
    assert results[5].written_id == "" and "Owner not found" in results[5].error


def test_entity_url_opens_the_portal(fake):
    client = BitrixClient(fake.webhook_url, limits=LocalLimits())
    assert client.entity_url("deal", "410") == f"{fake.portal_url}/crm/deal/details/410/"
    assert fake.code not in repr(client)


def test_demo_seed_links_most_numbers_and_moves_deals_over_time(fake, redis_limits):
    phones = [f"99890{i:07d}" for i in range(40)]
    now = datetime.now(UTC)
    counts = demo_seed(fake, phones, now=now)
    matches = _client(fake, redis_limits).match_phones(phones)
    linked = sum(1 for m in matches.values() if m.client is not None)
    assert linked == len(phones) - counts.get("unknown", 0) and linked >= 30
    open_before = sum(1 for d in fake.deals.values() if d["CLOSED"] == "N")
    moved = fake.advance(now + timedelta(hours=2))
    assert len(moved) == counts["scheduled"] > 0
    assert sum(1 for d in fake.deals.values() if d["CLOSED"] == "N") == open_before - len(moved)


def _replace(write: CrmWrite, **changes) -> CrmWrite:
    import dataclasses

    return dataclasses.replace(write, **changes)


def test_the_fake_serves_https_with_a_certificate_the_client_trusts(redis_limits, monkeypatch):
    with FakeBitrix24(tls=True) as portal:
        portal.add_contact("Aziza", phones=["+998901234567"])
        assert portal.webhook_url.startswith("https://")
        with pytest.raises(CrmUnavailable):  # an untrusted certificate is a transport failure, never ignored
            BitrixClient(portal.webhook_url, limits=redis_limits).call("crm.contact.list", {"start": -1})
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", portal.ca_file)  # requests reads it on every request
        client = BitrixClient(portal.webhook_url, limits=redis_limits)
        assert client.match_phones(["901234567"])["901234567"].client.name == "Aziza"


@pytest.mark.django_db
def test_the_connections_plan_sets_the_shared_bucket(company, settings):
    from integrations.models import CrmConnection
    from integrations.services_crm import crm_client_for_connection

    settings.DIALIX_CRM_ALLOW_PRIVATE_HOSTS = True
    crm = CrmConnection(company=company, webhook_url="http://127.0.0.1:9/rest/1/abc/", plan="enterprise")
    client = crm_client_for_connection(crm)
    assert (client.rate, client.burst) == (5.0, 250)
    crm.plan = "standard"
    assert (crm_client_for_connection(crm).rate, crm_client_for_connection(crm).burst) == (2.0, 50)


def test_the_fake_speaks_get_bracket_queries_any_case_and_empty_error_bodies(fake):
    import requests

    contact = fake.add_contact("Aziza", phones=["+998 90 123 45 67"])
    base = fake.webhook_url
    got = requests.get(
        f"{base}CRM.Contact.List.json?FILTER[PHONE]=%2B998%2090%20123%2045%2067&select[]=ID&select[]=PHONE", timeout=5
    ).json()
    assert got["result"][0]["ID"] == contact and got["result"][0]["PHONE"][0]["VALUE"] == "+998 90 123 45 67"
    assert got["total"] == 1 and {"start", "finish", "duration", "operating_reset_at"} <= set(got["time"])
    refused = requests.post(f"{base}crm.timeline.comment.add", json={"fields": {"ENTITY_TYPE": "deal"}}, timeout=5)
    assert refused.status_code == 400 and refused.json()["error"] == "OWNER_NOT_FOUND"
    fake.denied_methods.add("crm.lead.list")
    denied = requests.post(f"{base}crm.lead.list", json={}, timeout=5)
    assert denied.json() == {"error": "", "error_description": "Access denied."}
    nothing = requests.post(
        f"{base}batch", json={"cmd": {"a": "crm.duplicate.findbycomm?type=PHONE&values[]=998000000000"}}, timeout=5
    ).json()["result"]
    assert nothing["result"] == {"a": []} and nothing["result_error"] == []
