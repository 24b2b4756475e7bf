#!/usr/bin/env python3
"""Generate the synthetic call-centre calls in fixtures/calls/ and the broken files in fixtures/audio-edge/.

The generated files are committed, so tests and benches need none of the tools below; run this only to change or
regenerate the fixtures. Output is byte-for-byte repeatable with the same tool versions (sox -R, ffmpeg bitexact,
gaps from a PRNG seeded by the call id).

Debian 12 packages (rhvoice* live in the non-free component, which the default image does not enable):

    cat > /etc/apt/sources.list.d/debian-nonfree.sources <<'EOF'
    Types: deb
    URIs: http://deb.debian.org/debian
    Suites: bookworm bookworm-updates
    Components: contrib non-free
    Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
    EOF
    apt-get update
    apt-get install -y rhvoice rhvoice-english rhvoice-russian rhvoice-kyrgyz sox ffmpeg

Usage (stdlib only, any Python 3.11):

    python scripts/make_test_calls.py                 # everything, into fixtures/
    python scripts/make_test_calls.py --only en-01-sale

Voices: only LGPL-2.1+ RHVoice voices are used (see fixtures/calls/README.md); several Russian and English voices in
the same packages are CC-BY-NC-ND and must not end up in committed fixtures. No offline Uzbek voice exists: Uzbek
turns are transliterated to Cyrillic and read by the Kyrgyz voices, which is good enough for pipeline tests only.
"""

from __future__ import annotations

import argparse
import array
import hashlib
import json
import math
import random
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS_FILE = Path(__file__).resolve().parent / "test_calls.json"

MASTER_RATE = 16000  # Whisper's input rate; the 8 kHz versions are derived from this master
LEAD_IN_SECONDS = 0.4
TAIL_SECONDS = 0.5
GAP_SECONDS = (0.3, 0.8)
TRIM_THRESHOLD = 330  # ~-40 dBFS: RHVoice pads each utterance with near-silence that would skew turn times
TRIM_MARGIN_SECONDS = 0.03
PEAK_TARGET = 0.7  # per speaker, so both channels have similar loudness whatever the voice's own level

# A PBX typically stores 8 kHz MP3 at 16-32 kbps. Mono at 16 kbps doubled Whisper base's Russian WER (6% -> 13% on
# ru-01) against 24 kbps. No joint stereo: L/R coding keeps the idle channel silent for channel-split transcription.
STEREO_MP3_BITRATE = "24k"
MONO_MP3_BITRATE = "24k"
OPUS_BITRATE = "24k"

# Licences from /usr/share/doc/rhvoice-*/copyright (Debian 1.8.0+dfsg-3); anything not LGPL stays out of fixtures.
VOICE_LICENCES = {
    "slt": ("English", "female", "LGPL-2.1+"),
    "clb": ("English", "female", "LGPL-2.1+"),
    "alan": ("English", "male", "LGPL-2.1+"),
    "bdl": ("English", "male", "LGPL-2.1+"),
    "irina": ("Russian", "female", "LGPL-2.1+"),
    "anna": ("Russian", "female", "LGPL-2.1+"),
    "elena": ("Russian", "female", "LGPL-2.1+"),
    "aleksandr": ("Russian", "male", "LGPL-2.1+"),
    "nazgul": ("Kyrgyz", "female", "LGPL-2.1+"),
    "azamat": ("Kyrgyz", "male", "LGPL-2.1+"),
}

TOOLS = ("RHVoice-test", "sox", "ffmpeg")
FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
# bitexact: no encoder version string and a fixed Ogg serial number, so reruns give identical bytes
FFMPEG_OUT = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]


@dataclass(frozen=True, slots=True)
class PlacedTurn:
    speaker: str
    text: str
    normalised_text: str
    start_sample: int
    samples: array.array


# --- Uzbek: Latin -> Cyrillic that the Kyrgyz voices can read -------------------------------------------------------

