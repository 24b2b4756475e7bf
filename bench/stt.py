"""Offline speech-to-text bench: the real engine (Whisper base, int8, DIALIX_STT_CPU_THREADS threads, default 2) on
every committed test call.

    DJANGO_SETTINGS_MODULE=dialix.settings.test .venv/bin/python bench/stt.py [call-id-prefix ...]

The words depend on the CPU's kernel library: CTranslate2 runs Intel MKL on Intel CPUs and oneDNN elsewhere
(`CT2_USE_MKL=0` makes Intel run oneDNN too; the test settings set it). The bench prints which one ran.

For each language with test audio: WER against the ground truth (numbers normalised the way fixtures/calls/README.md
says) on the 8 kHz stereo calls (per channel, merged) and the 8 kHz mono calls, the share of words given to the right
speaker (stereo by channel, mono by diarization), calls whose operator was identified, real-time factor; then how often
each operator cue alone was right, model load time and peak RSS. Goals are printed beside the figures; nothing fails on
a slow machine. Needs no database. Uzbek calls are read by Kyrgyz voices (no Uzbek voice exists offline): their WER
says nothing about real Uzbek speech, only that the pipeline runs.

The scoring helpers (`normalise_words`, `word_error_rate`, `attribution`) are also used by the tests.
"""

from __future__ import annotations

import json
import os
import re
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CALLS_DIR = ROOT / "fixtures" / "calls"
THREADS = int(os.environ.get("DIALIX_STT_CPU_THREADS") or 2)  # as the worker reads it (settings), default 2
LANGUAGES = ("uz", "ru", "en")  # the company's languages: detection runs among them (Uzbek never detected)
OPERATOR_CUES = ("Dialix Market",)  # the company's name, as the transcription service passes it
GOALS = {
    "wer_en": 0.06,
    "wer_ru": 0.12,
    "stereo_attr": 0.98,
    "mono_attr": 0.95,
    "roles": 0.90,
    "rtf": 0.12,
    "rss_mb": 1024,
}

_DIGIT_SEPARATORS = re.compile(r"(?<=\d)[\s,.:\-]+(?=\d)")
_APOSTROPHES = re.compile(r"[’‘ʻʼ`]")


def _number_words() -> dict[str, int]:
    words: dict[str, int] = {}
    lists = {
        # en
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen": range(20),
        "twenty thirty forty fifty sixty seventy eighty ninety": range(20, 100, 10),
        # ru (the forms said when counting, dictating a number or a price)
        "ноль один два три четыре пять шесть семь восемь девять десять одиннадцать двенадцать тринадцать "
        "четырнадцать пятнадцать шестнадцать семнадцать восемнадцать девятнадцать": range(20),
        "двадцать тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто": range(20, 100, 10),
        "сто двести триста четыреста пятьсот шестьсот семьсот восемьсот девятьсот": range(100, 1000, 100),
        # uz
        "nol bir ikki uch to'rt besh olti yetti sakkiz to'qqiz": range(10),
        "o'n yigirma o'ttiz qirq ellik oltmish yetmish sakson to'qson": range(10, 100, 10),
    }
    for names, values in lists.items():
        words.update(zip(names.split(), values, strict=True))
    words.update({"одна": 1, "одну": 1, "две": 2, "oh": 0})
    return words


_NUMBERS = _number_words()
_MULTIPLIERS = {
    "hundred": 100,
    "thousand": 1000,
    "тысяча": 1000,
    "тысячи": 1000,
    "тысяч": 1000,
    "yuz": 100,
    "ming": 1000,
}


