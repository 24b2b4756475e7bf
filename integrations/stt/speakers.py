"""Who said what: reading audio as a stream, splitting stereo by channel, merging word streams into turns, two-speaker
diarization of mono recordings and telling which speaker is the operator.

Audio is read with PyAV block by block, so memory stays flat however long the call is. Diarization needs numpy, torch,
Resemblyzer and scikit-learn: they are imported only when a mono call is diarized.
"""

import logging
import re
import tempfile
import threading
import warnings
import wave
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import av
import numpy as np

from integrations.stt.base import Turn, Word
from integrations.stt.errors import AudioUndecodable

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # what Whisper and Resemblyzer read
SEGMENT_GAP_MS = 300  # a pause longer than this starts a new diarization segment
MIN_CLUSTERED_SEGMENT_MS = 1_000  # shorter segments are assigned to the nearer voice but do not shape the clusters
SAME_VOICE_SIMILARITY = 0.95  # two cluster centres closer than this (cosine) are one voice


# --- Reading audio -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AudioInfo:
    channels: int
    sample_rate: int
    codec: str
    duration_ms: int | None  # from the container; None when it does not say


def probe_audio(path: Path) -> AudioInfo:
    """Channels, rate and codec of the first audio stream, without decoding. Raises AudioUndecodable."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioUndecodable(f"{path.name}: the file has no audio stream")
            stream = container.streams.audio[0]
            duration = container.duration  # microseconds
            return AudioInfo(
                channels=stream.codec_context.channels,
                sample_rate=stream.codec_context.sample_rate,
                codec=stream.codec_context.name,
                duration_ms=duration // 1000 if duration else None,
            )
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise AudioUndecodable(f"{path.name}: not a readable audio file ({exc.__class__.__name__})") from exc


def iter_pcm(
    path: Path, *, layout: Literal["mono", "stereo"] = "mono", rate: int = SAMPLE_RATE
) -> Iterator[np.ndarray]:
    """Decoded float32 audio block by block (a few hundred ms each): shape (n,) for mono, (2, n) for stereo.

    Packets the decoder rejects are skipped (a damaged stretch in a PBX file loses that stretch, not the call); a file
    with no decodable packet at all raises AudioUndecodable. A file that decodes to nothing yields nothing.
    """
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise AudioUndecodable(f"{path.name}: not a readable audio file ({exc.__class__.__name__})") from exc
    with container:
        if not container.streams.audio:
            raise AudioUndecodable(f"{path.name}: the file has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        decoded = rejected = 0
        block: list[np.ndarray] = []
        block_samples = 0
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    rejected += 1
                    continue
                for frame in frames:
                    decoded += 1
                    frame.pts = None  # resample by sample count; damaged timestamps must not stall the resampler
                    for out in resampler.resample(frame):
                        block.append(out.to_ndarray())
                        block_samples += out.samples
                if block_samples >= rate // 4:
                    yield _joined(block, layout)
                    block, block_samples = [], 0
            for out in resampler.resample(None):
                block.append(out.to_ndarray())
        except av.error.FFmpegError as exc:
            if not decoded:
                raise AudioUndecodable(f"{path.name}: not a readable audio file ({exc.__class__.__name__})") from exc
            logger.warning("%s: decoding stopped early (%s); keeping what was read", path.name, exc)
        if block:
            yield _joined(block, layout)
        if rejected and not decoded:
            raise AudioUndecodable(f"{path.name}: none of its {rejected} audio packets could be decoded")
        if rejected:
            logger.warning("%s: skipped %d undecodable audio packets", path.name, rejected)


def _joined(block: list[np.ndarray], layout: str) -> np.ndarray:
    audio = np.concatenate(block, axis=1).astype(np.float32, copy=False)
    return audio[0] if layout == "mono" else audio


def iter_chunks(
    path: Path, *, chunk_seconds: float = 300.0, search_seconds: float = 20.0, rate: int = SAMPLE_RATE
) -> Iterator[tuple[int, np.ndarray]]:
    """Mono audio in chunks of about `chunk_seconds`, each cut at the quietest moment of its last `search_seconds`
    (so a cut does not fall inside a word): yields (offset in samples, float32 array). At most one chunk plus one block
    is held in memory, whatever the file's length."""
    limit, search = int(chunk_seconds * rate), int(search_seconds * rate)
    blocks: list[np.ndarray] = []
    held = offset = 0
    for block in iter_pcm(path, rate=rate):
        blocks.append(block)
        held += len(block)
        if held < limit:
            continue
        buffer = np.concatenate(blocks)
        cut = _quietest_point(buffer, start=limit - search, end=limit, rate=rate)
        yield offset, buffer[:cut]
        offset += cut
        blocks, held = [buffer[cut:]], len(buffer) - cut
    if held:
        yield offset, np.concatenate(blocks)