_UZ_APOSTROPHES = str.maketrans({"‘": "'", "’": "'", "ʻ": "'", "ʼ": "'", "`": "'"})
_UZ_DIGRAPHS = {"o'": "ө", "g'": "г", "sh": "ш", "ch": "ч", "yo": "ё", "yu": "ю", "ya": "я", "ye": "е"}
# q -> к, h/x -> х: Kyrgyz has no қ/ҳ; j -> ж: Kyrgyz ж is the same [dʒ] as Uzbek j
_UZ_LETTERS = dict(zip("abdefghijklmnopqrstuvxyz", "абдефгхижклмнопкрстувхйз", strict=True))
_UZ_VOWELS = set("aeiouөёюяе")
_UZ_WORDS = {"dialix": "диаликс"}


def uzbek_to_kyrgyz_cyrillic(text: str) -> str:
    source = text.translate(_UZ_APOSTROPHES).lower()
    for latin, cyrillic in _UZ_WORDS.items():
        source = source.replace(latin, cyrillic)
    out: list[str] = []
    i = 0
    while i < len(source):
        pair = source[i : i + 2]
        at_word_start = i == 0 or not source[i - 1].isalpha()
        if pair in _UZ_DIGRAPHS:
            out.append(_UZ_DIGRAPHS[pair])
            i += 2
        elif pair == "ng" and (i + 2 >= len(source) or source[i + 2] not in _UZ_VOWELS | {"'"}):
            out.append("ң")  # [ŋ]; n + g before a vowel (qilgan-ingiz) or g' (qo'ng'iroq)
            i += 2
        elif source[i] == "'":
            i += 1  # tutuq belgisi (glottal stop) has no letter of its own
        elif source[i] == "e" and at_word_start:
            out.append("э")
            i += 1
        else:
            out.append(_UZ_LETTERS.get(source[i], source[i]))
            i += 1
    return "".join(out)


# --- audio helpers (stdlib only: the generator must not need numpy) -----------------------------------------------


def run(args: list[str], *, stdin: bytes | None = None) -> None:
    subprocess.run(args, input=stdin, check=True, capture_output=True)