def _numbers_as_digits(tokens: list[str]) -> list[str]:
    """Spelled numbers as digits: "one hundred and twenty" -> "120", "двадцать пять" -> "25"; a run of single digits
    ("четыре пять семь один") stays a run of numbers, joined afterwards like Whisper's "4 5 7 1"."""
    out: list[str] = []
    thousands = current = None  # the number being read; None outside a number
    last = 0  # the last part read: "twenty five" is one number, "five five" two

    def flush() -> None:
        nonlocal thousands, current, last
        if current is not None or thousands is not None:
            out.append(str((thousands or 0) + (current or 0)))
        thousands = current = None
        last = 0

    for index, token in enumerate(tokens):
        value, multiplier = _NUMBERS.get(token), _MULTIPLIERS.get(token)
        reading = current is not None or thousands is not None
        if token == "and" and reading and index + 1 < len(tokens) and tokens[index + 1] in _NUMBERS:
            continue
        if multiplier and reading:
            if multiplier == 1000:
                thousands, current = (thousands or 0) + max(current or 0, 1) * 1000, None
            else:
                current = max(current or 0, 1) * multiplier
            last = multiplier
        elif value is not None:
            if reading and last >= 10 and value < last and len(str(value)) < len(str(last)):
                current = (current or 0) + value  # "twenty" + "five", "сто" + "двадцать"
            else:
                flush()
                current = value
            last = value
        else:
            flush()
            out.append(token)
    flush()
    return out


def normalise_words(text: str) -> list[str]:
    """Lower case, ё as е, one apostrophe, number words as digits, digit runs joined ("7 4", "1,200" -> "74", "1200"),
    punctuation dropped: the normalisation fixtures/calls/README.md asks for before scoring."""
    text = _APOSTROPHES.sub("'", text.lower().replace("ё", "е"))
    text = re.sub(r"\$(\d[\d,.]*)", r"\1 dollars", text)
    text = re.sub(r"[^\w\s']", " ", _DIGIT_SEPARATORS.sub("", text))
    tokens = _numbers_as_digits([token for token in (raw.strip("'") for raw in text.split()) if token])
    return _DIGIT_SEPARATORS.sub("", " ".join(tokens)).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
        previous = current
    return previous[-1] / max(len(ref), 1)


def true_speaker(turns: Sequence[dict], start_ms: int, end_ms: int) -> str:
    """The ground-truth speaker at a word's midpoint (the nearest turn when it falls in a pause)."""
    middle = (start_ms + end_ms) / 2000
    return min(
        turns,
        key=lambda t: 0 if t["start"] <= middle <= t["end"] else min(abs(t["start"] - middle), abs(t["end"] - middle)),
    )["speaker"]


def attribution(words, turns: Sequence[dict]) -> float:
    """Share of recognised words whose speaker is the ground truth's at that moment."""
    if not words:
        return 0.0
    return sum(word.speaker == true_speaker(turns, word.start_ms, word.end_ms) for word in words) / len(words)


@dataclass
class Tally:
    wer: list[float] = field(default_factory=list)
    attr: list[float] = field(default_factory=list)
    audio_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    calls: int = 0
    language_right: int = 0
    roles_right: int = 0
    low_confidence: int = 0

    def rtf(self) -> float:
        return self.wall_s / self.audio_s if self.audio_s else 0.0

    def cpu_rtf(self) -> float:
        """CPU seconds over THREADS: the wall-clock RTF to expect on an otherwise idle machine."""
        return self.cpu_s / THREADS / self.audio_s if self.audio_s else 0.0


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _goal(label: str, shown: str, ok: bool, goal: str) -> None:
    print(f"  {label:<34} {shown:>16}   goal {goal:<8} {'ok' if ok else 'MISSED'}")


_ISAS = (("avx512_vnni", "AVX-512 VNNI"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))


