"""Speech-to-text as plain values. Engines *recognise* one audio stream into timed words; `integrations.stt.pipeline`
turns one or two recognitions into a Transcript with operator / customer turns (channel split, or diarization)."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

Speaker = Literal["operator", "customer"]
SpeakerMethod = Literal["channels", "diarization", "engine"]
LANGUAGES = ("uz", "ru", "en")


@dataclass(frozen=True, slots=True)
class Word:
    start_ms: int
    end_ms: int
    text: str
    confidence: float | None = None  # 0..1 where the engine says
    speaker: str | None = None  # "operator"/"customer" in a Transcript; an engine's own label ("1", "A") before


@dataclass(frozen=True, slots=True)
class Recognition:
    """What an engine heard in one audio stream."""

    words: tuple[Word, ...]
    language: str | None
    language_probability: float | None
    duration_ms: int


class Recogniser(Protocol):
    name: str  # shown in the admin and stored with the transcript, e.g. "offline:whisper-base"
    provides_speakers: bool  # True when words carry the engine's speaker labels (a diarizing service)

    def recognise(self, audio: Path, *, language: str | None, languages: Sequence[str]) -> Recognition:
        """`audio`: a file PyAV can read (any codec; multi-channel input is downmixed by the engine).
        `language` forced when given, else detected among `languages` (a subset of uz/ru/en)."""
        ...


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: Speaker
    start_ms: int
    end_ms: int
    text: str
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    engine: str
    language: str
    language_probability: float | None
    low_confidence: bool  # e.g. Uzbek from the offline engine: never present it as reliable
    speaker_method: SpeakerMethod
    words: tuple[Word, ...]  # every word with speaker "operator" or "customer", by start time
    turns: tuple[Turn, ...]
    duration_ms: int
    notes: tuple[str, ...] = ()  # human-readable remarks ("operator identified by greeting cue", ...)
