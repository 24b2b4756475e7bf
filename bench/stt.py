"""Offline speech-to-text bench: the real engine (Whisper base, int8) on every committed test call, in the worker
layouts production can choose, side by side in one run.

    DJANGO_SETTINGS_MODULE=dialix.settings.test .venv/bin/python bench/stt.py [--processes N] [call-id-prefix ...]
    DJANGO_SETTINGS_MODULE=dialix.settings.test .venv/bin/python bench/stt.py --crosstalk   # the downmix threshold

The words depend on the CPU's kernel library: CTranslate2 runs Intel MKL on Intel CPUs and oneDNN elsewhere
(`CT2_USE_MKL=0` makes Intel run oneDNN too; the test settings set it). The bench prints which one ran.

Layouts (N = the machine's cores unless --processes says otherwise) are pools of worker processes that load the model
once; they get the same files in the same rounds and take turns within each round, so load from other work on the
machine falls on all of them alike:
- today: 1 process x N threads, every recognition unbatched, stereo channels recognised one after the other (the
  layout and pipeline before issue 11);
- 1xN: 1 process x N threads, the current pipeline (batched; a stereo call's downmix recognised once);
- Nx1: N processes x 1 thread, the current pipeline: the production layout (DIALIX_STT_CPU_THREADS=1, concurrency =
  cores).
For each layout: throughput (wall seconds per audio second over the whole set; three-minute calls per hour per 2
cores), accuracy and peak RSS per process. For the Nx1 layout, per call and per language and channel layout: WER
against the ground truth (numbers normalised the way fixtures/calls/README.md says), the share of words given to the
right speaker, operator roles on mono calls (also with greetings, service phrases, the company name and the direction
stripped), wall RTF (the call's wall time over its audio while the other processes work too) and CPU RTF (CPU seconds
of its process per thread over its audio). Goals are printed beside the figures; nothing fails on a slow machine.
Needs no database. Uzbek calls are read by Kyrgyz voices (no Uzbek voice exists offline): their WER says nothing about
real Uzbek speech.

The scoring helpers (`normalise_words`, `word_error_rate`, `attribution`, `strip_cues`) are also used by the tests.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import resource
import sys
import tempfile
import time
import wave
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CALLS_DIR = ROOT / "fixtures" / "calls"
LANGUAGES = ("uz", "ru", "en")  # the company's languages: detection runs among them (Uzbek never detected)
OPERATOR_CUES = ("Dialix Market",)  # the company's name, as the transcription service passes it
CALL_SECONDS = 180  # "a three-minute call" in the throughput goal
GOALS = {
    "wer_en": 0.06,
    "wer_ru": 0.12,
    "stereo_attr": 0.98,
    "mono_attr": 0.95,
    "rtf": 0.12,  # per-call wall RTF on stereo, production layout
    "calls_per_hour": 300,  # three-minute calls per hour per 2 cores
    "speedup": 2.5,  # production layout over today's, same run
    "rss_mb": 1024,  # peak per process
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


def strip_cues(words, operator_cues: Sequence[str] = OPERATOR_CUES) -> list:
    """`words` without the greetings, service phrases and the company's name (matched as the operator rule matches
    them): a call as hard as a call can be for telling the operator apart. Used with no direction."""
    from integrations.stt.speakers import GREETING_CUES, SERVICE_CUES, _mentions, _normalised

    said = [_normalised(word.text).strip() for word in words]
    dropped: set[int] = set()
    for phrase in (*SERVICE_CUES, *GREETING_CUES):
        size = len(phrase.split())
        for i in range(len(words) - size + 1):
            if " ".join(said[i : i + size]).split() == phrase.split():
                dropped.update(range(i, i + size))
    for cue in operator_cues:
        size = len(cue.split())
        for i in range(len(words) - size + 1):
            if _mentions(f" {' '.join(said[i : i + size])} ", cue):
                dropped.update(range(i, i + size))
    return [word for i, word in enumerate(words) if i not in dropped]


def roles_without_cues(words, roles_right: bool) -> bool:
    """Whether the operator rule still finds the operator once the cues are stripped and the direction is unknown:
    the transcript's roles become anonymous cluster labels again and the rule chooses between them."""
    from dataclasses import replace

    from integrations.stt.speakers import identify_operator

    clusters = [replace(word, speaker="A" if word.speaker == "operator" else "B") for word in words]
    chosen, _reason = identify_operator(strip_cues(clusters), direction=None)
    return (chosen == "A") == roles_right


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _goal(label: str, shown: str, ok: bool, goal: str) -> None:
    print(f"  {label:<44} {shown:>18}   goal {goal:<10} {'ok' if ok else 'MISSED'}")


