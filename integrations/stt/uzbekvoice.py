"""UzbekVoice.ai (MohirAI) speech-to-text with diarization (wire format: shared/specs/uzbekvoice-stt.md).

Submit the file with ``blocking=false`` (calls are longer than the ~1 minute blocking limit), then poll the task
until it succeeds, fails or ``max_wait`` runs out. Words keep the service's own speaker label ("0", "1", ...): which
one is the operator is decided later by the pipeline.
"""

import hashlib
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from integrations.errors import (
    AuthFailed,
    BadResponse,
    PermanentIntegrationError,
    RateLimited,
    TransientIntegrationError,
)
from integrations.http import make_session
from integrations.limits import limit_window
from integrations.stt.base import Recognition, Word
from integrations.stt.errors import NoSpeech
from integrations.wire import is_number, setting, snippet, type_name

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://uzbekvoice.ai/api/v1"  # spec §1
DEFAULT_MAX_WAIT_SECONDS = 30 * 60.0  # spec §3: the earlier backend waited forever; 30 minutes, then fail the job
DEFAULT_SUBMITS_PER_MINUTE = 5  # spec §6: the earlier backend's own limit per worker
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 120.0)  # (connect, read): the submit uploads the whole recording
# Spec §3: the earlier backend's poll cadence by audio length (upper bound in seconds, poll every N seconds).
POLL_CADENCE: tuple[tuple[float, float], ...] = ((4 * 60, 5.0), (10 * 60, 10.0), (15 * 60, 20.0), (20 * 60, 30.0))
POLL_CADENCE_LONGEST = 45.0
SERVICE_LANGUAGES = ("uz", "ru")
# Spec §3: SUCCESS is what production saw; the other spellings come from a conflicting client [obs-1], accepted too.
_DONE = frozenset({"SUCCESS", "COMPLETED", "DONE"})
_FAILED = frozenset({"FAILURE", "FAILED", "ERROR", "REVOKED", "CANCELLED", "CANCELED"})
_CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "webm": "audio/webm",
    "flac": "audio/flac",
}
_SNIPPET_CHARS = 200
_MS_UNITS_SLACK = 1.5  # offsets this far beyond the file's length can only be milliseconds (spec §3: units unconfirmed)
_UZBEK_CYRILLIC = frozenset("ўқғҳЎҚҒҲ")
_CELERY_MARGIN_SECONDS = 180.0  # upload and parsing time left inside the task's soft time limit


