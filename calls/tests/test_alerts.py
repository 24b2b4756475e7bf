"""Alerts (issue 16) on PostgreSQL, over real HTTP to the fake Telegram Bot API: once per call and rule across task
retries and re-analyses, phrase rules, the daily digest, e-mail, failures shown in the console."""

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.urls import reverse

from calls.models import Call
from calls.models_alerts import AlertChannel, AlertDelivery, AlertRule, AlertStatus, AlertTrigger
from calls.services.alerts import (
    alert_deliveries_close_stale,
    alert_digest_send,
    alert_digests_due,
    call_alerts_evaluate,
    call_alerts_queue,
    fold_text,
    phrase_found,
)
from calls.services.analysis import call_analyse, calls_reanalyse
from calls.tasks_alerts import alert_delivery_send_task
from calls.tests.factories import CallFactory, transcribed_call_from_fixture
from checklists.demo import demo_checklists
from companies.models import Role
from integrations.testing.telegram import FakeTelegram

pytestmark = pytest.mark.django_db

TOKEN = "555111:TEST-alerts-token"
CHAT = "-100200300"


@pytest.fixture
def telegram(settings):
    with FakeTelegram(token=TOKEN) as fake:
        settings.TELEGRAM_API_BASE_URL = fake.base_url
        settings.DIALIX_PUBLIC_URL = "https://qa.example.uz"
        yield fake


def _rule(company, **fields) -> AlertRule:
    defaults = {
        "name": "Headphones mentioned",
        "trigger": AlertTrigger.PHRASE,
        "phrases": "wireless headphones",
        "channel": AlertChannel.TELEGRAM,
        "telegram_bot_token": TOKEN,
        "telegram_chat_id": CHAT,
    }
    return AlertRule.objects.create(company=company, **{**defaults, **fields})


def _analysed(company, fixture: str, capture) -> Call:
    call = transcribed_call_from_fixture(company, fixture)
    with capture(execute=True):
        call_analyse(call_id=call.pk)
    return Call.objects.get(pk=call.pk)


def test_alert_reaches_telegram_once_across_retries_and_a_reanalysis(
    telegram, company, django_capture_on_commit_callbacks, eager_retries
):
    demo_checklists(company)
    rule = _rule(company)
    telegram.fail_next(2, "http429", retry_after=1)  # Too Many Requests twice, then it takes the message
    call = _analysed(company, "en-01-sale", django_capture_on_commit_callbacks)

    assert len(telegram.requests()) == 3
    [message] = telegram.messages()
    assert message["chat_id"] == CHAT
    assert "Headphones mentioned" in message["text"] and "wireless headphones" in message["text"]
    assert f"https://qa.example.uz/admin/calls/call/{call.pk}/change/" in message["text"]
    delivery = AlertDelivery.objects.get(rule=rule, call=call)
    assert (delivery.status, delivery.attempts, delivery.last_error) == (AlertStatus.SENT, 3, "")

    # the task runs again (a redelivered message): nothing more is sent
    alert_delivery_send_task.delay(delivery.pk)
    # the call is analysed again: the rule fires again, but the (rule, call) delivery exists and was sent
    calls_reanalyse(calls=Call.objects.filter(pk=call.pk))
    with django_capture_on_commit_callbacks(execute=True):
        call_analyse(call_id=call.pk)
    assert len(telegram.messages()) == 1
    assert AlertDelivery.objects.filter(rule=rule, call=call).count() == 1


def test_evaluating_twice_creates_one_delivery(telegram, company, django_capture_on_commit_callbacks):
    _rule(company)
    call = transcribed_call_from_fixture(company, "en-01-sale")
    with django_capture_on_commit_callbacks(execute=True):
        first = call_alerts_evaluate(call_id=call.pk)
    with django_capture_on_commit_callbacks(execute=True):
        second = call_alerts_evaluate(call_id=call.pk)
    assert len(first) == 1 and second == []
    assert len(telegram.messages()) == 1


