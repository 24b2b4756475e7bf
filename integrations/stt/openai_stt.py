"""OpenAI speech-to-text: ``POST /v1/audio/transcriptions`` with word timestamps (shared/specs/openai.md §2).

Any OpenAI-compatible server works through ``base_url``. Azure OpenAI works through its ``/openai/v1`` base URL, or the
older deployment URLs (``.../openai/deployments/<name>``) with ``api_version`` set, which adds the ``api-version``
query and the ``api-key`` header those URLs want.

The SDK never retries (``max_retries=0``): failures become typed errors and the Celery task decides, honouring
Retry-After. Not thread-safe in any interesting way: one instance per worker process is fine.
"""

import io
import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai

from integrations.errors import (
    AuthFailed,
    BadResponse,
    IntegrationError,
    PermanentIntegrationError,
    TransientIntegrationError,
)
from integrations.openai_client import (
    DEFAULT_BASE_URL,
    make_openai_client,
    parse_reset_duration,  # noqa: F401  (moved to integrations.openai_client; still importable from here)
    status_error,
    vendor_message,
)
from integrations.stt.base import Recognition, Word
from integrations.stt.errors import AudioUndecodable, NoSpeech
from integrations.wire import is_number, setting, type_name

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "whisper-1"  # spec §2: the only model that answers verbose_json with word timestamps
DEFAULT_TIMEOUT_SECONDS = 300.0  # word timestamps add latency; a long call can take minutes
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # spec §2: 25 MiB per request (OpenAI Audio FAQ)
# Formats the API names (spec §2); "oga"/"opus" are Ogg files under another extension.
_UPLOAD_TYPES = {
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "mp4": "audio/mp4",
    "mpeg": "audio/mpeg",
    "mpga": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
    "webm": "audio/webm",
}
_OGG_ALIASES = frozenset({"oga", "opus"})
# Compressed re-encoding for uploads over the limit or in formats the API does not take: Whisper works on 16 kHz mono
# anyway, and Opus at 24 kbit/s keeps speech intact at ~180 KB a minute (25 MiB ≈ 2.4 hours).
_COMPRESS_RATE = 16_000
_COMPRESS_BIT_RATE = 24_000
# Whisper's own silence rule (spec §2 quality hints): such a segment is skipped, its words are hallucinations.
_NO_SPEECH_PROB = 0.6
_SILENT_LOGPROB = -1.0
_AUDIO_ERROR = re.compile(r"could not be decoded|file format|corrupted|audio file", re.I)
_SIZE_ERROR = re.compile(r"content size limit|too large|maximum.*size", re.I)

# Whisper's language table (ISO 639-1 code -> the lower-case name verbose_json reports, spec §2).
# fmt: off
WHISPER_LANGUAGES: dict[str, str] = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
    "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
    "nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi",
    "fi": "finnish", "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
    "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
    "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak", "te": "telugu", "fa": "persian",
    "lv": "latvian", "bn": "bengali", "sr": "serbian", "az": "azerbaijani", "sl": "slovenian", "kn": "kannada",
    "et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
    "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer", "sn": "shona",
    "yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan", "ka": "georgian", "be": "belarusian",
    "tg": "tajik", "sd": "sindhi", "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek",
    "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk", "mt": "maltese",
    "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan", "tl": "tagalog", "mg": "malagasy",
    "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala", "ha": "hausa", "ba": "bashkir",
    "jw": "javanese", "su": "sundanese", "yue": "cantonese",
}
# fmt: on
_NAME_TO_CODE = {name: code for code, name in WHISPER_LANGUAGES.items()}
# A detected language outside the allowed set is almost always a misheard neighbour: Russian audio comes back as
# another Slavic language; everything else is taken for Uzbek, which Whisper detects worst (shared/audio-notes.md:
# Uzbek came back as Armenian or Turkish, while ru and en were detected right every time).
_SLAVIC = frozenset({"uk", "be", "bg", "sr", "mk", "pl", "cs", "sk", "hr", "bs", "sl"})