class UzbekVoiceStt:
    name = "uzbekvoice"
    provides_speakers = True

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        poll_interval: float | None = None,
        max_wait: float | None = None,
        submits_per_minute: int | None = None,
        model: str | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        """Arguments left out come from Django settings (``UZBEKVOICE_API_KEY``, ``UZBEKVOICE_BASE_URL``,
        ``DIALIX_UZBEKVOICE_POLL_SECONDS``, ``DIALIX_UZBEKVOICE_MAX_WAIT_SECONDS``,
        ``DIALIX_UZBEKVOICE_SUBMITS_PER_MINUTE``, ``DIALIX_UZBEKVOICE_MODEL``).
        ``poll_interval`` None: by audio length, as spec §3 observed. ``max_wait`` None: 30 minutes, but 3 minutes
        short of ``CELERY_TASK_SOFT_TIME_LIMIT`` when that is lower. ``submits_per_minute`` 0: no client-side limit."""
        self.base_url = (base_url or setting("UZBEKVOICE_BASE_URL", "") or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("UzbekVoice base URL must start with http:// or https://")
        self._api_key = api_key if api_key is not None else setting("UZBEKVOICE_API_KEY", "")
        interval = poll_interval if poll_interval is not None else setting("DIALIX_UZBEKVOICE_POLL_SECONDS", None)
        self.poll_interval = float(interval) if interval else None
        wait = max_wait if max_wait is not None else setting("DIALIX_UZBEKVOICE_MAX_WAIT_SECONDS", None)
        self.max_wait = float(wait) if wait else _default_max_wait()
        if submits_per_minute is None:
            submits_per_minute = setting("DIALIX_UZBEKVOICE_SUBMITS_PER_MINUTE", DEFAULT_SUBMITS_PER_MINUTE)
        self.submits_per_minute = int(submits_per_minute or 0)
        self.model = model if model is not None else setting("DIALIX_UZBEKVOICE_MODEL", None)
        self._timeout = timeout
        self._session = session if session is not None else make_session(timeout=timeout)
        # The account's submissions are counted together on every machine (integrations.limits: Redis when set).
        account = hashlib.sha256(f"{self.base_url}|{self._api_key}".encode()).hexdigest()[:16]
        self._limit_key = f"uzbekvoice:submit:{account}"

    def __repr__(self) -> str:
        return f"UzbekVoiceStt(base_url={self.base_url!r})"  # never the key

    def recognise(self, audio: Path, *, language: str | None, languages: Sequence[str]) -> Recognition:
        """Submit, poll, parse. Raises PermanentIntegrationError for English (the service has no English model)."""
        if not self._api_key:
            raise AuthFailed("UzbekVoice API key is not configured (UZBEKVOICE_API_KEY)")
        audio = Path(audio)
        service_language = _service_language(language, languages)
        audio_seconds = _audio_seconds(audio)
        interval = self.poll_interval or poll_interval_for(audio_seconds)
        if self.submits_per_minute > 0:
            try:
                limit_window(self._limit_key, limit=self.submits_per_minute, per_seconds=60.0)
            except RateLimited as exc:
                raise RateLimited(
                    f"UzbekVoice client-side limit of {self.submits_per_minute} submissions a minute reached",
                    retry_after=exc.retry_after,
                ) from exc
        started = time.monotonic()
        body = self._submit(audio, service_language)
        task_id = body.get("id")
        if _status(body) in _DONE and "result" in body:
            result = body["result"]  # answered at once despite blocking=false: nothing to poll
            polls = 0
        else:
            if not isinstance(task_id, str | int) or isinstance(task_id, bool) or str(task_id) == "":
                raise BadResponse("UzbekVoice accepted the upload without a task id")
            logger.info(
                "stt_uzbekvoice_submitted",
                extra={"task_id": str(task_id), "language": service_language, "audio_seconds": audio_seconds},
            )
            result, polls = self._wait_for(str(task_id), interval, started)
        recognition = parse_result(result, audio_seconds=audio_seconds, language=language or service_language)
        logger.info(
            "stt_uzbekvoice_transcribed",
            extra={
                "task_id": None if task_id is None else str(task_id),
                "polls": polls,
                "seconds": round(time.monotonic() - started, 3),
                "words": len(recognition.words),
                "speakers": len({word.speaker for word in recognition.words}),
                "language": recognition.language,
            },
        )
        return recognition

    # --- wire --------------------------------------------------------------------------------------------------------

    def _submit(self, audio: Path, service_language: str) -> dict[str, Any]:
        form = {
            "language": service_language,
            "return_offsets": "true",
            "run_diarization": "true",
            "blocking": "false",
        }
        if self.model:
            form["model"] = self.model
        content_type = _CONTENT_TYPES.get(audio.suffix.lower().lstrip("."), "application/octet-stream")
        try:
            file = audio.open("rb")
        except OSError as exc:
            raise PermanentIntegrationError(f"Cannot read the audio file {audio.name}: {exc.strerror}") from exc
        with file:
            try:
                response = self._session.post(
                    f"{self.base_url}/stt",
                    headers=self._headers(),
                    data=form,
                    files={"file": (audio.name, file, content_type)},
                    timeout=self._timeout,
                )
            except requests.RequestException as exc:
                raise self._transport_error(exc, "the upload") from exc
        return self._json(response, "the upload")

    def _wait_for(self, task_id: str, interval: float, started: float) -> tuple[Any, int]:
        deadline = started + self.max_wait
        polls = 0
        while True:
            try:
                response = self._session.get(
                    f"{self.base_url}/tasks", params={"id": task_id}, headers=self._headers(), timeout=self._timeout
                )
            except requests.RequestException as exc:
                raise self._transport_error(exc, f"task {task_id}") from exc
            polls += 1
            if response.status_code == 404:
                raise PermanentIntegrationError(f"UzbekVoice does not know task {task_id} (HTTP 404)")
            body = self._json(response, f"task {task_id}")
            status = _status(body)
            if status in _DONE:
                if "result" in body:
                    return body["result"], polls
                return body, polls  # [obs-1] client: COMPLETED with the text at the top level
            if status in _FAILED:
                reason = _failure_reason(body)
                logger.warning("stt_uzbekvoice_task_failed", extra={"task_id": task_id, "reason": reason})
                raise PermanentIntegrationError(f"UzbekVoice could not transcribe the recording: {reason}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransientIntegrationError(
                    f"UzbekVoice did not finish task {task_id} within {self.max_wait:g} s ({polls} polls)"
                )
            time.sleep(min(interval, remaining))

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self._api_key}  # spec §1: the raw key, no "Bearer "

    def _json(self, response: requests.Response, what: str) -> dict[str, Any]:
        status = response.status_code
        if status in (401, 403):
            raise AuthFailed(f"UzbekVoice rejected the API key (HTTP {status}); set a valid UZBEKVOICE_API_KEY")
        if status == 402:
            raise PermanentIntegrationError("UzbekVoice account balance is too low (HTTP 402); top it up")
        if status == 429:
            raise RateLimited(f"UzbekVoice rate limit reached on {what}", retry_after=_retry_after(response))
        if status == 408 or status >= 500:
            raise TransientIntegrationError(f"UzbekVoice answered HTTP {status} to {what}")
        if not 200 <= status < 300:
            # Fixed messages: a vendor's body is never shown to people (issue 9).
            raise PermanentIntegrationError(f"UzbekVoice refused {what} (HTTP {status})")
        try:
            body = json.loads(response.content)
        except ValueError:
            raise BadResponse(f"UzbekVoice answered {what} with HTTP {status} and something that is not JSON") from None
        if not isinstance(body, dict):
            raise BadResponse(f"UzbekVoice answered {what} with {type_name(body)} instead of an object")
        return body

    def _transport_error(self, exc: requests.RequestException, what: str) -> TransientIntegrationError | BadResponse:
        if isinstance(exc, requests.Timeout):
            return TransientIntegrationError(f"UzbekVoice did not answer {what} in time")
        if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
            return TransientIntegrationError(f"Cannot connect to UzbekVoice at {self.base_url} ({what})")
        return BadResponse(f"The request to UzbekVoice for {what} failed: {type(exc).__name__}")

    def _snippet(self, value: bytes | str) -> str:
        text = snippet(value, _SNIPPET_CHARS)
        return text.replace(self._api_key, "***") if self._api_key else text