def read_wav_mono16(path: Path) -> array.array:
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1 and wav.getframerate() == MASTER_RATE
        samples = array.array("h", wav.readframes(wav.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def write_wav(path: Path, channels: list[array.array], rate: int) -> None:
    if len(channels) == 1:
        interleaved = array.array("h", channels[0])
    else:
        interleaved = array.array("h", bytes(2 * len(channels[0]) * len(channels)))
        for index, channel in enumerate(channels):
            interleaved[index :: len(channels)] = channel
    if sys.byteorder == "big":
        interleaved.byteswap()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(len(channels))
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(interleaved.tobytes())


def synthesize(text: str, voice: str, workdir: Path, name: str) -> array.array:
    raw = workdir / f"{name}.raw.wav"
    resampled = workdir / f"{name}.wav"
    run(["RHVoice-test", "-p", voice, "-o", str(raw)], stdin=text.encode("utf-8"))
    # RHVoice writes 24 kHz; -R (fixed seed) and -D (no dither) keep the resampled bytes repeatable
    run(["sox", "-R", "-D", str(raw), "-b", "16", "-c", "1", str(resampled), "rate", "-h", str(MASTER_RATE)])
    return trim_silence(read_wav_mono16(resampled))


def trim_silence(samples: array.array) -> array.array:
    loud = [i for i, value in enumerate(samples) if abs(value) > TRIM_THRESHOLD]
    if not loud:
        raise RuntimeError("synthesized turn is silent")
    margin = int(TRIM_MARGIN_SECONDS * MASTER_RATE)
    return samples[max(0, loud[0] - margin) : min(len(samples), loud[-1] + margin + 1)]


def scaled(samples: array.array, gain: float) -> array.array:
    return array.array("h", (max(-32768, min(32767, round(value * gain))) for value in samples))


def telephone_band(source: Path, target: Path, workdir: Path) -> None:
    """300-3400 Hz band-pass, 8 kHz, G.711 mu-law and back: what a PSTN/SIP leg does to the voice."""
    mulaw = workdir / f"{target.stem}.ulaw.wav"
    run(
        ["sox", "-R", "-D", str(source), "-e", "u-law", "-b", "8", str(mulaw), "sinc", "300-3400", "rate", "-h", "8000"]
    )
    run(["sox", "-R", "-D", str(mulaw), "-e", "signed", "-b", "16", str(target)])


def encode(source: Path, target: Path, *codec_args: str) -> None:
    run([*FFMPEG, "-i", str(source), *codec_args, *FFMPEG_OUT, str(target)])


def mp3_args(bitrate: str) -> list[str]:
    return ["-c:a", "libmp3lame", "-b:a", bitrate, "-joint_stereo", "0"]


# --- calls ---------------------------------------------------------------------------------------------------------


def tts_text(call: dict, text: str) -> str:
    return uzbek_to_kyrgyz_cyrillic(text) if call["language"] == "uz" else text


def place_turns(call: dict, workdir: Path) -> tuple[list[PlacedTurn], int]:
    rng = random.Random(call["id"])  # str seeds hash with sha512: the same gaps on every run and machine
    voices = call["voices"]
    synthesized = [
        synthesize(tts_text(call, turn["text"]), voices[turn["speaker"]], workdir, f"{call['id']}-{index:02d}")
        for index, turn in enumerate(call["turns"])
    ]
    gains: dict[str, float] = {}
    for speaker in ("operator", "customer"):
        peak = max(
            max(abs(v) for v in s) for t, s in zip(call["turns"], synthesized, strict=True) if t["speaker"] == speaker
        )
        gains[speaker] = PEAK_TARGET * 32767 / peak
    placed: list[PlacedTurn] = []
    cursor = round(LEAD_IN_SECONDS * MASTER_RATE)
    for index, (turn, samples) in enumerate(zip(call["turns"], synthesized, strict=True)):
        if index:
            cursor += round(round(rng.uniform(*GAP_SECONDS), 2) * MASTER_RATE)
        placed.append(
            PlacedTurn(
                speaker=turn["speaker"],
                text=turn["text"],
                normalised_text=turn.get("normalised_text", turn["text"]),
                start_sample=cursor,
                samples=scaled(samples, gains[turn["speaker"]]),
            )
        )
        cursor += len(samples)
    return placed, cursor + round(TAIL_SECONDS * MASTER_RATE)


def mix(placed: list[PlacedTurn], total_samples: int) -> tuple[array.array, array.array, array.array]:
    silence = bytes(2 * total_samples)
    left, right, mono = array.array("h", silence), array.array("h", silence), array.array("h", silence)
    for turn in placed:
        end = turn.start_sample + len(turn.samples)
        channel = left if turn.speaker == "operator" else right
        channel[turn.start_sample : end] = turn.samples
        mono[turn.start_sample : end] = turn.samples  # turns never overlap, so the mix is a plain copy
    return left, right, mono


def ground_truth(call: dict, placed: list[PlacedTurn], total_samples: int) -> dict:
    turns = [
        {
            "speaker": turn.speaker,
            "start": round(turn.start_sample / MASTER_RATE, 3),
            "end": round((turn.start_sample + len(turn.samples)) / MASTER_RATE, 3),
            "text": turn.text,
            "normalised_text": turn.normalised_text,
        }
        for turn in placed
    ]
    return {
        "id": call["id"],
        "language": call["language"],
        "accuracy_meaningful": call["language"] != "uz",
        "voices": call["voices"],
        "operator_channel": "left",
        "direction": call["direction"],
        "turns": turns,
        "reference_text": " ".join(turn["text"] for turn in turns),
        "normalised_reference_text": " ".join(turn["normalised_text"] for turn in turns),
        "duration_seconds": round(total_samples / MASTER_RATE, 3),
        "labels": call["labels"],
    }


def make_call(call: dict, out_dir: Path, workdir: Path) -> dict:
    placed, total_samples = place_turns(call, workdir)
    left, right, mono = mix(placed, total_samples)
    stereo16k, mono16k = workdir / f"{call['id']}.stereo16k.wav", workdir / f"{call['id']}.mono16k.wav"
    write_wav(stereo16k, [left, right], MASTER_RATE)
    write_wav(mono16k, [mono], MASTER_RATE)
    stereo8k, mono8k = workdir / f"{call['id']}.stereo8k.wav", workdir / f"{call['id']}.mono8k.wav"
    telephone_band(stereo16k, stereo8k, workdir)
    telephone_band(mono16k, mono8k, workdir)

    files = {"stereo8k": f"{call['id']}.stereo8k.mp3", "mono8k": f"{call['id']}.mono8k.mp3"}
    encode(stereo8k, out_dir / files["stereo8k"], *mp3_args(STEREO_MP3_BITRATE))
    encode(mono8k, out_dir / files["mono8k"], *mp3_args(MONO_MP3_BITRATE))
    if call["stereo16k"]:
        files["stereo16k"] = f"{call['id']}.stereo16k.ogg"
        encode(stereo16k, out_dir / files["stereo16k"], "-c:a", "libopus", "-b:a", OPUS_BITRATE, "-application", "voip")

    truth = ground_truth(call, placed, total_samples)
    (out_dir / f"{call['id']}.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return {
        "id": call["id"],
        "language": call["language"],
        "accuracy_meaningful": truth["accuracy_meaningful"],
        "direction": call["direction"],
        "duration_seconds": truth["duration_seconds"],
        "turn_count": len(truth["turns"]),
        "voices": call["voices"],
        "outcome": call["labels"]["outcome"],
        "ground_truth": f"{call['id']}.json",
        "files": files,
    }


# --- edge cases ----------------------------------------------------------------------------------------------------

NOT_AUDIO = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>502 Bad Gateway</h1><p>The recording server did not answer. Request id 7f3a9c.</p>"
    b"<hr><address>nginx</address></body></html>\n"
)


def make_edge_files(edge_dir: Path, real_mp3: Path, workdir: Path) -> None:
    (edge_dir / "not-audio.mp3").write_bytes(NOT_AUDIO)  # what a PBX serves when its storage is down
    (edge_dir / "truncated.mp3").write_bytes(real_mp3.read_bytes()[:300])  # a download cut off after the headers

    silence_wav = workdir / "silence.wav"
    write_wav(silence_wav, [array.array("h", bytes(2 * 8000 * 20))], 8000)
    encode(silence_wav, edge_dir / "silence.mp3", *mp3_args("16k"))

    write_wav(edge_dir / "empty.wav", [array.array("h")], 8000)
    tone = array.array("h", (round(0.5 * 32767 * math.sin(2 * math.pi * 1000 * n / 8000)) for n in range(8000 * 3)))
    write_wav(edge_dir / "tone.wav", [tone], 8000)


# --- entry point ---------------------------------------------------------------------------------------------------


def debian_versions() -> dict[str, str]:
    packages = ["rhvoice", "rhvoice-english", "rhvoice-russian", "rhvoice-kyrgyz", "sox", "ffmpeg"]
    query = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${Version}\n", *packages], capture_output=True, text=True, check=False
    )
    return dict(line.split(" ", 1) for line in query.stdout.strip().splitlines())