class AudioTooLarge(PermanentIntegrationError):
    """The recording is over the upload limit even after compressing it."""


@dataclass(frozen=True, slots=True)
class _Upload:
    filename: str
    data: bytes
    content_type: str
    compressed: bool


class OpenAIStt:
    provides_speakers = False  # verbose_json has no speaker labels (spec §2)

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str | None = None,
        timeout: float | None = None,
        api_version: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        prompt: str | None = None,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
    ) -> None:
        """Arguments left out come from Django settings (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
        ``DIALIX_OPENAI_STT_MODEL``, ``DIALIX_OPENAI_STT_TIMEOUT_SECONDS``, ``OPENAI_API_VERSION``, ``OPENAI_ORG_ID``,
        ``OPENAI_PROJECT_ID``). ``prompt`` is Whisper's vocabulary hint (names, course titles)."""
        self.model = model or setting("DIALIX_OPENAI_STT_MODEL", DEFAULT_MODEL)
        self.name = f"openai:{self.model}"
        self.base_url = (base_url or setting("OPENAI_BASE_URL", "") or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("OpenAI base URL must start with http:// or https://")
        seconds = float(timeout if timeout is not None else setting("DIALIX_OPENAI_STT_TIMEOUT_SECONDS", 0) or 0)
        self.timeout_seconds = seconds if seconds > 0 else DEFAULT_TIMEOUT_SECONDS
        self.prompt = prompt
        self.max_upload_bytes = max_upload_bytes
        self._client = make_openai_client(
            api_key=api_key,
            base_url=self.base_url,
            organization=organization,
            project=project,
            timeout_seconds=self.timeout_seconds,
            api_version=api_version,
        )

    def __repr__(self) -> str:
        return f"OpenAIStt(model={self.model!r}, base_url={self.base_url!r})"  # never the key

    def recognise(self, audio: Path, *, language: str | None, languages: Sequence[str]) -> Recognition:
        """Forced ``language`` is sent as is. Otherwise the service detects; an answer outside ``languages`` is
        re-requested once with the allowed language it most likely is (see ``_fallback_language``)."""
        if self._client is None:
            raise AuthFailed("OpenAI API key is not configured (OPENAI_API_KEY)")
        allowed = tuple(dict.fromkeys(code.lower() for code in languages))
        if language is None and len(allowed) == 1:
            language = allowed[0]  # nothing to detect: one request instead of a possible two
        upload = self._prepare(Path(audio))
        recognition = self._recognise_once(upload, language)
        if language is None and allowed and recognition.language not in allowed:
            retry_with = _fallback_language(recognition.language, allowed)
            logger.info(
                "stt_openai_language_outside_allowed",
                extra={"detected": recognition.language, "allowed": list(allowed), "retry_with": retry_with},
            )
            recognition = self._recognise_once(upload, retry_with)
        return recognition

    # --- request -----------------------------------------------------------------------------------------------------

    def _recognise_once(self, upload: _Upload, language: str | None) -> Recognition:
        assert self._client is not None
        params: dict[str, Any] = {}
        if language is not None:
            params["language"] = language
        if self.prompt:
            params["prompt"] = self.prompt
        started = time.monotonic()
        try:
            raw = self._client.audio.transcriptions.with_raw_response.create(
                file=(upload.filename, upload.data, upload.content_type),
                model=self.model,
                response_format="verbose_json",
                timestamp_granularities=["word", "segment"],
                **params,
            )
        except openai.APIStatusError as exc:
            # "from None": the SDK's own message repeats the whole error body, masked key included.
            raise self._status_error(exc) from None
        except openai.APITimeoutError as exc:
            raise TransientIntegrationError(
                f"OpenAI did not answer the transcription within {self.timeout_seconds:g} s"
            ) from exc
        except openai.APIConnectionError as exc:
            raise TransientIntegrationError(f"Cannot connect to OpenAI at {self.base_url}") from exc
        except openai.OpenAIError as exc:
            raise BadResponse(f"The OpenAI transcription request failed: {type(exc).__name__}") from exc
        try:
            body = json.loads(raw.content)
        except ValueError:
            raise BadResponse(  # a fixed message: a vendor's body is never shown to people (issue 9)
                f"OpenAI answered the transcription with HTTP {raw.status_code} and something that is not JSON"
            ) from None
        recognition = parse_verbose_json(body, forced_language=language)
        logger.info(
            "stt_openai_transcribed",
            extra={
                "model": self.model,
                "request_id": raw.request_id,
                "language": recognition.language,
                "forced_language": language,
                "duration_ms": recognition.duration_ms,
                "words": len(recognition.words),
                "upload_bytes": len(upload.data),
                "compressed": upload.compressed,
                "seconds": round(time.monotonic() - started, 3),
            },
        )
        return recognition

    def _status_error(self, exc: openai.APIStatusError) -> IntegrationError:
        status = exc.status_code
        code = exc.code or exc.type or ""
        message = vendor_message(exc.body)
        logger.warning(
            "stt_openai_http_error",
            extra={"status": status, "code": exc.code, "type": exc.type, "request_id": exc.request_id},
        )
        shared = status_error(exc, model=self.model)
        if shared is not None:
            return shared
        if status == 413 or (status == 400 and _SIZE_ERROR.search(message)):
            return AudioTooLarge(f"OpenAI refused the upload as too large: {message or 'HTTP 413'}")
        if (
            status == 400
            and exc.param not in ("language", "model", "prompt", "response_format")
            and (exc.param == "file" or code == "unsupported_format" or _AUDIO_ERROR.search(message))
        ):
            return AudioUndecodable(f"OpenAI could not decode the audio: {message or 'HTTP 400'}")
        if 400 <= status < 500:
            return PermanentIntegrationError(f"OpenAI rejected the transcription request (HTTP {status}): {message}")
        return BadResponse(f"OpenAI answered the transcription with HTTP {status}")

    # --- upload ------------------------------------------------------------------------------------------------------

    def _prepare(self, audio: Path) -> _Upload:
        try:
            size = audio.stat().st_size
        except OSError as exc:
            raise AudioUndecodable(f"Cannot read the audio file {audio.name}: {exc.strerror}") from exc
        extension = audio.suffix.lower().lstrip(".")
        if extension in _OGG_ALIASES:
            extension = "ogg"
        if size <= self.max_upload_bytes and extension in _UPLOAD_TYPES:
            return _Upload(f"{audio.stem}.{extension}", audio.read_bytes(), _UPLOAD_TYPES[extension], False)
        data = compress_for_upload(audio)
        if len(data) > self.max_upload_bytes:
            raise AudioTooLarge(
                f"The recording is {_megabytes(size)} ({_megabytes(len(data))} compressed), over OpenAI's "
                f"{_megabytes(self.max_upload_bytes)} upload limit; transcribe it with another engine or split the call"
            )
        logger.info(
            "stt_openai_upload_compressed", extra={"original_bytes": size, "bytes": len(data), "extension": extension}
        )
        return _Upload(f"{audio.stem}.ogg", data, "audio/ogg", True)


# --- parsing ----------------------------------------------------------------------------------------------------------


def parse_verbose_json(body: Any, *, forced_language: str | None = None) -> Recognition:
    """A ``verbose_json`` body with word timestamps -> Recognition (times in whole ms, words stripped).

    Words inside segments Whisper itself would skip as silence are dropped; nothing left -> NoSpeech."""
    if not isinstance(body, dict):
        raise BadResponse(f"OpenAI answered the transcription with {type_name(body)} instead of a JSON object")
    duration = body.get("duration")
    if not is_number(duration) or duration < 0:
        raise BadResponse("OpenAI transcription has no valid duration")
    detected = body.get("language")
    if not isinstance(detected, str):
        raise BadResponse("OpenAI transcription has no language")
    text = body.get("text")
    if not isinstance(text, str):
        raise BadResponse("OpenAI transcription has no text")
    raw_words = body.get("words")
    if not isinstance(raw_words, list):
        raise BadResponse(
            "OpenAI transcription came without word timestamps; the model may not support "
            "timestamp_granularities (use whisper-1)"
        )
    silent = _silent_spans(body.get("segments"))
    words: list[Word] = []
    dropped = 0
    for index, item in enumerate(raw_words):
        if not isinstance(item, dict):
            raise BadResponse(f"OpenAI transcription word #{index} is {type_name(item)}, not an object")
        token, start, end = item.get("word"), item.get("start"), item.get("end")
        if not isinstance(token, str) or not is_number(start) or not is_number(end):
            raise BadResponse(f"OpenAI transcription word #{index} lacks word/start/end")
        token = token.strip()
        if not token:
            continue
        middle = (start + end) / 2
        if any(low <= middle <= high for low, high in silent):
            dropped += 1
            continue
        start_ms = max(round(start * 1000), 0)
        words.append(Word(start_ms=start_ms, end_ms=max(round(end * 1000), start_ms), text=token))
    if not words:
        if dropped or not text.strip():
            raise NoSpeech("OpenAI heard no speech in the recording")
        raise BadResponse("OpenAI transcription has text but no words")
    words.sort(key=lambda word: word.start_ms)
    language = forced_language or language_code(detected) or detected.strip().lower() or None
    return Recognition(
        words=tuple(words), language=language, language_probability=None, duration_ms=round(duration * 1000)
    )


def language_code(name: str) -> str | None:
    """'uzbek' -> 'uz'; ISO codes (some compatible servers answer them) pass through; unknown -> None."""
    key = name.strip().lower()
    if key in WHISPER_LANGUAGES:
        return key
    return _NAME_TO_CODE.get(key)


def _fallback_language(detected: str | None, allowed: Sequence[str]) -> str:
    if detected in _SLAVIC and "ru" in allowed:
        return "ru"
    if "uz" in allowed:
        return "uz"
    return allowed[0]


def _silent_spans(segments: Any) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []
    if not isinstance(segments, list):
        return spans  # optional; its absence only disables the silence filter
    for segment in segments:
        if not isinstance(segment, dict):
            continue
        start, end = segment.get("start"), segment.get("end")
        no_speech, logprob = segment.get("no_speech_prob"), segment.get("avg_logprob")
        if not all(is_number(value) for value in (start, end, no_speech, logprob)):
            continue
        if no_speech > _NO_SPEECH_PROB and logprob < _SILENT_LOGPROB:
            spans.append((start, end))
    return spans


def compress_for_upload(audio: Path) -> bytes:
    """Re-encode any audio PyAV reads as 16 kHz mono Ogg/Opus; timestamps keep their meaning (no cut, no split)."""
    import av  # only needed for the rare oversized or oddly formatted recording

    out = io.BytesIO()
    try:
        with av.open(str(audio), mode="r") as source:
            if not source.streams.audio:
                raise AudioUndecodable(f"{audio.name} has no audio stream")
            stream = source.streams.audio[0]
            with av.open(out, mode="w", format="ogg") as target:
                encoder = target.add_stream("libopus", rate=_COMPRESS_RATE, layout="mono")
                encoder.bit_rate = _COMPRESS_BIT_RATE
                resampler = av.AudioResampler(format="s16", layout="mono", rate=_COMPRESS_RATE)
                for frame in source.decode(stream):
                    for resampled in resampler.resample(frame):
                        target.mux(encoder.encode(resampled))
                for resampled in resampler.resample(None):
                    target.mux(encoder.encode(resampled))
                target.mux(encoder.encode(None))
    except av.FFmpegError as exc:
        raise AudioUndecodable(f"Cannot decode {audio.name} to compress it for OpenAI: {exc}") from exc
    return out.getvalue()


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