# --- worker processes ----------------------------------------------------------------------------------------------

_recogniser = None
_threads = 1


def _worker_start(threads: int, current: bool, device: str) -> None:
    """Runs in each worker process: the engine of its layout, the model and the voice encoder loaded once."""
    global _recogniser, _threads
    sys.path.insert(0, str(ROOT))
    os.environ["DIALIX_STT_CPU_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    from integrations.stt import whisper_local
    from integrations.stt.speakers import get_voice_encoder

    options = {} if current else {"batch_size": 0, "stereo_downmix": False}
    if device != "cpu":
        whisper_local.DEVICE = device
    _recogniser = whisper_local.WhisperLocal(cpu_threads=threads, **options)
    _recogniser.model  # noqa: B018 - loads the model
    get_voice_encoder()
    _threads = threads


def _worker_run(job: tuple[str, str, bool]) -> dict:
    """Transcribes one file and scores it against its ground truth."""
    call_id, kind, current = job
    from integrations.stt import pipeline
    from integrations.stt.speakers import identify_operator

    index = {call["id"]: call for call in json.loads((CALLS_DIR / "index.json").read_text())["calls"]}
    call = index[call_id]
    truth = json.loads((CALLS_DIR / call["ground_truth"]).read_text())
    pipeline.MONO_BATCHED = current and pipeline.MONO_BATCHED
    wall, cpu = time.perf_counter(), time.process_time()
    transcript = pipeline.transcribe(
        CALLS_DIR / call["files"][kind],
        recogniser=_recogniser,
        languages=LANGUAGES,
        direction=truth["direction"],
        operator_channel=truth["operator_channel"],
        operator_cues=OPERATOR_CUES,
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    attr = attribution(transcript.words, truth["turns"])
    roles_right = attr > 0.5  # two labels: the other assignment would score 1 - attr
    mono = kind.startswith("mono")
    found = next((n.removeprefix("operator identified by ") for n in transcript.notes if "identified" in n), "")
    return {
        "call": call_id,
        "language": call["language"],
        "kind": kind,
        "audio_s": transcript.duration_ms / 1000,
        "wall_s": wall,
        "cpu_s": cpu,
        "threads": _threads,
        "wer": word_error_rate(truth["normalised_reference_text"], " ".join(w.text for w in transcript.words)),
        "attr": attr,
        "roles_right": roles_right,
        "roles_stripped": roles_without_cues(transcript.words, roles_right) if mono else None,
        "language_right": transcript.language == call["language"],
        "how": found if mono else _stereo_method(transcript.notes),
        "first_words_right": (transcript.words[0].speaker == "operator") == roles_right if mono else None,
        "rule_alone": identify_operator(transcript.words, direction=truth["direction"])[0] == "operator"
        if mono
        else None,
        "rss_mb": _rss_mb(),
        "pid": os.getpid(),
    }


def _stereo_method(notes: Sequence[str]) -> str:
    said = " ".join(notes)
    return "downmix" if "downmix" in said else "two passes (crosstalk)" if "crosstalk" in said else "two passes"


def _pools(processes: int, device: str):
    context = multiprocessing.get_context("spawn")
    specs = {"today": (1, processes, False), "1xN": (1, processes, True), "Nx1": (processes, 1, True)}
    if device != "cpu":
        specs = {"gpu": (1, 1, True)}
    return {
        name: (context.Pool(count, initializer=_worker_start, initargs=(threads, current, device)), current)
        for name, (count, threads, current) in specs.items()
    }


def run_layouts(jobs: list[tuple[str, str]], processes: int, rounds: int, device: str = "cpu"):
    """Every job through every layout, in `rounds` rounds; within a round the layouts take turns (rotated)."""
    started = time.perf_counter()
    pools = _pools(processes, device)
    for pool, current in pools.values():  # wait for every model to load before timing anything
        pool.map(_worker_run, [(jobs[0][0], jobs[0][1], current)] * len(pool._pool))  # noqa: SLF001
    print(f"worker pools ready in {time.perf_counter() - started:.0f} s (models loaded once per process)\n")
    results: dict[str, list[dict]] = {name: [] for name in pools}
    elapsed = dict.fromkeys(pools, 0.0)
    size = -(-len(jobs) // rounds)
    names = list(pools)
    for number in range(rounds):
        chunk = jobs[number * size : (number + 1) * size]
        order = names[number % len(names) :] + names[: number % len(names)]
        for name in order:
            pool, current = pools[name]
            began = time.perf_counter()
            results[name] += pool.map(_worker_run, [(call, kind, current) for call, kind in chunk], chunksize=1)
            elapsed[name] += time.perf_counter() - began
        print(f"round {number + 1}/{rounds} done ({len(chunk)} files), load average {os.getloadavg()[0]:.2f}")
    for pool, _current in pools.values():
        pool.close()
        pool.join()
    return results, elapsed


# --- crosstalk: where the downmix stops being enough ---------------------------------------------------------------


def _shifted(source: Path, shift_s: float, operator_channel: str, folder: Path) -> Path:
    """The stereo call with the customer's channel `shift_s` earlier: every reply overlaps the end of the operator's
    turn by about shift_s minus the pause between them."""
    import numpy as np

    from integrations.stt.speakers import iter_pcm

    audio = np.concatenate(list(iter_pcm(source, layout="stereo", rate=8000)), axis=1)
    customer = 1 if operator_channel == "left" else 0
    shift = int(shift_s * 8000)
    audio[customer] = np.concatenate([audio[customer][shift:], np.zeros(shift, dtype=np.float32)])
    path = folder / f"{source.stem}.shift{shift_s}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes((np.clip(audio.T, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def speaker_wer(words, turns: Sequence[dict]) -> float:
    """WER of each speaker's words (in time order) against that speaker's turns, weighted by reference length: what a
    reader of one side of the call sees. Unlike the call's WER it does not count two overlapping replies, interleaved
    by time, as errors; unlike attribution it counts the words lost under the other voice."""
    errors = total = 0.0
    for speaker in ("operator", "customer"):
        reference = " ".join(t["normalised_text"] for t in turns if t["speaker"] == speaker)
        size = len(normalise_words(reference))
        errors += word_error_rate(reference, " ".join(w.text for w in words if w.speaker == speaker)) * size
        total += size
    return errors / max(total, 1)


def _overlap_s(turns: Sequence[dict]) -> float:
    operator = [(t["start"], t["end"]) for t in turns if t["speaker"] == "operator"]
    customer = [(t["start"], t["end"]) for t in turns if t["speaker"] == "customer"]
    return sum(max(0.0, min(a[1], b[1]) - max(a[0], b[0])) for a in operator for b in customer)


def crosstalk_study(calls: Sequence[str], shifts: Sequence[float]) -> None:
    """Each stereo call with its replies moved earlier by `shifts` seconds: the crosstalk the pipeline measures, the
    true overlap, and the speaker-attributed WER and attribution of the downmix against two passes."""
    from integrations.stt import pipeline
    from integrations.stt.speakers import split_channels
    from integrations.stt.whisper_local import WhisperLocal

    downmix, two_pass = WhisperLocal(cpu_threads=1), WhisperLocal(cpu_threads=1, stereo_downmix=False)
    pipeline.CROSSTALK_MAX_MS = 10**9  # the downmix whatever the crosstalk, to see where it fails
    print(
        f"{'call':<22} {'shift':>5} {'true':>6} {'measured':>8} {'spkWER mix':>10} {'2 passes':>8} "
        f"{'attr mix':>8} {'2 passes':>8}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for call_id in calls:
            truth = json.loads((CALLS_DIR / f"{call_id}.json").read_text())
            for shift in shifts:
                path = _shifted(CALLS_DIR / f"{call_id}.stereo8k.mp3", shift, truth["operator_channel"], Path(folder))
                turns = [
                    {**t, "start": t["start"] - shift, "end": t["end"] - shift} if t["speaker"] == "customer" else t
                    for t in truth["turns"]
                ]
                with split_channels(path) as pair:
                    measured = pair.crosstalk_ms() / 1000
                row = []
                for engine in (downmix, two_pass):
                    transcript = pipeline.transcribe(
                        path, recogniser=engine, languages=LANGUAGES, operator_channel=truth["operator_channel"]
                    )
                    row += [speaker_wer(transcript.words, turns), attribution(transcript.words, turns)]
                print(
                    f"{call_id:<22} {shift:5.2f} {_overlap_s(turns):5.1f}s {measured:7.1f}s {row[0]:10.1%} "
                    f"{row[2]:8.1%} {row[1]:8.1%} {row[3]:8.1%}",
                    flush=True,
                )


# --- the report ----------------------------------------------------------------------------------------------------


def report(results: dict[str, list[dict]], elapsed: dict[str, float], processes: int) -> None:
    audio = {name: sum(r["audio_s"] for r in rows) for name, rows in results.items()}
    production = "Nx1" if "Nx1" in results else next(iter(results))
    rows = results[production]
    print(
        f"\nPer call, layout {production} ({processes} processes x 1 thread): wall RTF = the call's wall time / audio,"
    )
    print("cpuRTF = its process's CPU time / audio; mono 'operator found by' (roles right / right with cues stripped)")
    print(f"{'call':<26} {'file':<9} {'WER':>6} {'attr':>6} {'RTF':>6} {'cpuRTF':>6}  how")
    for r in sorted(rows, key=lambda r: (r["call"], r["kind"])):
        roles = ""
        if r["roles_stripped"] is not None:
            roles = (
                f" [roles {'ok' if r['roles_right'] else 'WRONG'}, stripped {'ok' if r['roles_stripped'] else 'WRONG'}]"
            )
        print(
            f"{r['call']:<26} {r['kind']:<9} {r['wer']:6.1%} {r['attr']:6.1%} {r['wall_s'] / r['audio_s']:6.3f} "
            f"{r['cpu_s'] / r['threads'] / r['audio_s']:6.3f}  {r['how']}{roles}"
        )

    print(f"\nPer language and channel layout, layout {production} (means over calls)")
    print(f"{'lang':<4} {'file':<9} {'calls':>5} {'WER':>6} {'attr':>6} {'roles':>6} {'stripped':>8}", end="")
    print(f" {'RTF':>6} {'cpuRTF':>6}")
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["language"], r["kind"])].append(r)
    for (language, kind), group in sorted(groups.items()):
        seconds = sum(r["audio_s"] for r in group)
        mono = kind.startswith("mono")
        roles = f"{sum(r['roles_right'] for r in group)}/{len(group)}" if mono else "chan"
        stripped = f"{sum(r['roles_stripped'] for r in group)}/{len(group)}" if mono else "chan"
        print(
            f"{language:<4} {kind:<9} {len(group):>5} {_mean([r['wer'] for r in group]):6.1%} "
            f"{_mean([r['attr'] for r in group]):6.1%} {roles:>6} {stripped:>8} "
            f"{sum(r['wall_s'] for r in group) / seconds:6.3f} "
            f"{sum(r['cpu_s'] / r['threads'] for r in group) / seconds:6.3f}"
        )

    print("\nLayouts, same files, same run (throughput = audio seconds done per wall second of the whole set)")
    print(
        f"{'layout':<8} {'processes x threads':>19} {'wall s/audio s':>14} {'calls/h/2 cores':>15} {'WER en':>7} "
        f"{'WER ru':>7} {'stereo attr':>11} {'mono attr':>9} {'peak RSS/proc':>13}"
    )
    shape = {"today": f"1 x {processes}", "1xN": f"1 x {processes}", "Nx1": f"{processes} x 1", "gpu": "1 x GPU"}
    per_hour = {}
    for name, layout_rows in results.items():
        ratio = elapsed[name] / audio[name]
        per_hour[name] = 3600 / (ratio * CALL_SECONDS) * 2 / processes
        english = [r["wer"] for r in layout_rows if r["language"] == "en" and r["kind"] != "stereo16k"]
        russian = [r["wer"] for r in layout_rows if r["language"] == "ru" and r["kind"] != "stereo16k"]
        stereo = [r["attr"] for r in layout_rows if r["language"] != "uz" and r["kind"].startswith("stereo")]
        mono = [r["attr"] for r in layout_rows if r["language"] != "uz" and r["kind"].startswith("mono")]
        rss = max(r["rss_mb"] for r in layout_rows)
        print(
            f"{name:<8} {shape[name]:>19} {ratio:14.4f} {per_hour[name]:15.0f} {_mean(english):7.1%} "
            f"{_mean(russian):7.1%} {_mean(stereo):11.1%} {_mean(mono):9.1%} {rss:11.0f} MB"
        )

    print("\nGoals (8 kHz en/ru calls for accuracy; Uzbek is above and not held to a goal)")
    scored = [r for r in rows if r["language"] in ("en", "ru") and r["kind"] in ("stereo8k", "mono8k")]
    for language in ("en", "ru"):
        for kind in ("stereo8k", "mono8k"):
            values = [r["wer"] for r in scored if r["language"] == language and r["kind"] == kind]
            goal = GOALS[f"wer_{language}"]
            _goal(f"WER {language} {kind}", f"{_mean(values):.1%}", _mean(values) <= goal, f"≤{goal:.0%}")
    stereo = [r["attr"] for r in scored if r["kind"] == "stereo8k"]
    _goal("stereo attribution (words)", f"{_mean(stereo):.1%}", _mean(stereo) >= GOALS["stereo_attr"], "≥98%")
    mono = [r for r in rows if r["kind"] == "mono8k"]
    mono_attr = [r["attr"] for r in mono if r["language"] in ("en", "ru")]
    _goal("mono attribution (words)", f"{_mean(mono_attr):.1%}", _mean(mono_attr) >= GOALS["mono_attr"], "≥95%")
    right = sum(r["roles_right"] for r in mono)
    _goal("mono roles right (calls, all languages)", f"{right}/{len(mono)}", right == len(mono), "every call")
    stripped = sum(r["roles_stripped"] for r in mono)
    _goal(
        "  the same, greeting/name/direction stripped", f"{stripped}/{len(mono)}", stripped == len(mono), "every call"
    )
    for kind in ("stereo8k", "stereo16k", "mono8k"):
        group = [r for r in rows if r["kind"] == kind]
        if group:
            worst = max(r["wall_s"] / r["audio_s"] for r in group)
            mean = sum(r["wall_s"] for r in group) / sum(r["audio_s"] for r in group)
            ok = kind.startswith("stereo") and worst <= GOALS["rtf"] or not kind.startswith("stereo")
            goal = f"≤{GOALS['rtf']}" if kind.startswith("stereo") else "(none)"
            _goal(f"per-call wall RTF {kind} (mean / worst)", f"{mean:.3f} / {worst:.3f}", ok, goal)
    if "today" in per_hour:
        _goal(
            f"throughput {production}, calls/h per 2 cores",
            f"{per_hour[production]:.0f}",
            per_hour[production] >= GOALS["calls_per_hour"],
            f"≥{GOALS['calls_per_hour']}",
        )
        speedup = per_hour[production] / per_hour["today"]
        _goal(
            f"  over today's layout ({per_hour['today']:.0f}/h)",
            f"{speedup:.2f}x",
            speedup >= GOALS["speedup"],
            "≥2.5x",
        )
        if "1xN" in per_hour:
            print(
                f"  {processes} processes x 1 thread over 1 process x {processes} threads, same pipeline: "
                f"{per_hour['Nx1'] / per_hour['1xN']:.2f}x"
            )
    rss = max(r["rss_mb"] for r in rows)
    _goal("peak RSS per process", f"{rss:.0f} MB", rss <= GOALS["rss_mb"], f"≤{GOALS['rss_mb']} MB")

    print("\nOperator cues on the mono calls (right / calls; all languages)")
    print(
        f"  the rule without the company's name: {sum(r['rule_alone'] == r['roles_right'] for r in mono)}/{len(mono)};"
        f" the first words alone: {sum(r['first_words_right'] for r in mono)}/{len(mono)}"
    )


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefixes", nargs="*", help="only the calls whose id starts with one of these")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2, help="N of the layouts (cores)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds the files are split into, layouts interleaved")
    parser.add_argument("--crosstalk", action="store_true", help="measure the downmix's crosstalk threshold")
    parser.add_argument("--device", default="cpu", help="cuda: the current pipeline on the GPU, float16 (one process)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dialix.settings.test")
    from integrations.stt import whisper_local
    from integrations.stt.speakers import stt_cpu_threads

    started = time.perf_counter()
    model_dir = whisper_local.configured_model_dir()  # joins the PyPI parts on the first run; reads the settings
    print(
        f"offline:{model_dir.name} from {model_dir}; DIALIX_STT_CPU_THREADS={stt_cpu_threads()} (the worker's "
        f"setting); model join {time.perf_counter() - started:.1f} s"
    )
    print(f"CPU kernels: {cpu_kernels()}; device {args.device}")
    print(f"load average at start: {os.getloadavg()[0]:.2f} (other work on the machine slows every layout alike)")
    if args.crosstalk:
        crosstalk_study(args.prefixes or ["en-01-sale", "ru-01-sale", "en-02-complaint"], [0.0, 1.1, 1.4, 1.8, 2.5])
        return
    index = json.loads((CALLS_DIR / "index.json").read_text())
    calls = [c for c in index["calls"] if not args.prefixes or any(c["id"].startswith(p) for p in args.prefixes)]
    jobs = [(call["id"], kind) for call in calls for kind in call["files"]]
    print(f"{len(calls)} calls, {len(jobs)} files; layouts with N = {args.processes}; {args.rounds} rounds\n")
    results, elapsed = run_layouts(jobs, args.processes, min(args.rounds, len(jobs)), args.device)
    report(results, elapsed, args.processes)


if __name__ == "__main__":
    main(sys.argv[1:])
