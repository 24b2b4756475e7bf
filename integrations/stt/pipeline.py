"""One recording to a Transcript with operator / customer turns.

Stereo: one speaker per channel (which one is the operator is the company's setting). An engine that allows it (the
offline one: `stereo_downmix`) recognises the two channels' downmix once and each word goes to the channel louder over
its span; a call with long crosstalk (both channels speaking at once, `CROSSTALK_MAX_MS`), or an engine without that
option, has each channel recognised on its own and the two word streams merged by word start time. Mono: recognised
once, then the engine's own speaker labels or, for engines without them, offline two-speaker diarization; the
operator is told apart by cues from the words and the call's direction (speakers.py).

The offline engine decodes in batches (`supports_batching`) on stereo audio and on mono audio alike: the operator
rule reads words, word order and talk shares, never the segment lengths batching changes.
"""

import logging
from collections.abc import Sequence
from pathlib import Path

from integrations.stt.base import Recogniser, Recognition, Transcript, Word
from integrations.stt.errors import NoSpeech
from integrations.stt.speakers import (
    CROSSTALK_MAX_MS,
    LEVEL_GAP_MAX_DB,
    assign_roles,
    attribute_by_energy,
    diarize_two_speakers,
    identify_operator,
    label_words,
    merge_channel_words,
    probe_audio,
    split_channels,
    words_to_turns,
)

logger = logging.getLogger(__name__)

LOW_WORD_CONFIDENCE = 0.5  # mean word probability below this: the engine was mostly guessing
MONO_BATCHED = True  # batching on mono audio: see the operator rule in speakers.operator_votes and bench/stt.py


def _recognise(recogniser: Recogniser, audio: Path, *, batched: bool, **options) -> Recognition:
    """`recogniser.recognise`, batched where the engine supports it."""
    if batched and getattr(recogniser, "supports_batching", False):
        return recogniser.recognise(audio, batched=True, **options)  # type: ignore[call-arg]
    return recogniser.recognise(audio, **options)


def transcribe(
    audio: Path,
    *,
    recogniser: Recogniser,
    languages: Sequence[str],
    language: str | None = None,
    operator_channel: str = "left",
    direction: str | None = None,
    operator_cues: Sequence[str] = (),
) -> Transcript:
    """Raises AudioUndecodable (not audio) and NoSpeech (audio without recognisable speech)."""
    audio = Path(audio)
    if operator_channel not in ("left", "right"):
        raise ValueError(f"operator_channel must be 'left' or 'right', not {operator_channel!r}")
    info = probe_audio(audio)
    if info.channels >= 2:
        with split_channels(audio) as pair:
            if not pair.identical and not pair.silent("left") and not pair.silent("right"):
                return _stereo(pair, recogniser, languages, language, operator_channel)
            # A mono call stored as stereo: identical channels, or everybody on one channel.
            if pair.identical:
                reason = "the two channels are identical"
                source = pair.left
            else:
                reason = f"the {'left' if pair.silent('left') else 'right'} channel is silent"
                source = pair.right if pair.silent("left") else pair.left
            return _mono(
                source,
                recogniser,
                languages,
                language,
                direction,
                operator_cues,
                notes=(f"stereo recording treated as mono: {reason}",),
            )
    return _mono(audio, recogniser, languages, language, direction, operator_cues)


