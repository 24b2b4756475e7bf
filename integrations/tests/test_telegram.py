"""The Telegram Bot API client against the fake Telegram server over real HTTP: answers and errors map to typed
errors (429 keeps retry_after), and no error message carries the bot token."""

import socket

import pytest

from integrations.alerts.telegram import TelegramBot
from integrations.errors import AuthFailed, BadResponse, RateLimited, TransientIntegrationError
from integrations.testing.telegram import FakeTelegram

TOKEN = "123456:SECRET-bot-token"


@pytest.fixture
def fake():
    with FakeTelegram(token=TOKEN) as server:
        yield server


def _bot(fake, token: str = TOKEN) -> TelegramBot:
    return TelegramBot(token, base_url=fake.base_url)


def test_send_message_is_logged_by_the_fake_with_its_id(fake):
    sent = _bot(fake).send_message(chat_id="-1001", text="Call 42 auto-failed")
    assert sent.message_id == "1" and sent.chat_id == "-1001"
    assert fake.messages() == [{"chat_id": "-1001", "text": "Call 42 auto-failed", "message_id": 1, "token": TOKEN}]
    assert fake.requests()[0]["body"]["link_preview_options"] == {"is_disabled": True}


def test_too_many_requests_keeps_retry_after(fake):
    fake.fail_next(1, "http429", retry_after=3)
    with pytest.raises(RateLimited) as caught:
        _bot(fake).send_message(chat_id="1", text="x")
    assert caught.value.retry_after == 3.0
    assert "retry after 3" in str(caught.value)
    assert _bot(fake).send_message(chat_id="1", text="x").message_id  # the next one goes through


@pytest.mark.parametrize("mode", ["http500", "http502", "garbage"])
def test_server_errors_are_transient(fake, mode):
    fake.fail_next(1, mode)
    with pytest.raises(TransientIntegrationError) as caught:
        _bot(fake).send_message(chat_id="1", text="x")
    assert not isinstance(caught.value, RateLimited)
    assert TOKEN not in str(caught.value)


def test_wrong_token_is_auth_failed_without_the_token_in_the_message(fake):
    with pytest.raises(AuthFailed) as caught:
        _bot(fake, token="999:WRONG-token").send_message(chat_id="1", text="x")
    assert "WRONG-token" not in str(caught.value) and "401" in str(caught.value)


@pytest.mark.parametrize("setup, words", [("missing", "chat not found"), ("blocked", "blocked by the user")])
def test_refusals_are_permanent(fake, setup, words):
    if setup == "missing":
        fake.chat_missing("-5")
    else:
        fake.fail_next(1, "blocked")
    with pytest.raises(BadResponse, match=words):
        _bot(fake).send_message(chat_id="-5", text="x")


def test_an_unreachable_server_is_transient():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    with pytest.raises(TransientIntegrationError, match="could not be reached"):
        TelegramBot(TOKEN, base_url=f"http://127.0.0.1:{port}").send_message(chat_id="1", text="x")


def test_long_text_is_cut_to_telegrams_limit(fake):
    _bot(fake).send_message(chat_id="1", text="a" * 5000)
    assert len(fake.messages()[0]["text"]) == 4096


def test_no_token_or_chat_is_a_clear_error(fake):
    with pytest.raises(AuthFailed, match="no bot token"):
        TelegramBot("", base_url=fake.base_url)
    with pytest.raises(BadResponse, match="no chat id"):
        _bot(fake).send_message(chat_id="", text="x")