# --- parsing ----------------------------------------------------------------------------------------------------------


def parse_result(result: Any, *, audio_seconds: float | None, language: str) -> Recognition:
    """A finished task's ``result`` -> Recognition; ``language`` is what was sent ("uz", "ru" or "uz-ru")."""
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            raise BadResponse("UzbekVoice task result is text, not the expected object") from None
    if not isinstance(result, dict):
        raise BadResponse(f"UzbekVoice task result is {type_name(result)}, not an object")
    text = result.get("text")
    offsets = result.get("offsets")
    if not isinstance(offsets, list):
        if isinstance(text, str) and not text.strip():
            raise NoSpeech("UzbekVoice heard no speech in the recording")
        raise BadResponse("UzbekVoice task result has no word offsets (return_offsets was asked for)")
    items: list[tuple[float, float, str, str | None, float | None]] = []
    for index, item in enumerate(offsets):
        if not isinstance(item, dict):
            raise BadResponse(f"UzbekVoice word offset #{index} is {type_name(item)}, not an object")
        token, start, end = item.get("word"), item.get("start"), item.get("end")
        if not isinstance(token, str) or not is_number(start) or not is_number(end):
            raise BadResponse(f"UzbekVoice word offset #{index} lacks word/start/end")
        token = token.strip()
        if not token:
            continue
        speaker = item.get("speaker")
        label = None if speaker is None or isinstance(speaker, bool) else str(speaker).strip() or None
        confidence = item.get("confidence")
        items.append((start, end, token, label, confidence if is_number(confidence) and 0 <= confidence <= 1 else None))
    if not items:
        raise NoSpeech("UzbekVoice heard no speech in the recording")
    scale = 1.0 if _offsets_in_ms(max(end for _, end, *_ in items), audio_seconds) else 1000.0
    words = []
    for start, end, token, label, confidence in items:
        start_ms = max(round(start * scale), 0)
        words.append(
            Word(
                start_ms=start_ms,
                end_ms=max(round(end * scale), start_ms),
                text=token,
                confidence=confidence,
                speaker=label,
            )
        )
    words.sort(key=lambda word: word.start_ms)
    duration_ms = round(audio_seconds * 1000) if audio_seconds else max(word.end_ms for word in words)
    return Recognition(
        words=tuple(words),
        language=_recognised_language(language, words),
        language_probability=None,
        duration_ms=duration_ms,
    )