def write_readme(calls_dir: Path, entries: list[dict], edge_dir: Path) -> None:
    def size(path: Path) -> str:
        return f"{path.stat().st_size / 1024:.1f} KiB"

    voices = sorted({voice for entry in entries for voice in entry["voices"].values()})
    lines = [
        "# Synthetic test calls",
        "",
        "Generated by `scripts/make_test_calls.py` from `scripts/test_calls.json`; do not edit by hand.",
        "Each turn is synthesized with RHVoice (Debian non-free), trimmed of the voice's own leading/trailing silence",
        "(turn times below are measured from the synthesized audio), peak-normalised per speaker and laid out with",
        "0.3-0.8 s gaps (PRNG seeded by the call id). From a 16 kHz master:",
        "",
        "- `<id>.stereo8k.mp3`: telephone band (300-3400 Hz, G.711 mu-law round trip, 8 kHz), operator LEFT, customer",
        f"  RIGHT (the other channel silent during a turn), MP3 {STEREO_MP3_BITRATE}bps without joint stereo;",
        f"- `<id>.mono8k.mp3`: both speakers mixed, telephone band, 8 kHz mono MP3 {MONO_MP3_BITRATE}bps;",
        f"- `<id>.stereo16k.ogg` (some calls): 16 kHz Ogg/Opus {OPUS_BITRATE}bps stereo, not band-limited;",
        "- `<id>.json`: ground truth: turns with start/end seconds, `text` as spoken and `normalised_text` with",
        "  numbers as digits, the way Whisper writes them (compare digit runs with separators removed), and the",
        "  checklist labels (the operator's behaviour and the call's outcome).",
        "",
        "Uzbek calls (`accuracy_meaningful: false`): no offline Uzbek voice exists, so the Uzbek Latin text is",
        "transliterated to Cyrillic and read by the Kyrgyz voices. Use them to test the pipeline (forced language,",
        "storage, metrics), never to measure recognition accuracy.",
        "",
        "## Voices",
        "",
        "| voice | language | gender | licence |",
        "|---|---|---|---|",
        *(f"| {v} | {VOICE_LICENCES[v][0]} | {VOICE_LICENCES[v][1]} | {VOICE_LICENCES[v][2]} |" for v in voices),
        "",
        "Licences from `/usr/share/doc/rhvoice-*/copyright`. Other voices in the same packages (Russian arina,",
        "artemiy, evgeniy-rus, mikhail, pavel, tatiana, victoria, vitaliy, yuriy; English evgeniy-eng, lyubov) are",
        "CC-BY-NC-ND-4.0, and aleksandr-hq is CC-BY-SA-4.0: keep them out of committed fixtures.",
        "",
        "## Calls",
        "",
        "| id | lang | direction | outcome | voices (op / cust) | turns | seconds | files (size) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in entries:
        files = ", ".join(f"`{name}` ({size(calls_dir / name)})" for name in entry["files"].values())
        lines.append(
            f"| {entry['id']} | {entry['language']} | {entry['direction']} | {entry['outcome']} | "
            f"{entry['voices']['operator']} / {entry['voices']['customer']} | {entry['turn_count']} | "
            f"{entry['duration_seconds']:.1f} | {files} |"
        )
    total = sum(path.stat().st_size for path in calls_dir.iterdir() if path.name != "README.md")
    edge = ", ".join(f"`{path.name}` ({size(path)})" for path in sorted(edge_dir.iterdir()))
    lines += [
        "",
        f"Total in this folder, README aside: {total / 1024:.0f} KiB.",
        "",
        "## Edge cases (`../audio-edge/`)",
        "",
        f"{edge}. `not-audio.mp3` is an HTML error page with an .mp3 name; `truncated.mp3` is the first 300 bytes of",
        "`en-01-sale.mono8k.mp3`; `silence.mp3` is 20 s of digital silence (8 kHz mono MP3); `empty.wav` is a WAV",
        "header with zero samples; `tone.wav` is a 1 kHz tone for 3 s (8 kHz, 16-bit). The last two and `silence.mp3`",
        "are valid audio with no speech.",
        "",
    ]
    (calls_dir / "README.md").write_text("\n".join(lines), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "fixtures", help="fixtures folder (default: %(default)s)")
    parser.add_argument("--only", nargs="*", default=None, help="call ids to regenerate (default: all)")
    args = parser.parse_args()

    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        parser.error(f"missing tools: {', '.join(missing)} (see the install steps at the top of this script)")

    calls = json.loads(SCRIPTS_FILE.read_text(encoding="utf-8"))["calls"]
    for call in calls:
        unknown = set(call["voices"].values()) - VOICE_LICENCES.keys()
        if unknown:
            parser.error(f"{call['id']}: voice(s) {sorted(unknown)} have no recorded licence; check it first")
    calls_dir, edge_dir = args.out / "calls", args.out / "audio-edge"
    calls_dir.mkdir(parents=True, exist_ok=True)
    edge_dir.mkdir(parents=True, exist_ok=True)

    previous: dict[str, dict] = {}
    if args.only and (calls_dir / "index.json").exists():
        previous = {e["id"]: e for e in json.loads((calls_dir / "index.json").read_text(encoding="utf-8"))["calls"]}
    entries: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="dialix-calls-") as tmp:
        workdir = Path(tmp)
        for call in calls:
            if args.only and call["id"] not in args.only:
                entries.append(previous[call["id"]])
                continue
            entries.append(make_call(call, calls_dir, workdir))
            print(f"{call['id']}: {entries[-1]['duration_seconds']:.1f} s", file=sys.stderr)
        make_edge_files(edge_dir, calls_dir / "en-01-sale.mono8k.mp3", workdir)

    index = {
        "generated_by": "scripts/make_test_calls.py",
        "debian_packages": debian_versions(),  # same versions, same bytes
        "calls": entries,
    }
    (calls_dir / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_readme(calls_dir, entries, edge_dir)
    digest = hashlib.sha256()
    for path in sorted(args.out.rglob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    print(f"fixtures sha256: {digest.hexdigest()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
