"""A fake UzbekVoice.ai STT: a real local HTTP server speaking the wire format of shared/specs/uzbekvoice-stt.md.

``POST /api/v1/stt`` creates a task; ``GET /api/v1/tasks?id=`` answers PENDING for ``pending_polls`` polls, then SUCCESS
with a diarized result built from ``offsets`` (speaker, start, end, word), or FAILURE. The raw ``Authorization`` key
is checked (no ``Bearer``). Where the spec marks behaviour [unconfirmed], the fake picks the most plausible shape and
says so in a comment.
"""

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from integrations.stt.fake_openai import FakeHttpServer, FakeRequest, FakeResponse

SUBMIT_PATH = "/api/v1/stt"
TASKS_PATH = "/api/v1/tasks"
LANGUAGES = frozenset({"uz", "ru", "uz-ru", "ru-uz"})
DEFAULT_API_KEY = "1b4e28ba-2fa1-11d2-883f-0016d3cca427:6fa459ea-ee8a-3ca4-894e-db77e160355e"  # spec §1 shape

Offset = tuple[Any, float, float, str]  # (speaker label as the service sends it, start, end, word)

DEFAULT_OFFSETS: list[Offset] = [  # spec §3 example, extended
    (0, 0.42, 0.96, "Assalomu"),
    (0, 0.96, 1.38, "alaykum"),
    (0, 1.6, 2.05, "Dialix"),
    (0, 2.05, 2.5, "o'quv"),
    (0, 2.5, 3.1, "markazi"),
    (1, 3.9, 4.3, "salom"),
    (1, 4.5, 4.82, "kurs"),
    (1, 4.82, 5.3, "narxini"),
    (1, 5.3, 5.9, "bilmoqchi"),
    (1, 5.9, 6.3, "edim"),
]


@dataclass
class FakeTask:
    id: str
    language: str
    offsets: list[Offset]
    pending_polls: int
    outcome: str  # "success" | "failed"
    failure_message: str
    with_offsets: bool  # the submitted return_offsets / run_diarization flags
    diarized: bool
    polls: int = 0


