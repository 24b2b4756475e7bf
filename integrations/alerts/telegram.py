"""Telegram Bot API ``sendMessage`` (https://core.telegram.org/bots/api#sendmessage) over ``requests``.

Every answer is ``{"ok": true, "result": {...}}`` or ``{"ok": false, "error_code": 429, "description": "...",
"parameters": {"retry_after": 3}}``. Failures map to typed errors: 429 -> RateLimited(retry_after), 5xx and network
errors -> TransientIntegrationError, 401/404 (bad token) -> AuthFailed, other 4xx (chat not found, blocked by the
user) -> BadResponse. Messages never carry the bot token: it is part of the URL, so URLs are never put in errors."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from integrations.errors import AuthFailed, BadResponse, RateLimited, TransientIntegrationError
from integrations.http import make_session

DEFAULT_BASE_URL = "https://api.telegram.org"
MAX_TEXT = 4096  # Telegram's limit on one message's text


@dataclass(frozen=True, slots=True)
class SentMessage:
    message_id: str
    chat_id: str


class TelegramBot:
    def __init__(self, token: str, *, base_url: str | None = None, session: requests.Session | None = None) -> None:
        if not token:
            raise AuthFailed("Telegram: no bot token is set on the rule.")
        self.token = token
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.session = session or make_session(timeout=(5.0, 15.0))

    def send_message(self, *, chat_id: str, text: str, disable_preview: bool = True) -> SentMessage:
        if not chat_id:
            raise BadResponse("Telegram: no chat id is set on the rule.")
        body = {
            "chat_id": chat_id,
            "text": text[:MAX_TEXT],
            "link_preview_options": {"is_disabled": disable_preview},
        }
        try:
            response = self.session.post(f"{self.base_url}/bot{self.token}/sendMessage", json=body)
        except requests.Timeout as exc:
            raise TransientIntegrationError("Telegram did not answer in time.") from exc
        except requests.RequestException as exc:
            raise TransientIntegrationError(f"Telegram could not be reached ({type(exc).__name__}).") from exc
        return _parse(response, chat_id)


def _parse(response: requests.Response, chat_id: str) -> SentMessage:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        if response.status_code >= 500:
            raise TransientIntegrationError(f"Telegram answered HTTP {response.status_code}.")
        raise BadResponse(f"Telegram answered HTTP {response.status_code} with a body that is not JSON.")
    if data.get("ok") is True:
        result = data.get("result") or {}
        return SentMessage(message_id=str(result.get("message_id", "")), chat_id=str(chat_id))
    code = int(data.get("error_code") or response.status_code)
    description = str(data.get("description") or "")[:200]
    if code == 429:
        retry_after = (data.get("parameters") or {}).get("retry_after")
        raise RateLimited(f"Telegram: {description or 'Too Many Requests'}", retry_after=_seconds(retry_after))
    if code >= 500:
        raise TransientIntegrationError(f"Telegram answered {code}: {description}")
    if code in (401, 404):
        raise AuthFailed(f"Telegram rejected the bot token ({code}: {description}).")
    raise BadResponse(f"Telegram refused the message ({code}: {description}).")


def _seconds(value: object) -> float | None:
    try:
        return max(0.0, float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
