"""A fake Telegram Bot API: a real local HTTP server answering ``POST /bot<token>/sendMessage`` in Telegram's wire
format, with a message log and fault injection. Used by tests and the demo::

    python -m integrations.testing.telegram --port 8767 --token 123:ABC

    with FakeTelegram(token="123:ABC") as fake:
        settings.TELEGRAM_API_BASE_URL = fake.base_url
        fake.fail_next(2, "http429", retry_after=3)   # then it succeeds
        ...
        assert [m["text"] for m in fake.messages()] == [...]

Answers (as the real API): ``{"ok": true, "result": {"message_id": 7, "chat": {"id": ...}, "date": ..., "text": ...}}``;
errors ``{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 3", "parameters":
{"retry_after": 3}}``, 401 ``Unauthorized`` for an unknown token, 400 ``Bad Request: chat not found`` for a chat the
fake was told does not exist, 403 ``Forbidden: bot was blocked by the user``.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

FAULTS = frozenset({"http429", "http500", "http502", "garbage", "timeout", "unauthorized", "blocked"})
_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)$")


@dataclass
class _State:
    tokens: set[str]
    missing_chats: set[str] = field(default_factory=set)
    faults: list[tuple[str, float]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 1
    timeout_seconds: float = 3.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeTelegram:
    def __init__(
        self,
        *,
        token: str = "123456:TEST-TOKEN",  # noqa: S107 (the fake's own test token)
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.state = _State(tokens={token})
        self.token = token
        self._server = ThreadingHTTPServer((host, port), _handler(self.state))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-telegram", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None):
        self.stop()

    # -------------------------------------------------------------------------------------------- control
    def add_token(self, token: str) -> None:
        with self.state.lock:
            self.state.tokens.add(token)

    def chat_missing(self, chat_id: str) -> None:
        with self.state.lock:
            self.state.missing_chats.add(str(chat_id))

    def fail_next(self, n: int, mode: str, *, retry_after: float = 3) -> None:
        """The next n sendMessage calls fail with `mode` (one of FAULTS); then it answers normally again."""
        if mode not in FAULTS:
            raise ValueError(f"unknown fault {mode!r}; choose one of {sorted(FAULTS)}")
        with self.state.lock:
            self.state.faults.extend([(mode, retry_after)] * n)

    def messages(self) -> list[dict[str, Any]]:
        """Messages accepted (answered ok), in order: chat_id, text, message_id, token."""
        with self.state.lock:
            return list(self.state.messages)

    def requests(self) -> list[dict[str, Any]]:
        """Every request received, failed ones too: path method, token, JSON body, the status answered."""
        with self.state.lock:
            return list(self.state.requests)


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeTelegram/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
            return

        def _reply(self, status: int, body: dict[str, Any] | bytes, record: dict[str, Any]) -> None:
            record["status"] = status
            with state.lock:
                state.requests.append(record)
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "text/html")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            self._dispatch(None)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            self._dispatch(raw)

        def _dispatch(self, raw: bytes | None) -> None:
            match = _PATH.match(self.path.split("?", 1)[0])
            record: dict[str, Any] = {"path": self.path, "token": match["token"] if match else None, "body": None}
            if not match:
                return self._reply(404, _error(404, "Not Found"), record)
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                return self._reply(400, _error(400, "Bad Request: can't parse JSON"), record)
            record["body"] = body
            if match["token"] not in state.tokens:
                return self._reply(401, _error(401, "Unauthorized"), record)
            if match["method"] != "sendMessage":
                return self._reply(404, _error(404, "Not Found: method not found"), record)
            with state.lock:
                fault = state.faults.pop(0) if state.faults else None
            if fault is not None:
                mode, retry_after = fault
                if mode == "timeout":
                    time.sleep(state.timeout_seconds)
                    return self._reply(504, _error(504, "Gateway Timeout"), record)
                if mode == "http429":
                    seconds = int(retry_after)
                    return self._reply(
                        429,
                        _error(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}),
                        record,
                    )
                if mode in ("http500", "http502"):
                    code = int(mode[4:])
                    return self._reply(code, _error(code, "Internal Server Error"), record)
                if mode == "garbage":
                    return self._reply(502, b"<html>Bad Gateway</html>", record)
                if mode == "unauthorized":
                    return self._reply(401, _error(401, "Unauthorized"), record)
                if mode == "blocked":
                    return self._reply(403, _error(403, "Forbidden: bot was blocked by the user"), record)
            chat_id = body.get("chat_id")
            text = body.get("text")
            if chat_id in (None, "") or not text:
                return self._reply(400, _error(400, "Bad Request: message text is empty"), record)
            if str(chat_id) in state.missing_chats:
                return self._reply(400, _error(400, "Bad Request: chat not found"), record)
            if len(str(text)) > 4096:
                return self._reply(400, _error(400, "Bad Request: message is too long"), record)
            with state.lock:
                message_id = state.next_id
                state.next_id += 1
                state.messages.append(
                    {"chat_id": str(chat_id), "text": str(text), "message_id": message_id, "token": match["token"]}
                )
            result = {
                "message_id": message_id,
                "from": {"id": 1, "is_bot": True, "first_name": "Dialix alerts", "username": "dialix_bot"},
                "chat": {"id": _chat_id(chat_id), "type": "group", "title": "Alerts"},
                "date": int(time.time()),
                "text": str(text),
            }
            return self._reply(200, {"ok": True, "result": result}, record)

    return Handler


def _chat_id(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


def main() -> None:  # pragma: no cover - a developer's tool
    parser = argparse.ArgumentParser(description="A fake Telegram Bot API server")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    args = parser.parse_args()
    fake = FakeTelegram(token=args.token, port=args.port).start()
    print(f"fake Telegram at {fake.base_url} (token {args.token}); Ctrl-C stops")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