def test_no_rule_no_query_beyond_the_check_and_no_message(telegram, company, django_capture_on_commit_callbacks):
    demo_checklists(company)
    _rule(company, phrases="a competitor nobody names")
    call = _analysed(company, "en-01-sale", django_capture_on_commit_callbacks)
    assert not AlertDelivery.objects.filter(call=call).exists()
    assert telegram.requests() == []


@pytest.mark.parametrize(
    "phrases, text, found",
    [
        ("Uzum", "Men UZUM bankdan kredit oldim", "Uzum"),
        ("Uzum", "Я брал кредит в Узум банке", "Uzum"),
        ("Uzum bank", "Я брал кредит в Узум банк", "Uzum bank"),
        ("Click", "оплатил через клик вчера", "Click"),
        ("o'zbekiston", "Ўзбекистон бўйича", "o'zbekiston"),
        ("payme", "paymentlar", ""),  # whole words only
        ("Kapitalbank\nAnorbank", "anorbankka o'tdim", ""),
        ("Kapitalbank\nAnorbank", "ANORBANK yaxshiroq", "Anorbank"),
    ],
)
def test_phrase_matching_is_case_and_script_blind_on_whole_words(phrases, text, found):
    assert phrase_found(phrases.splitlines(), text) == found


def test_fold_text_joins_latin_and_cyrillic_uzbek():
    assert fold_text("Тошкент Шаҳри") == fold_text("Toshkent shahri")
    assert fold_text("Ўзбекистон") == fold_text("O‘zbekiston")


def test_phrase_rule_in_cyrillic_matches_a_latin_transcript(telegram, company, django_capture_on_commit_callbacks):
    demo_checklists(company)
    rule = _rule(company, name="Competitor", phrases="Вайрлесс\nДиаликс Маркет")  # Диаликс -> dialiks ≠ dialix
    call = transcribed_call_from_fixture(company, "ru-01-sale")
    with django_capture_on_commit_callbacks(execute=True):
        call_alerts_evaluate(call_id=call.pk)
    delivery = AlertDelivery.objects.get(rule=rule, call=call)
    assert "Диаликс Маркет" in delivery.reason and "operator" in delivery.reason
    assert len(telegram.messages()) == 1


def test_auto_fail_critical_and_negative_rules(telegram, company, django_capture_on_commit_callbacks):
    auto = _rule(company, name="Auto-fail", trigger=AlertTrigger.AUTO_FAIL, phrases="")
    negative = _rule(company, name="Angry customer", trigger=AlertTrigger.NEGATIVE_SENTIMENT, phrases="")
    failed = CallFactory(company=company, auto_fail=True, score=0, customer_sentiment="negative")
    calm = CallFactory(company=company, auto_fail=False, score=90, customer_sentiment="positive")
    with django_capture_on_commit_callbacks(execute=True):
        call_alerts_evaluate(call_id=failed.pk)
        call_alerts_evaluate(call_id=calm.pk)
    assert set(AlertDelivery.objects.values_list("rule_id", "call_id")) == {
        (auto.pk, failed.pk),
        (negative.pk, failed.pk),
    }
    assert len(telegram.messages()) == 2


def test_critical_item_missed_after_a_real_analysis(telegram, company, django_capture_on_commit_callbacks):
    from checklists.models import ItemResult

    demo_checklists(company)
    rule = _rule(company, name="Critical", trigger=AlertTrigger.CRITICAL_MISSED, phrases="")
    call = _analysed(company, "en-02-complaint", django_capture_on_commit_callbacks)
    missed = ItemResult.objects.filter(call=call, answer="not_met", version_item__is_critical=True)
    assert missed.exists()  # the complaint call misses a critical item; without one this test would prove nothing
    assert missed.first().version_item.criterion[:40] in AlertDelivery.objects.get(rule=rule, call=call).reason