class FakeUzbekVoice(FakeHttpServer):
    """``base_url`` is what ``UzbekVoiceStt`` takes (it ends in ``/api/v1``)."""

    FAILURE_MODES = frozenset(
        {"timeout", "http429", "http500", "http503", "http402", "http404", "bad_key", "garbage", "schema"}
    )
    server_name = "fake-uzbekvoice"

    def __init__(self, *, api_key: str = DEFAULT_API_KEY, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.api_key = api_key
        self.retry_after: str | None = "7"
        # Settings for tasks submitted from now on.
        self.offsets: list[Offset] = list(DEFAULT_OFFSETS)
        self.pending_polls = 2
        self.outcome = "success"
        self.failure_message = "Audio file could not be processed"
        self.offsets_in_ms = False  # spec §3: units [unconfirmed]; the client must cope with either
        self.tasks: dict[str, FakeTask] = {}
        self.routes[("POST", SUBMIT_PATH)] = self.submit
        self.routes[("GET", TASKS_PATH)] = self.poll

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/v1"

    def set_offsets(self, offsets: Sequence[Offset]) -> None:
        self.offsets = list(offsets)

    def submissions(self) -> list[FakeRequest]:
        return self.requests_to(SUBMIT_PATH, "POST")

    def polls(self) -> list[FakeRequest]:
        return self.requests_to(TASKS_PATH, "GET")

    # --- hooks -------------------------------------------------------------------------------------------------------

    def authorise(self, request: FakeRequest) -> FakeResponse | None:
        # A "Bearer " prefix is rejected: whether the service accepts it is [unconfirmed], so the client must not rely
        # on it. The error body format is [unconfirmed] too.
        sent = request.headers.get("authorization", "")
        if sent and secrets.compare_digest(sent, self.api_key):
            return None
        return FakeResponse.json({"detail": "Invalid API key"}, 401)

    def failure_response(self, mode: str, request: FakeRequest) -> FakeResponse:
        if mode == "http429":
            response = FakeResponse.json({"detail": "Too many requests"}, 429)
            if self.retry_after is not None:
                response.headers["Retry-After"] = self.retry_after
            return response
        if mode == "http500":
            return FakeResponse.text("<html><body><h1>500 Internal Server Error</h1></body></html>", 500, "text/html")
        if mode == "http503":
            return FakeResponse.text("Service Temporarily Unavailable", 503)
        if mode == "http402":
            return FakeResponse.json({"detail": "Insufficient balance"}, 402)  # [obs-1]
        if mode == "http404":
            return FakeResponse.json({"detail": "Task not found"}, 404)
        if mode == "bad_key":
            return FakeResponse.json({"detail": "Invalid API key"}, 401)
        if mode == "garbage":
            return FakeResponse.text("<html><head><title>Maintenance</title></head><body>oops</body></html>", 200)
        if mode == "schema":
            if request.path == SUBMIT_PATH:
                return FakeResponse.json({"status": "PENDING"})  # no task id
            task_id = request.query.get("id", [""])[0]
            return FakeResponse.json({"id": task_id, "status": "SUCCESS", "result": {"text": "salom dunyo"}})
        raise ValueError(mode)

    # --- POST /api/v1/stt --------------------------------------------------------------------------------------------

    def submit(self, request: FakeRequest) -> FakeResponse:
        upload = request.files.get("file")
        if upload is None or not upload.data:
            return FakeResponse.json({"detail": "file is required"}, 400)  # [unconfirmed] error shape
        language = request.value("language") or "uz"
        if language not in LANGUAGES:
            return FakeResponse.json({"detail": f"Unsupported language: {language}"}, 400)
        with self._lock:
            task = FakeTask(
                id=str(uuid.uuid4()),
                language=language,
                offsets=list(self.offsets),
                pending_polls=self.pending_polls,
                outcome=self.outcome,
                failure_message=self.failure_message,
                with_offsets=request.value("return_offsets") == "true",
                diarized=request.value("run_diarization") == "true",
            )
            self.tasks[task.id] = task
        if request.value("blocking") == "true":
            return FakeResponse.json({"id": task.id, "status": "SUCCESS", "result": self._result(task)})
        return FakeResponse.json({"id": task.id, "status": "PENDING"})

    # --- GET /api/v1/tasks?id= ---------------------------------------------------------------------------------------

    def poll(self, request: FakeRequest) -> FakeResponse:
        task_id = request.query.get("id", [""])[0]
        with self._lock:
            task = self.tasks.get(task_id)
            if task is not None:
                task.polls += 1
        if task is None:
            return FakeResponse.json({"detail": "Task not found"}, 404)  # spec §3: 404 = unknown task
        if task.polls <= task.pending_polls:
            # In-progress values are [unconfirmed]; answer two spellings so "any other status" is exercised.
            return FakeResponse.json({"id": task.id, "status": "PENDING" if task.polls == 1 else "PROCESSING"})
        if task.outcome == "failed":
            # The failure status and where its message lives are [unconfirmed] (spec §3): FAILURE + "error".
            return FakeResponse.json(
                {"id": task.id, "status": "FAILURE", "result": None, "error": task.failure_message}
            )
        return FakeResponse.json({"id": task.id, "status": "SUCCESS", "result": self._result(task)})

    def _result(self, task: FakeTask) -> dict[str, Any]:
        scale = 1000 if self.offsets_in_ms else 1
        with_offsets, diarized = task.with_offsets, task.diarized
        text = " ".join(word for _, _, _, word in task.offsets)
        result: dict[str, Any] = {"text": text}
        lines: list[str] = []
        for speaker, _, _, word in task.offsets:
            prefix = f"Speaker {speaker}: "
            if lines and lines[-1].startswith(prefix):
                lines[-1] += f" {word}"
            else:
                lines.append(prefix + word)
        result["conversation_text"] = "\n".join(lines) if diarized else text
        if with_offsets:
            result["offsets"] = [
                {
                    "word": word,
                    "start": round(start * scale, 3),
                    "end": round(end * scale, 3),
                    # Without diarization the speaker carries nothing useful [unconfirmed]: always 0 here.
                    "speaker": speaker if diarized else 0,
                }
                for speaker, start, end, word in task.offsets
            ]
        return result