def _stereo(pair, recogniser, languages, language, operator_channel) -> Transcript:
    if getattr(recogniser, "stereo_downmix", False) and pair.mix is not None:
        overlap, gap = pair.crosstalk_ms(), pair.level_gap_db()
        if overlap < CROSSTALK_MAX_MS and gap <= LEVEL_GAP_MAX_DB:
            mixed = _downmix(pair, recogniser, languages, language, operator_channel, overlap)
            if {word.speaker for word in mixed.words} >= {"operator", "customer"}:
                return mixed
            # Both channels carry sound (a silent one was caught above) but the downmix gave one side no word.
            crosstalk_note = ["the downmix gave one side no words: channels recognised apart"]
        elif overlap >= CROSSTALK_MAX_MS:
            crosstalk_note = [
                f"crosstalk: both channels speak at once for {overlap / 1000:.1f} s, channels recognised apart"
            ]
        else:
            crosstalk_note = [f"one channel is {gap:.0f} dB louder than the other: channels recognised apart"]
    else:
        crosstalk_note = []
    operator_path, customer_path = (pair.left, pair.right) if operator_channel == "left" else (pair.right, pair.left)
    notes = [f"speakers by channel: operator on the {operator_channel} channel, words merged by start time"]
    notes += crosstalk_note
    operator = customer = None
    empty_side = False  # a channel with sound on it (a silent one never gets here) but no recognised word
    try:
        operator = _recognise(recogniser, operator_path, batched=True, language=language, languages=languages)
    except NoSpeech:
        empty_side = True
        notes.append("nothing recognised on the operator's channel, which has sound on it")
    # The same language on both channels: detected once (on the operator's channel, which carries the greeting).
    spoken = language or (operator.language if operator else None)
    try:
        customer = _recognise(recogniser, customer_path, batched=True, language=spoken, languages=languages)
    except NoSpeech:
        if operator is None:
            raise
        empty_side = True
        notes.append("nothing recognised on the customer's channel, which has sound on it")
    words = merge_channel_words(operator.words if operator else (), customer.words if customer else ())
    main = operator or customer
    return _transcript(
        recogniser,
        main,
        words,
        duration_ms=max(r.duration_ms for r in (operator, customer) if r is not None),
        speaker_method="channels",
        notes=notes,
        unreliable=empty_side,
    )


def _downmix(pair, recogniser, languages, language, operator_channel, overlap_ms) -> Transcript:
    """One recognition of the two channels' downmix; each word to the channel louder over its span."""
    recognition = _recognise(recogniser, pair.mix, batched=True, language=language, languages=languages)
    words = attribute_by_energy(
        recognition.words, pair.left_energy, pair.right_energy, operator_channel=operator_channel
    )
    notes = [
        f"speakers by channel: operator on the {operator_channel} channel, each word of the downmix to the louder "
        f"channel over its span (crosstalk {overlap_ms / 1000:.1f} s)"
    ]
    return _transcript(
        recogniser, recognition, words, duration_ms=recognition.duration_ms, speaker_method="channels", notes=notes
    )


def _mono(audio, recogniser, languages, language, direction, operator_cues, notes=()) -> Transcript:
    recognition = _recognise(recogniser, audio, batched=MONO_BATCHED, language=language, languages=languages)
    notes = list(notes)
    if recogniser.provides_speakers and any(word.speaker for word in recognition.words):
        labelled: Sequence[Word] = recognition.words
        method = "engine"
        notes.append("speakers labelled by the engine")
    else:
        diarization = diarize_two_speakers(audio, recognition.words)
        labelled = label_words(recognition.words, diarization.labels)
        method = "diarization"
        notes.append("speakers by offline diarization (voice embeddings per pause-split segment, two clusters)")
        notes.extend(diarization.notes)
    operator_label, reason = identify_operator(labelled, direction=direction, operator_cues=operator_cues)
    notes.append(f"operator identified by {reason}")
    return _transcript(
        recogniser,
        recognition,
        assign_roles(labelled, operator_label),
        duration_ms=recognition.duration_ms,
        speaker_method=method,
        notes=notes,
    )


def _transcript(
    recogniser, recognition: Recognition, words, *, duration_ms, speaker_method, notes, unreliable: bool = False
) -> Transcript:
    """`unreliable`: the caller found the words incomplete (one side of a two-sided call has none): low confidence, so
    the call is not scored on half a conversation."""
    language = recognition.language or "und"
    low_confidence = unreliable
    if unreliable:
        notes.append("low confidence: one side of the call has talk time but no recognised words")
    if language == "uz" and recogniser.name.startswith("offline"):
        low_confidence = True
        notes.append("low confidence: the offline model does not read Uzbek reliably")
    scores = [word.confidence for word in words if word.confidence is not None]
    if scores and sum(scores) / len(scores) < LOW_WORD_CONFIDENCE:
        low_confidence = True
        notes.append(f"low confidence: mean word probability {sum(scores) / len(scores):.2f}")
    return Transcript(
        engine=recogniser.name,
        language=language,
        language_probability=recognition.language_probability,
        low_confidence=low_confidence,
        speaker_method=speaker_method,
        words=tuple(words),
        turns=words_to_turns(words),
        duration_ms=duration_ms,
        notes=tuple(notes),
    )