def _quietest_point(audio: np.ndarray, *, start: int, end: int, rate: int) -> int:
    window = rate // 5  # 200 ms
    region = audio[start:end]
    usable = len(region) // window * window
    if usable == 0:
        return end
    energy = np.square(region[:usable]).reshape(-1, window).mean(axis=1)
    return start + int(np.argmin(energy)) * window + window // 2


# --- Stereo: one speaker per channel -------------------------------------------------------------------------------


FRAME_MS = 10  # channel energies are kept per 10 ms frame (400 bytes a second of audio per channel)
# A channel carries speech in a frame when its energy, smoothed over 100 ms, is within ACTIVE_BELOW_PEAK_DB of its own
# loud speech level (95th percentile) and above an absolute floor; crosstalk is both channels carrying speech at once,
# at levels within ECHO_DB of each other (a line echo of one voice on the other channel is quieter than that). On the
# test calls with replies moved into the operator's turns this measured 85-100% of the true overlap.
ACTIVE_BELOW_PEAK_DB = 35.0
ACTIVE_FLOOR_DBFS = -55.0
ECHO_DB = 25.0
CROSSTALK_RUN_MS = 200  # simultaneous speech shorter than this (a breath, an echo's tail) is not counted
# The downmix is recognised once only while the call has less simultaneous speech than this (runs of at least
# CROSSTALK_RUN_MS, added up, as crosstalk_ms measures it). Measured (bench/stt.py --crosstalk) on en-01, ru-01 and
# en-02 stereo with the customer's channel moved 1.1-2.5 s earlier, so that every reply starts under the end of the
# operator's turn. Speaker-attributed WER, downmix against two passes: no crosstalk 4.8/9.5%, 13.4/10.4%, 3.3/5.4%;
# measured 1.4-1.7 s (true overlap ~2 s) 11.4/8.6%, 11.9/13.4%, 13.0/4.3%; 2.2-2.8 s 16.2/8.6%, 23.9/10.4%,
# 14.1/3.3%; ~4-5 s 25-40% against 9-13%. The downmix loses the words said under the other voice from ~1.4 s
# measured on: 1 s keeps a margin, and a call with more is recognised channel by channel (about 40% more CPU).
CROSSTALK_MAX_MS = 1_000
# A quiet line under a loud one would be quiet in the downmix too, where Whisper may miss it: channels whose levels
# differ by more than this are recognised apart (the test calls differ by under 3 dB).
LEVEL_GAP_MAX_DB = 15.0


@dataclass(frozen=True, slots=True)
class ChannelPair:
    left: Path
    right: Path
    left_rms: float
    right_rms: float
    identical: bool  # a mono recording stored as two equal channels
    mix: Path | None = None  # both channels averaged into one (mono WAV)
    left_energy: np.ndarray | None = None  # mean square per FRAME_MS frame
    right_energy: np.ndarray | None = None

    def silent(self, channel: Literal["left", "right"]) -> bool:
        """A channel that stays 40 dB below the other one (or under -60 dBFS) carries nobody."""
        own, other = (self.left_rms, self.right_rms) if channel == "left" else (self.right_rms, self.left_rms)
        return own < 1e-3 or own < other / 100

    def level_gap_db(self) -> float:
        """How much louder one channel is than the other, over the whole call."""
        low, high = sorted((max(self.left_rms, 1e-9), max(self.right_rms, 1e-9)))
        return float(20 * np.log10(high / low))

    def crosstalk_ms(self) -> int:
        """How long both channels carry speech at once (runs of at least CROSSTALK_RUN_MS, added up)."""
        if self.left_energy is None or self.right_energy is None:
            return 0
        return crosstalk_ms(self.left_energy, self.right_energy)