def test_daily_digest_sends_one_message_for_several_calls(telegram, company, django_capture_on_commit_callbacks):
    rule = _rule(company, name="Digest", daily_digest=True)
    calls = [transcribed_call_from_fixture(company, "en-01-sale") for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        for call in calls:
            call_alerts_evaluate(call_id=call.pk)
    assert telegram.messages() == []  # nothing per call
    assert set(AlertDelivery.objects.values_list("status", flat=True)) == {AlertStatus.DIGEST}

    zone = ZoneInfo(company.time_zone)
    morning = dt.datetime.combine(dt.date.today(), dt.time(9), zone)
    evening = dt.datetime.combine(dt.date.today(), dt.time(19), zone)
    assert alert_digests_due(now=morning) == []  # before the digest hour
    assert alert_digests_due(now=evening) == [rule.pk]
    telegram.fail_next(1, "http502")
    with pytest.raises(Exception, match="502"):
        alert_digest_send(rule_id=rule.pk, now=evening)  # the task retries it; the calls wait again
    assert alert_digest_send(rule_id=rule.pk, now=evening) == 3

    [digest] = telegram.messages()
    for call in calls:
        assert call.pbx_call_id in digest["text"]
    assert AlertDelivery.objects.filter(rule=rule, status=AlertStatus.SENT).count() == 3
    assert alert_digest_send(rule_id=rule.pk, now=evening) == 0
    assert alert_digests_due(now=evening) == []
    assert len(telegram.messages()) == 1


def test_email_alert_with_the_console_link(telegram, company, mailoutbox, django_capture_on_commit_callbacks):
    _rule(company, channel=AlertChannel.EMAIL, email_to="qa@bank.uz, lead@bank.uz", telegram_bot_token="")
    call = transcribed_call_from_fixture(company, "en-01-sale")
    with django_capture_on_commit_callbacks(execute=True):
        call_alerts_evaluate(call_id=call.pk)
    [mail] = mailoutbox
    assert mail.to == ["qa@bank.uz", "lead@bank.uz"]
    assert call.pbx_call_id in mail.subject
    assert f"/admin/calls/call/{call.pk}/change/" in mail.body
    assert telegram.requests() == []


def test_permanent_failure_is_recorded_and_not_retried(telegram, company, django_capture_on_commit_callbacks):
    telegram.chat_missing(CHAT)
    rule = _rule(company)
    call = transcribed_call_from_fixture(company, "en-01-sale")
    with django_capture_on_commit_callbacks(execute=True):
        call_alerts_evaluate(call_id=call.pk)
    delivery = AlertDelivery.objects.get(rule=rule)
    assert delivery.status == AlertStatus.FAILED and "chat not found" in delivery.last_error
    assert TOKEN not in delivery.last_error
    assert len(telegram.requests()) == 1


def test_transient_failures_give_up_after_the_last_attempt(
    telegram, company, django_capture_on_commit_callbacks, eager_retries
):
    telegram.fail_next(20, "http500")
    rule = _rule(company)
    call = transcribed_call_from_fixture(company, "en-01-sale")
    with django_capture_on_commit_callbacks(execute=True):
        call_alerts_evaluate(call_id=call.pk)
    delivery = AlertDelivery.objects.get(rule=rule)
    assert delivery.status == AlertStatus.FAILED and "Gave up" in delivery.last_error
    assert delivery.attempts == 6 and len(telegram.requests()) == 6
    assert telegram.messages() == []


def test_a_delivery_left_sending_by_a_dead_worker_is_failed_not_resent(telegram, company):
    rule = _rule(company)
    delivery = AlertDelivery.objects.create(
        company=company, rule=rule, call=CallFactory(company=company), status=AlertStatus.SENDING, reason="x"
    )
    assert alert_deliveries_close_stale() == 0  # a send in progress is left alone
    later = delivery.updated_at + dt.timedelta(minutes=31)
    assert alert_deliveries_close_stale(now=later) == 1
    delivery.refresh_from_db()
    assert delivery.status == AlertStatus.FAILED and "may not have arrived" in delivery.last_error
    assert telegram.requests() == []


def test_bot_token_and_chat_id_are_encrypted_at_rest(company):
    rule = _rule(company)
    with connection.cursor() as cursor:
        cursor.execute("SELECT telegram_bot_token, telegram_chat_id FROM calls_alertrule WHERE id = %s", [rule.pk])
        token, chat = cursor.fetchone()
    assert token.startswith("fernet:") and TOKEN not in token
    assert chat.startswith("fernet:") and CHAT not in chat
    assert AlertRule.objects.get(pk=rule.pk).telegram_bot_token == TOKEN


# ---------------------------------------------------------------------------------------------------- console
def test_console_delivery_list_shows_status_and_error(client, make_member, company, django_assert_num_queries):
    rule = _rule(company)
    for i, status in enumerate([AlertStatus.SENT, AlertStatus.FAILED, AlertStatus.RETRYING]):
        AlertDelivery.objects.create(
            company=company,
            rule=rule,
            call=CallFactory(company=company),
            status=status,
            reason="phrase",
            last_error="BadResponse: Telegram refused the message (400: chat not found)" if i == 1 else "",
        )
    client.force_login(make_member(company, role=Role.SUPERVISOR).user)
    url = reverse("admin:calls_alertdelivery_changelist")
    client.get(url)  # warm the session and permission caches
    # session, user, membership, user and group permissions, the rule filter, the page count, one page of rows
    with django_assert_num_queries(8):
        response = client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert "chat not found" in page and "Failed (gave up)" in page and "Retrying" in page


def test_console_rule_form_keeps_the_token_when_left_empty(client, make_member, company):
    rule = _rule(company)
    client.force_login(make_member(company, role=Role.SUPERVISOR).user)
    url = reverse("admin:calls_alertrule_change", args=[rule.pk])
    page = client.get(url).content.decode()
    assert TOKEN not in page  # write-only
    response = client.post(
        url,
        {
            "name": "Renamed",
            "trigger": AlertTrigger.PHRASE,
            "phrases": "wireless headphones",
            "channel": AlertChannel.TELEGRAM,
            "telegram_bot_token": "",
            "telegram_chat_id": CHAT,
            "email_to": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Renamed" and rule.telegram_bot_token == TOKEN


def test_console_rule_form_asks_for_what_the_channel_needs(client, make_member, company):
    client.force_login(make_member(company, role=Role.SUPERVISOR).user)
    response = client.post(
        reverse("admin:calls_alertrule_add"),
        {"name": "No token", "trigger": AlertTrigger.PHRASE, "phrases": "", "channel": AlertChannel.TELEGRAM},
    )
    page = response.content.decode()
    assert response.status_code == 200 and not AlertRule.objects.exists()
    assert "needs the bot" in page and "at least one phrase" in page


def test_other_companies_deliveries_are_hidden(client, make_member, company, other_company):
    theirs = AlertDelivery.objects.create(
        company=other_company, rule=_rule(other_company), call=CallFactory(company=other_company), reason="x"
    )
    client.force_login(make_member(company, role=Role.SUPERVISOR).user)
    assert client.get(reverse("admin:calls_alertdelivery_change", args=[theirs.pk])).status_code in (302, 404)
    assert theirs.call.pbx_call_id not in client.get(reverse("admin:calls_alertdelivery_changelist")).content.decode()


# ---------------------------------------------------------------------------------------------------- real worker
def _wait_for(condition, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_on_a_worker_retries_honour_retry_after_and_send_once(live_worker, telegram, company):
    # Through RabbitMQ: on commit -> evaluate task -> send task; two 429s with retry_after=1, then it goes through.
    _rule(company)
    telegram.fail_next(2, "http429", retry_after=1)
    call = transcribed_call_from_fixture(company, "en-01-sale")
    with transaction.atomic():
        call_alerts_queue(company_id=company.pk, call_id=call.pk)
    sent = AlertDelivery.objects.filter(call=call, status=AlertStatus.SENT)
    _wait_for(sent.exists, seconds=20, what="the alert sent after two 429s")
    assert sent.get().attempts == 3 and len(telegram.messages()) == 1
    with transaction.atomic():
        call_alerts_queue(company_id=company.pk, call_id=call.pk)  # e.g. a re-analysis
    time.sleep(2)  # give the worker time to (not) send a second one
    assert len(telegram.messages()) == 1 and len(telegram.requests()) == 3