def cpu_kernels(env: dict[str, str] | None = None, cpuinfo: str | None = None) -> str:
    """Which kernel library CTranslate2 runs here, decided as CTranslate2 decides it: CT2_USE_MKL when set ("1" or
    "true" is MKL), else Intel MKL on an Intel CPU and oneDNN on any other; with the CPU's vendor and widest vector
    extension, which both libraries use unless capped (ONEDNN_MAX_CPU_ISA; the test settings cap oneDNN at AVX2).
    CTranslate2 logs the library with CT2_VERBOSE=1 ("Use Intel MKL"), oneDNN its ISA with ONEDNN_VERBOSE=1."""
    env = os.environ if env is None else env
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    intel = "GenuineIntel" in cpuinfo
    setting = env.get("CT2_USE_MKL") or ""
    mkl = setting.strip().lower() in ("1", "true") if setting else intel
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    isa = next((name for flag, name in _ISAS if flag in flags), "no AVX2")
    vendor = "Intel" if intel else "AMD" if "AuthenticAMD" in cpuinfo else "unknown"
    why = f"CT2_USE_MKL={setting}" if setting else "CT2_USE_MKL unset"
    cap = env.get("ONEDNN_MAX_CPU_ISA")
    if cap and not mkl:
        why += f", ONEDNN_MAX_CPU_ISA={cap}"
    return f"{'Intel MKL' if mkl else 'oneDNN'} ({vendor} CPU, {isa}; {why})"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(prefixes: Sequence[str]) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dialix.settings.test")
    os.environ.setdefault("DIALIX_STT_CPU_THREADS", str(THREADS))
    import torch

    torch.set_num_threads(THREADS)

    from integrations.stt import whisper_local
    from integrations.stt.pipeline import transcribe
    from integrations.stt.speakers import Vote, get_voice_encoder, operator_votes

    started = time.perf_counter()
    model_dir = whisper_local.configured_model_dir()  # joins the PyPI parts on the first run
    join_s = time.perf_counter() - started
    started = time.perf_counter()
    whisper_local.get_whisper_model(cpu_threads=THREADS)
    load_s = time.perf_counter() - started
    rss_model = _rss_mb()
    started = time.perf_counter()
    get_voice_encoder()
    encoder_s = time.perf_counter() - started
    recogniser = whisper_local.WhisperLocal(cpu_threads=THREADS)

    index = json.loads((CALLS_DIR / "index.json").read_text())
    calls = [c for c in index["calls"] if not prefixes or any(c["id"].startswith(p) for p in prefixes)]
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    cue_right: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # cue -> [right, had an opinion]
    print(f"{recogniser.name} from {model_dir}; {len(calls)} calls; company languages {LANGUAGES}; {THREADS} threads")
    print(f"CPU kernels: {cpu_kernels()}")
    print(
        f"load average at start: {os.getloadavg()[0]:.2f} (RTF is wall clock; cpuRTF = CPU s / {THREADS} / audio s)\n"
    )
    print(f"{'call':<26} {'file':<9} {'lang':<4} {'WER':>6} {'attr':>6} {'RTF':>5} {'cpuRTF':>6}  operator found by")
    for call in calls:
        truth = json.loads((CALLS_DIR / call["ground_truth"]).read_text())
        for kind, filename in call["files"].items():
            wall, cpu = time.perf_counter(), time.process_time()
            transcript = transcribe(
                CALLS_DIR / filename,
                recogniser=recogniser,
                languages=LANGUAGES,
                direction=truth["direction"],
                operator_channel=truth["operator_channel"],
                operator_cues=OPERATOR_CUES,
            )
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            audio_s = transcript.duration_ms / 1000
            wer = word_error_rate(truth["normalised_reference_text"], " ".join(w.text for w in transcript.words))
            attr = attribution(transcript.words, truth["turns"])
            roles_right = attr > 0.5  # two labels: the other assignment would score 1 - attr
            if kind == "mono8k":
                first = transcript.words[0].speaker
                votes = operator_votes(transcript.words, direction=truth["direction"], operator_cues=OPERATOR_CUES)
                for vote in [*votes, Vote("first_words", first, 0, "the first speaker alone")]:
                    cue_right[vote.cue][0] += (vote.label == "operator") == roles_right
                    cue_right[vote.cue][1] += 1
            tally = tallies[(call["language"], kind)]
            tally.wer.append(wer)
            tally.attr.append(attr)
            tally.audio_s += audio_s
            tally.wall_s += wall
            tally.cpu_s += cpu
            tally.calls += 1
            tally.language_right += transcript.language == call["language"]
            tally.roles_right += roles_right
            tally.low_confidence += transcript.low_confidence
            found = next((n.removeprefix("operator identified by ") for n in transcript.notes if "identified" in n), "")
            print(
                f"{call['id']:<26} {kind:<9} {transcript.language:<4} {wer:6.1%} {attr:6.1%} {wall / audio_s:5.3f} "
                f"{cpu / THREADS / audio_s:6.3f}  {found if kind == 'mono8k' else 'channel'}",
                flush=True,
            )

    print(f"\nPer language and file (means over calls); load average at end: {os.getloadavg()[0]:.2f}")
    print(
        f"{'lang':<4} {'file':<9} {'calls':>5} {'WER':>6} {'attr':>6} {'roles ok':>8} {'lang ok':>7} {'low conf':>8}"
        f" {'RTF':>5} {'cpuRTF':>6}"
    )
    for (language, kind), t in sorted(tallies.items()):
        roles = f"{t.roles_right}/{t.calls}" if kind == "mono8k" else "channel"
        print(
            f"{language:<4} {kind:<9} {t.calls:>5} {_mean(t.wer):6.1%} {_mean(t.attr):6.1%} {roles:>8} "
            f"{t.language_right:>5}/{t.calls} {t.low_confidence:>6}/{t.calls} {t.rtf():5.3f} {t.cpu_rtf():6.3f}"
        )

    def pick(languages, kinds) -> list[Tally]:
        return [t for (language, kind), t in tallies.items() if language in languages and kind in kinds]

    print("\nGoals (8 kHz en/ru calls; Uzbek is above, read by Kyrgyz voices, and not held to a goal)")
    for language in ("en", "ru"):
        for kind in ("stereo8k", "mono8k"):
            values = [w for t in pick([language], [kind]) for w in t.wer]
            if values:
                goal = GOALS[f"wer_{language}"]
                _goal(f"WER {language} {kind}", f"{_mean(values):.1%}", _mean(values) <= goal, f"≤{goal:.0%}")
    stereo = [a for t in pick(["en", "ru"], ["stereo8k"]) for a in t.attr]
    if stereo:
        _goal("stereo attribution (words)", f"{_mean(stereo):.1%}", _mean(stereo) >= GOALS["stereo_attr"], "≥98%")
    mono = pick(["en", "ru"], ["mono8k"])
    if mono:
        attr = [a for t in mono for a in t.attr]
        _goal("mono attribution (words)", f"{_mean(attr):.1%}", _mean(attr) >= GOALS["mono_attr"], "≥95%")
        right, total = sum(t.roles_right for t in mono), sum(t.calls for t in mono)
        _goal("mono roles right (calls)", f"{right}/{total}", right / total >= GOALS["roles"], "≥90%")
    for kind in ("stereo8k", "mono8k"):
        group = pick(["en", "ru", "uz"], [kind])
        if group:
            wall = sum(t.wall_s for t in group) / sum(t.audio_s for t in group)
            cpu = sum(t.cpu_s for t in group) / THREADS / sum(t.audio_s for t in group)
            _goal(f"RTF {kind} (wall / cpu-based)", f"{wall:.3f} / {cpu:.3f}", cpu <= GOALS["rtf"], f"≤{GOALS['rtf']}")
    rss = _rss_mb()
    _goal("peak RSS", f"{rss:.0f} MB", rss <= GOALS["rss_mb"], f"≤{GOALS['rss_mb']} MB")
    print(f"  model join {join_s:.1f} s (0 once cached); Whisper load {load_s:.2f} s (RSS then {rss_model:.0f} MB);")
    print(f"  voice encoder load {encoder_s:.2f} s (imports torch, librosa, Resemblyzer)")
    print("\nOperator cues on the mono calls, each alone (right / calls where it had an opinion; all languages)")
    for cue, (right, voted) in sorted(cue_right.items()):
        print(f"  {cue:<18} {right}/{voted}")


if __name__ == "__main__":
    main(sys.argv[1:])