def _default_max_wait() -> float:
    # Give up cleanly (a transient error the task retries) before Celery's soft time limit kills the task mid-poll.
    soft_limit = setting("CELERY_TASK_SOFT_TIME_LIMIT", None)
    if soft_limit:
        return max(min(DEFAULT_MAX_WAIT_SECONDS, float(soft_limit) - _CELERY_MARGIN_SECONDS), 60.0)
    return DEFAULT_MAX_WAIT_SECONDS


def poll_interval_for(audio_seconds: float | None) -> float:
    if audio_seconds is None:
        return POLL_CADENCE[1][1]
    for upper, interval in POLL_CADENCE:
        if audio_seconds <= upper:
            return interval
    return POLL_CADENCE_LONGEST


def _service_language(language: str | None, languages: Sequence[str]) -> str:
    if language is not None:
        code = language.strip().lower()
        if code in SERVICE_LANGUAGES:
            return code
        if code in ("uz-ru", "ru-uz"):
            return "uz-ru"
        raise PermanentIntegrationError(
            f"UzbekVoice recognises only Uzbek and Russian, not {language!r}; choose another engine for this call"
        )
    allowed = {code.strip().lower() for code in languages}
    usable = [code for code in SERVICE_LANGUAGES if code in allowed]
    if not allowed or len(usable) == len(SERVICE_LANGUAGES):
        return "uz-ru"  # the service's mixed model handles code-switching calls
    if not usable:
        raise PermanentIntegrationError(
            f"UzbekVoice recognises only Uzbek and Russian, but this call allows only {sorted(allowed)}"
        )
    return usable[0]


def _recognised_language(sent: str, words: Sequence[Word]) -> str:
    if sent in SERVICE_LANGUAGES:
        return sent
    # Mixed model: the service does not say which language it heard. It writes Uzbek in Latin script, Russian in
    # Cyrillic; Uzbek Cyrillic has letters Russian lacks.
    letters = "".join(word.text for word in words)
    if any(char in _UZBEK_CYRILLIC for char in letters):
        return "uz"
    cyrillic = sum(1 for char in letters if "\u0400" <= char <= "\u04ff")
    latin = sum(1 for char in letters if char.isascii() and char.isalpha())
    return "ru" if cyrillic > latin else "uz"


def _offsets_in_ms(max_end: float, audio_seconds: float | None) -> bool:
    if audio_seconds:
        return max_end > audio_seconds * _MS_UNITS_SLACK + 5
    return max_end > 6 * 3600  # no call lasts six hours; a bigger "second" count is milliseconds


def _status(body: dict[str, Any]) -> str:
    value = body.get("status", body.get("state"))  # spec §2: either key [obs-1]
    return value.strip().upper() if isinstance(value, str) else ""


def _failure_reason(body: dict[str, Any]) -> str:
    for key in ("error", "message", "detail", "reason"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return snippet(value, _SNIPPET_CHARS)
    result = body.get("result")
    if isinstance(result, str) and result.strip():
        return snippet(result, _SNIPPET_CHARS)
    if isinstance(result, dict):
        for key in ("error", "message", "detail"):
            value = result.get(key)
            if isinstance(value, str) and value.strip():
                return snippet(value, _SNIPPET_CHARS)
    return f"the task ended with status {_status(body) or 'unknown'}"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _audio_seconds(audio: Path) -> float | None:
    """The file's own length (spec §6: bill and validate by the file, not the API); None when PyAV cannot tell."""
    import av

    try:
        with av.open(str(audio), mode="r") as container:
            if container.duration is not None:
                return container.duration / av.time_base
            stream = container.streams.audio[0] if container.streams.audio else None
            if stream is not None and stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
    except (av.FFmpegError, OSError):
        return None  # the service will answer for itself; the pipeline checks decodability earlier
    return None