@contextmanager
def split_channels(path: Path) -> Iterator[ChannelPair]:
    """Writes the left and right channels and their downmix to three temporary 16-bit WAV files (at the source's
    rate, streamed block by block) and removes them on exit. Any engine can read them; the channel statistics let the
    caller notice a silent channel or a mono call stored as stereo, and the per-frame energies tell which channel
    carried each word of the downmix."""
    info = probe_audio(path)
    frame = max(info.sample_rate * FRAME_MS // 1000, 1)
    with tempfile.TemporaryDirectory(prefix="dialix-stt-") as folder:
        left_path, right_path, mix_path = (Path(folder) / f"{name}.wav" for name in ("left", "right", "mix"))
        sums = np.zeros(3)  # left², right², |left - right|
        scale = np.zeros(1)  # |left| + |right|
        count = 0
        energies: list[np.ndarray] = []
        rest = np.zeros((2, 0), dtype=np.float32)
        with (
            wave.open(str(left_path), "wb") as left,
            wave.open(str(right_path), "wb") as right,
            wave.open(str(mix_path), "wb") as mix,
        ):
            for handle in (left, right, mix):
                handle.setnchannels(1)
                handle.setsampwidth(2)
                handle.setframerate(info.sample_rate)
            for block in iter_pcm(path, layout="stereo", rate=info.sample_rate):
                left.writeframes(_pcm16(block[0]))
                right.writeframes(_pcm16(block[1]))
                mix.writeframes(_pcm16((block[0] + block[1]) / 2))
                sums += (
                    float(np.dot(block[0], block[0])),
                    float(np.dot(block[1], block[1])),
                    float(np.abs(block[0] - block[1]).sum()),
                )
                scale += float(np.abs(block).sum())
                count += block.shape[1]
                joined = np.concatenate([rest, block], axis=1)
                usable = joined.shape[1] // frame * frame
                energies.append(np.square(joined[:, :usable]).reshape(2, -1, frame).mean(axis=2))
                rest = joined[:, usable:]
        count = max(count, 1)
        energy = np.concatenate(energies, axis=1) if energies else np.zeros((2, 0))
        yield ChannelPair(
            left=left_path,
            right=right_path,
            left_rms=float(np.sqrt(sums[0] / count)),
            right_rms=float(np.sqrt(sums[1] / count)),
            identical=bool(sums[2] <= 0.01 * scale[0]) and scale[0] > 0,
            mix=mix_path,
            left_energy=energy[0],
            right_energy=energy[1],
        )


def _decibels(energy: np.ndarray) -> np.ndarray:
    """Frame energies smoothed over 100 ms, in dB."""
    return 10 * np.log10(np.convolve(energy, np.ones(10) / 10, mode="same") + 1e-10)


def _active(decibels: np.ndarray) -> np.ndarray:
    """Frames in which a channel carries speech: near the channel's own loud speech level, above an absolute floor."""
    if not len(decibels):
        return np.zeros(0, dtype=bool)
    return decibels > max(float(np.percentile(decibels, 95)) - ACTIVE_BELOW_PEAK_DB, ACTIVE_FLOOR_DBFS)


def crosstalk_ms(left_energy: np.ndarray, right_energy: np.ndarray, *, min_run_ms: int = CROSSTALK_RUN_MS) -> int:
    """Milliseconds in which both channels carry speech at comparable levels (an echo of one voice on the other
    channel, ECHO_DB or more below it, is not speech), in runs of at least `min_run_ms`."""
    size = min(len(left_energy), len(right_energy))
    if size == 0:
        return 0
    left, right = _decibels(left_energy[:size]), _decibels(right_energy[:size])
    both = _active(left) & _active(right) & (np.abs(left - right) < ECHO_DB)
    total = run = 0
    for value in [*both.tolist(), False]:
        if value:
            run += 1
        else:
            if run * FRAME_MS >= min_run_ms:
                total += run * FRAME_MS
            run = 0
    return total


def attribute_by_energy(
    words: Iterable[Word], left_energy: np.ndarray, right_energy: np.ndarray, *, operator_channel: str = "left"
) -> tuple[Word, ...]:
    """Words recognised on a stereo call's downmix, each given to the channel louder over the word's span (mean
    square energy of its frames; a word shorter than a frame reads the frame it falls in), in time order."""
    labelled = []
    for word in words:
        start = max(word.start_ms // FRAME_MS, 0)
        end = max(-(-word.end_ms // FRAME_MS), start + 1)
        left, right = float(left_energy[start:end].sum()), float(right_energy[start:end].sum())
        channel = "left" if left >= right else "right"
        labelled.append(replace(word, speaker="operator" if channel == operator_channel else "customer"))
    return tuple(sorted(labelled, key=lambda word: (word.start_ms, word.end_ms, word.speaker != "operator")))


def _pcm16(channel: np.ndarray) -> bytes:
    return (np.clip(channel, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def merge_channel_words(operator_words: Iterable[Word], customer_words: Iterable[Word]) -> tuple[Word, ...]:
    """Both channels' words labelled with their speaker, in order of start time (the operator first on a tie)."""
    labelled = [replace(word, speaker="operator") for word in operator_words]
    labelled += [replace(word, speaker="customer") for word in customer_words]
    return tuple(sorted(labelled, key=lambda word: (word.start_ms, word.end_ms, word.speaker != "operator")))


def words_to_turns(words: Sequence[Word]) -> tuple[Turn, ...]:
    """One turn per run of words by the same speaker (words already labelled operator/customer, in time order)."""
    turns: list[Turn] = []
    run: list[Word] = []
    for word in words:
        if run and word.speaker != run[-1].speaker:
            turns.append(_turn(run))
            run = []
        run.append(word)
    if run:
        turns.append(_turn(run))
    return tuple(turns)


def _turn(words: list[Word]) -> Turn:
    speaker = words[0].speaker
    if speaker not in ("operator", "customer"):
        raise ValueError(f"words must be labelled operator or customer, not {speaker!r}")
    scores = [word.confidence for word in words if word.confidence is not None]
    return Turn(
        speaker=speaker,
        start_ms=words[0].start_ms,
        end_ms=max(word.end_ms for word in words),
        text=" ".join(word.text.strip() for word in words if word.text.strip()),
        confidence=round(sum(scores) / len(scores), 3) if scores else None,
    )


# --- Mono: two-speaker diarization ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Diarization:
    labels: tuple[int, ...]  # one cluster (0 or 1) per word, in the order of the words given
    segments: int  # pause-split segments that were embedded
    notes: tuple[str, ...] = ()


_encoder = None
_encoder_lock = threading.Lock()


def stt_cpu_threads() -> int:
    """Threads one offline recognition may use (`DIALIX_STT_CPU_THREADS`, default 1), Whisper and the encoder alike.
    One thread per process and as many processes as cores: on 2 cores two 1-thread recognitions did 2.2x the work of
    one 2-thread recognition (bench/stt.py compares the layouts)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return int(getattr(settings, "DIALIX_STT_CPU_THREADS", 1))
    except ImproperlyConfigured:  # outside Django
        return 1


def get_voice_encoder():
    """Resemblyzer's speaker encoder (its 17 MB weights ship in the wheel), loaded once per process. Sets torch's
    thread count for the process (otherwise one thread per core, too many beside other workers)."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # webrtcvad's pkg_resources import, scipy.ndimage.morphology
                import torch
                from resemblyzer import VoiceEncoder

            torch.set_num_threads(stt_cpu_threads())
            _encoder = VoiceEncoder("cpu", verbose=False)
        return _encoder


def pause_segments(
    words: Sequence[Word], gap_ms: int = SEGMENT_GAP_MS, pauses: Sequence[tuple[int, int]] = ()
) -> list[list[int]]:
    """Indexes of `words` grouped into segments: a new segment starts after a gap of more than `gap_ms` between two
    words, or where one of `pauses` (silences measured in the audio, (start_ms, end_ms)) lies between the middles of two
    consecutive words. Whisper often stretches a word over the pause that follows it; the measured pauses still cut
    there, so one segment does not hold both speakers."""
    segments: list[list[int]] = []
    pause_index = 0
    for index, word in enumerate(words):
        if not segments:
            segments.append([index])
            continue
        previous = words[segments[-1][-1]]
        left, right = (previous.start_ms + previous.end_ms) / 2, (word.start_ms + word.end_ms) / 2
        while pause_index < len(pauses) and pauses[pause_index][1] <= left:
            pause_index += 1
        paused = pause_index < len(pauses) and pauses[pause_index][0] < right
        if word.start_ms - previous.end_ms > gap_ms or paused:
            segments.append([index])
        else:
            segments[-1].append(index)
    return segments


def measure_pauses(audio_path: Path, *, min_pause_ms: int = 200) -> list[tuple[int, int]]:
    """Silences of at least `min_pause_ms` as (start_ms, end_ms), from 10 ms frame energies read as a stream (the
    energies take 400 bytes a second of audio). Silence is 30 dB under the loud speech level, and at least 6 dB over
    the noise floor; a recording whose speech does not stand 12 dB above its noise gives no pauses."""
    frame = SAMPLE_RATE // 100
    energies: list[np.ndarray] = []
    rest = np.zeros(0, dtype=np.float32)
    for block in iter_pcm(audio_path):
        block = np.concatenate([rest, block])
        usable = len(block) // frame * frame
        energies.append(np.square(block[:usable]).reshape(-1, frame).mean(axis=1))
        rest = block[usable:]
    if not energies:
        return []
    decibels = 10 * np.log10(np.concatenate(energies) + 1e-10)
    speech, noise = np.percentile(decibels, 95), np.percentile(decibels, 10)
    if speech - noise < 12:
        return []
    quiet = decibels < max(speech - 30, noise + 6)
    pauses: list[tuple[int, int]] = []
    run_start = None
    for position, is_quiet in enumerate([*quiet.tolist(), False]):
        if is_quiet and run_start is None:
            run_start = position
        elif not is_quiet and run_start is not None:
            if (position - run_start) * 10 >= min_pause_ms:
                pauses.append((run_start * 10, position * 10))
            run_start = None
    return pauses


def _trimmed_span(first: Word, last: Word, pauses: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """A segment's audio span without the measured silence a stretched word timestamp reaches into."""
    start, end = first.start_ms, last.end_ms
    for pause_start, pause_end in pauses:
        if pause_start <= start < pause_end:
            start = pause_end
        if pause_start < end <= pause_end:
            end = pause_start
    return (start, end) if end > start else (first.start_ms, last.end_ms)


def diarize_two_speakers(audio_path: Path, words: Sequence[Word]) -> Diarization:
    """Labels each word 0 or 1. Words are grouped into segments at pauses (a gap of more than 0.3 s between words, or a
    silence measured in the audio), each segment gets a Resemblyzer embedding of its audio, KMeans(2) on the
    normalised embeddings of the segments of 1 s or more finds the two voices, and every segment goes to the nearer
    voice (short segments give noisy embeddings, so they do not shape the clusters).

    Audio is read as a stream, twice (energies, then segments); only the current segment's samples are held. With
    fewer than two segments, or two voices that are nearly the same, everything is one speaker and a note says so.
    """
    if not words:
        return Diarization(labels=(), segments=0, notes=("no words to diarize",))
    pauses = measure_pauses(audio_path)
    segments = pause_segments(words, pauses=pauses)
    if len(segments) < 2:
        return Diarization(
            labels=(0,) * len(words), segments=len(segments), notes=("one speech segment only: one speaker assumed",)
        )
    spans = [_trimmed_span(words[s[0]], words[s[-1]], pauses) for s in segments]
    embeddings = _segment_embeddings(audio_path, spans)
    vectors = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-9)
    long_enough = [i for i, (start, end) in enumerate(spans) if end - start >= MIN_CLUSTERED_SEGMENT_MS]
    fitted = vectors[long_enough] if len(long_enough) >= 2 else vectors

    from sklearn.cluster import KMeans

    kmeans = KMeans(n_clusters=2, n_init=10, random_state=0).fit(fitted)
    centres = kmeans.cluster_centers_ / np.linalg.norm(kmeans.cluster_centers_, axis=1, keepdims=True)
    segment_labels = np.argmax(vectors @ centres.T, axis=1).tolist()
    similarity = float(centres[0] @ centres[1])
    notes = [
        f"{len(segments)} segments ({len(long_enough)} of 1 s or more) clustered into two voices "
        f"(centroid similarity {similarity:.2f})"
    ]
    if len(set(segment_labels)) < 2 or similarity > SAME_VOICE_SIMILARITY:
        notes.append("the two voices could not be told apart: one speaker assumed")
        segment_labels = [0] * len(segments)
    labels = [0] * len(words)
    for segment, label in zip(segments, segment_labels, strict=True):
        for index in segment:
            labels[index] = label
    return Diarization(labels=tuple(labels), segments=len(segments), notes=tuple(notes))


def _segment_embeddings(audio_path: Path, spans_ms: Sequence[tuple[int, int]]) -> np.ndarray:
    """One 256-d Resemblyzer embedding per (start, end) span, reading the audio once as a stream."""
    encoder = get_voice_encoder()
    spans = []
    for start_ms, end_ms in spans_ms:
        start = start_ms * SAMPLE_RATE // 1000
        spans.append((start, max(end_ms * SAMPLE_RATE // 1000, start + 1)))
    pieces: list[list[np.ndarray]] = [[] for _ in spans]
    embeddings: list[np.ndarray] = []
    position = 0
    for block in iter_pcm(audio_path):
        block_end = position + len(block)
        for index in range(len(embeddings), len(spans)):
            start, end = spans[index]
            if start >= block_end:
                break
            if end > position:
                pieces[index].append(block[max(start - position, 0) : min(end - position, len(block))])
        while len(embeddings) < len(spans) and spans[len(embeddings)][1] <= block_end:
            embeddings.append(_embed(encoder, pieces[len(embeddings)]))
            pieces[len(embeddings) - 1] = []
        position = block_end
    while len(embeddings) < len(spans):  # spans that run past the end of the audio
        embeddings.append(_embed(encoder, pieces[len(embeddings)]))
    return np.stack(embeddings)


def _embed(encoder, pieces: list[np.ndarray]) -> np.ndarray:
    """Resemblyzer's `embed_utterance` (volume normalised to -30 dBFS, partial windows of 1.6 s, mean of their
    embeddings), with the mel spectrogram computed in numpy: librosa's first call JIT-compiles numba code for ~180 MB
    of memory that stays for the life of the process."""
    import torch

    audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    if len(audio) < SAMPLE_RATE // 10:
        audio = np.pad(audio, (0, SAMPLE_RATE // 10 - len(audio)))
    rms_dbfs = 10 * np.log10(np.mean(np.square(audio)) + 1e-12)
    if rms_dbfs < -30:
        audio = audio * 10 ** ((-30 - rms_dbfs) / 20)
    wav_slices, mel_slices = encoder.compute_partial_slices(len(audio), rate=1.3, min_coverage=0.75)
    if wav_slices[-1].stop >= len(audio):
        audio = np.pad(audio, (0, wav_slices[-1].stop - len(audio)))
    mel = _mel_spectrogram(audio)
    with torch.no_grad():
        partials = encoder(torch.from_numpy(np.array([mel[s] for s in mel_slices]))).numpy()
    embedding = partials.mean(axis=0)
    return embedding / np.linalg.norm(embedding)


_MEL_FILTERS: np.ndarray | None = None


def _mel_spectrogram(audio: np.ndarray, n_fft: int = 400, hop: int = 160, n_mels: int = 40) -> np.ndarray:
    """Power mel spectrogram as Resemblyzer computes it (librosa defaults: centred frames, zero padding, periodic
    Hann window, Slaney mel scale and area normalisation), frames x mels, float32."""
    global _MEL_FILTERS
    if _MEL_FILTERS is None:
        _MEL_FILTERS = _slaney_mel_filters(SAMPLE_RATE, n_fft, n_mels)
    padded = np.pad(audio.astype(np.float64), n_fft // 2)
    count = 1 + (len(padded) - n_fft) // hop
    frames = padded[np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    return (power @ _MEL_FILTERS.T).astype(np.float32)


def _slaney_mel_filters(rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    linear_step, log_start_hz = 200 / 3, 1000.0
    log_start_mel, log_step = log_start_hz / linear_step, np.log(6.4) / 27

    def to_mel(hz):
        hz = np.asarray(hz, dtype=np.float64)
        return np.where(
            hz >= log_start_hz,
            log_start_mel + np.log(np.maximum(hz, 1e-10) / log_start_hz) / log_step,
            hz / linear_step,
        )

    def to_hz(mel):
        return np.where(
            mel >= log_start_mel, log_start_hz * np.exp(log_step * (mel - log_start_mel)), mel * linear_step
        )

    edges = to_hz(np.linspace(to_mel(0.0), to_mel(rate / 2), n_mels + 2))
    frequencies = np.fft.rfftfreq(n_fft, 1 / rate)
    ramps = edges[:, None] - frequencies[None, :]
    widths = np.diff(edges)
    rising, falling = -ramps[:-2] / widths[:-1, None], ramps[2:] / widths[1:, None]
    filters = np.maximum(0, np.minimum(rising, falling))
    return filters * (2.0 / (edges[2:] - edges[:-2]))[:, None]


# --- Which speaker is the operator ---------------------------------------------------------------------------------

# Phrases an operator says and a customer rarely does, lower case; uz in Latin and Cyrillic, ru, en.
SERVICE_CUES = (
    "thank you for calling",
    "how can i help",
    "how may i help",
    "my name is",
    "спасибо за звонок",
    "чем могу помочь",
    "чем я могу помочь",
    "меня зовут",
    "компания",
    "магазин",
    "интернет-магазин",
    "mening ismim",
    "kompaniya",
    "kompaniyasi",
    "qanday yordam",
    "yordam bera olaman",
    "qo'ng'iroq qilganingiz uchun rahmat",
    "менинг исмим",
    "компанияси",
    "қандай ёрдам",
    "ёрдам бера оламан",
)
GREETING_CUES = (
    "good morning",
    "good afternoon",
    "good evening",
    "здравствуйте",
    "добрый день",
    "добрый вечер",
    "доброе утро",
    "assalomu alaykum",
    "assalomu aleykum",
    "xayrli kun",
    "ассалому алайкум",
    "хайрли кун",
)
# What someone picking up the phone says first.
ANSWER_CUES = (
    "allo",
    "alo",
    "алло",
    "алё",
    "ало",
    "hello",
    "hi",
    "yes",
    "да",
    "слушаю",
    "labbay",
    "ha",
    "лаббай",
    "ҳа",
)


# Words by which a speaker talks as the company ("we", "our", service questions) or as its customer ("my", "I'd
# like"), lower case; counted per speaker label over the whole call. They decide the calls with no greeting, no
# company name and no direction (bench/stt.py scores the rule on the mono calls with those cues stripped).
OPERATOR_WORDS = (
    "we",
    "we'll",
    "we're",
    "we've",
    "our",
    "us",
    "may i have",
    "may i know",
    "can i have",
    "order number",
    "anything else",
    "help you",
    "you left",
    "which number",
    "call you back",
    "мы",
    "наш",
    "наша",
    "наше",
    "наши",
    "нашем",
    "нашей",
    "наших",
    "у нас",
    "как вас зовут",
    "как к вам обращаться",
    "номер заказа",
    "ваш заказ",
    "вам было бы",
    "помочь вам",
    "вы оставляли",
    "продиктуйте",
    "я перезвоню",
    "biz",
    "bizda",
    "bizning",
    "bizga",
    "ismingiz",
    "ismingizni",
    "buyurtma raqami",
    "buyurtma raqamini",
)
CUSTOMER_WORDS = (
    "my",
    "i'd like",
    "i would like",
    "i want",
    "i wanted",
    "i'm calling",
    "i am calling",
    "i ordered",
    "i bought",
    "your website",
    "your shop",
    "could you",
    "call me",
    "you helped",
    "мой",
    "моя",
    "мое",
    "мои",
    "моего",
    "мою",
    "я хочу",
    "я хотел",
    "я хотела",
    "я звоню",
    "я заказал",
    "я заказала",
    "у вас",
    "мне",
    "подскажите",
    "перезвоните",
    "men",
    "menga",
    "buyurtmam",
    "olmoqchi",
    "xohlayman",
)
ROLE_WORDS_MARGIN = 2  # role words decide only when one label's score leads the other's by at least this
FIRST_RUN_WORDS = 4  # the first run of this many words by one label is the first speaker (a lone "Hello." is not)
TALK_SHARE = 0.6  # a label saying at least this share of the words talks most: operators usually do


@dataclass(frozen=True, slots=True)
class Vote:
    cue: str  # "phrases", "role_words", "first_speaker", "talk_share" or "direction"
    label: str  # the speaker label this cue says is the operator
    weight: float
    detail: str


def _normalised(text: str) -> str:
    text = text.lower().replace("ё", "е").replace("’", "'").replace("ʻ", "'").replace("‘", "'").replace("`", "'")
    return " " + re.sub(r"[^\w'\-]+", " ", text).strip() + " "


_TO_LATIN = str.maketrans(
    {
        **dict(zip("абвгдезийклмнопрстуфхыэ", "abvgdeziyklmnoprstufxie", strict=True)),
        **{"ж": "j", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh", "ю": "yu", "я": "ya", "ъ": "", "ь": ""},
        **{"ў": "o'", "қ": "q", "ғ": "g'", "ҳ": "h"},
    }
)


def _sound(text: str) -> str:
    """Roughly how a name sounds, in Latin letters: "Диаликс", "Dialics" and "Dialix" all become "dialix"."""
    return re.sub(r"[kc]s", "x", text.lower().translate(_TO_LATIN).replace("'", ""))


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other)))
        previous = current
    return previous[-1]


def _mentions(said: str, cue: str) -> bool:
    """Whether `said` (normalised) names `cue` (a company's name), allowing for how an engine may spell it: one
    letter off in five, and Cyrillic for Latin."""
    target = _sound(cue)
    words, size = said.split(), len(target.split())
    allowed = len(target) // 5
    return any(
        _distance(_sound(" ".join(words[i : i + size])), target) <= allowed for i in range(len(words) - size + 1)
    )


def _label_runs(words: Sequence[Word]) -> list[tuple[str, int, int, str]]:
    """(label, start_ms, word count, text) for each run of consecutive words by one label. Runs depend on the words
    and their order only, not on pauses or segment lengths (which batched decoding changes)."""
    runs: list[tuple[str, int, int, str]] = []
    current: list[Word] = []
    for word in words:
        if current and word.speaker != current[-1].speaker:
            runs.append(_run(current))
            current = []
        current.append(word)
    if current:
        runs.append(_run(current))
    return runs


def _run(words: list[Word]) -> tuple[str, int, int, str]:
    return str(words[0].speaker), words[0].start_ms, len(words), " ".join(w.text.strip() for w in words)


def _count(said: str, phrases: Sequence[str]) -> int:
    return sum(said.count(f" {phrase} ") for phrase in phrases)


def operator_votes(
    words: Sequence[Word], *, direction: str | None = None, operator_cues: Sequence[str] = ()
) -> list[Vote]:
    """The evidence for which label is the operator, one vote per cue that has an opinion. Every cue reads the words,
    their order and the call's direction; none reads segment lengths or pauses.

    - phrases (3): service phrases, greetings and the company's own cues (its name, matched loosely), counted per
      label; a phrase in the first 20 s weighs double, the company's cues triple. Customers greet too, so greetings
      weigh least and never vote alone.
    - direction (1.5): on an inbound call the operator answers, so the first speaker is the operator; on an outbound
      call a short "allo" / "hello" first (a run of at most 3 words) is the customer picking up.
    - role_words (1.5): who talks as the company ("we", "our", "у нас", "how may I have your name") and who as its
      customer ("my", "I'd like", "мой заказ"), counted over the whole call.
    - first_speaker (1): the first run of at least 4 words by one label is usually the operator's greeting (a lone
      short word at the start may be the other voice, or be put in the wrong cluster).
    - talk_share (0.5): the label with at least 60% of the words; operators talk most except in complaints.
    """
    labelled = [word for word in words if word.speaker is not None]
    labels = sorted({str(word.speaker) for word in labelled})
    if not labels:
        return []
    runs = _label_runs(labelled)
    votes: list[Vote] = []

    company = tuple(_normalised(cue).strip() for cue in operator_cues if cue.strip())
    scores = {label: 0.0 for label in labels}
    found: dict[str, list[str]] = {label: [] for label in labels}
    roles = {label: 0 for label in labels}
    call_start = runs[0][1]
    for label, start, _count_words, text in runs:
        said = _normalised(text)
        early = 2.0 if start - call_start < 20_000 else 1.0
        heard = [(cue, 3.0) for cue in company if _mentions(said, cue)]
        heard += [(phrase, 2.0) for phrase in SERVICE_CUES if f" {phrase} " in said]
        heard += [(phrase, 1.0) for phrase in GREETING_CUES if f" {phrase} " in said]
        for phrase, weight in heard:
            scores[label] += weight * early
            found[label].append(phrase)
        roles[label] += _count(said, OPERATOR_WORDS) - _count(said, CUSTOMER_WORDS)
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    label = ranked[0][0]
    # Customers greet too: a greeting alone never decides, a service phrase or the company's name must be among them.
    service = any(phrase not in GREETING_CUES for phrase in found[label])
    if service and (len(ranked) == 1 or ranked[0][1] >= ranked[1][1] + 2):
        votes.append(Vote("phrases", label, 3.0, f"operator phrases {', '.join(repr(p) for p in found[label][:3])}"))

    if len(labels) == 2:
        ahead, behind = sorted(labels, key=lambda label: -roles[label])
        if roles[ahead] - roles[behind] >= ROLE_WORDS_MARGIN:
            detail = f"talks as the company ({roles[ahead]:+d} against {roles[behind]:+d} in role words)"
            votes.append(Vote("role_words", ahead, 1.5, detail))

    first = next((run for run in runs if run[2] >= FIRST_RUN_WORDS), runs[0])
    votes.append(Vote("first_speaker", first[0], 1.0, f"first to say {FIRST_RUN_WORDS} words in a row"))

    said_words = {label: sum(run[2] for run in runs if run[0] == label) for label in labels}
    talker = max(labels, key=lambda label: said_words[label])
    if len(labels) == 2 and said_words[talker] >= TALK_SHARE * len(labelled):
        votes.append(Vote("talk_share", talker, 0.5, f"says {said_words[talker] / len(labelled):.0%} of the words"))

    first_label, _start, first_count, first_text = runs[0]
    others = [label for label in labels if label != first_label]
    if direction == "inbound":
        votes.append(Vote("direction", first_label, 1.5, "inbound call: the operator answers first"))
    elif direction == "outbound" and others:
        answered = _normalised(first_text).split()[:2]
        if first_count <= 3 and any(word in ANSWER_CUES for word in answered):
            votes.append(Vote("direction", others[0], 1.5, "outbound call: the customer picked up first"))
    return votes


def identify_operator(
    words: Sequence[Word], *, direction: str | None = None, operator_cues: Sequence[str] = ()
) -> tuple[str | None, str]:
    """Which speaker label (a diarization cluster or an engine's label) is the operator, and the cue that decided.

    The votes of `operator_votes` are added up per label; the label with most weight wins, and the reason names the
    strongest vote that agrees with the result. Returns (None, reason) when there are no labelled words.
    """
    labels = sorted({str(word.speaker) for word in words if word.speaker is not None})
    if not labels:
        return None, "no speech"
    votes = operator_votes(words, direction=direction, operator_cues=operator_cues)
    totals = {label: 0.0 for label in labels}
    for vote in votes:
        totals[vote.label] += vote.weight
    first_label = next(str(word.speaker) for word in words if word.speaker is not None)
    # Ties (no votes at all included) go to whoever spoke first.
    winner = max(labels, key=lambda label: (totals[label], label == first_label))
    deciding = [vote for vote in votes if vote.label == winner]
    if not deciding:
        return winner, "no cue: the first speaker taken as the operator"
    strongest = max(deciding, key=lambda vote: vote.weight)
    return winner, f"{strongest.cue}: {strongest.detail}"


def label_words(words: Sequence[Word], labels: Sequence[int | str]) -> tuple[Word, ...]:
    return tuple(replace(word, speaker=str(label)) for word, label in zip(words, labels, strict=True))


def assign_roles(words: Sequence[Word], operator_label: str | None) -> tuple[Word, ...]:
    """Engine/cluster labels to roles: the operator's label becomes "operator", every other label "customer"."""
    return tuple(
        replace(word, speaker="operator" if str(word.speaker) == operator_label else "customer") for word in words
    )
