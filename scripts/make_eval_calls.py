#!/usr/bin/env python3
"""Generate the evaluation calls in fixtures/eval/: dialogues composed from scenario descriptions, with ground truth.

Unlike scripts/make_test_calls.py (twelve hand-written scripts the offline rules were tuned on), every call here is
composed by this script from a scenario (kind of call, direction, domain, which steps the operator does or skips)
and the phrase banks in scripts/eval_call_banks.py, each step's wording drawn by a PRNG seeded by the call id. The
expected answers for the evaluation checklist (EVAL_ITEMS), the outcome, the customer's sentiment and the expected
score follow from the scenario, not from reading the text.

    python scripts/make_eval_calls.py              # text + ground truth only (stdlib)
    python scripts/make_eval_calls.py --audio      # also voice each call (needs RHVoice, sox, ffmpeg)

Voices (LGPL-2.1+ only, see fixtures/eval/README.md): the two LGPL voices no tuning fixture uses, English `bdl` and
Russian `elena`, each paired with a tuning voice in a role it never has there (`alan` and `aleksandr` as operators,
`clb` as a male operator's customer), tempo changed per call. Audio: 8 kHz telephone band, Ogg/Opus, mono 12 kbps or
stereo 16 kbps (operator left), 25-100 KB per call. Repeatable: sox -R, ffmpeg bitexact, seeded PRNG.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_call_banks import DOMAINS, GENERIC, NAMES  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "eval"

# The evaluation checklist: key -> (criterion per language, weight, critical, allow_na). Written as a supervisor
# would write it, with needs-based items and a conditional one.
EVAL_ITEMS = {
    "greet_company": ({"en": "Greets the customer and names the company",
                       "ru": "Приветствует клиента и называет компанию"}, 1, False, False),
    "introduces": ({"en": "Introduces themselves by name", "ru": "Представляется по имени"}, 1, False, False),
    "needs": ({"en": "Finds out what the customer needs", "ru": "Выясняет потребность клиента"}, 2, False, True),
    "solution": ({"en": "Offers a solution or a suitable product",
                  "ru": "Предлагает решение или подходящий продукт"}, 2, False, True),
    "apology": ({"en": "Apologises if the customer complains", "ru": "Извиняется, если клиент жалуется"},
                1, False, True),
    "next_step": ({"en": "Agrees on a clear next step with the customer",
                   "ru": "Договаривается с клиентом о следующем шаге"}, 2, False, True),
    "polite": ({"en": "Stays polite and respectful throughout", "ru": "Вежлив и корректен на протяжении всего звонка"},
               2, True, False),
    "farewell": ({"en": "Says goodbye at the end of the call", "ru": "Прощается в конце разговора"}, 1, False, False),
}  # fmt: skip

# Scenario: (kind, direction, domain, channels, skip, extra). skip: steps the operator leaves out. Each language gets
# the same 22 scenario shapes with its own wording; ids are <lang>-<nn>-<kind>.
SCENARIOS = [
    ("sale", "inbound", "telecom", "stereo", set(), {}),
    ("sale", "inbound", "furniture", "mono", {"intro"}, {}),
    ("sale", "outbound", "bank", "stereo", set(), {}),
    ("sale", "inbound", "travel", "mono", {"needs", "farewell"}, {}),
    ("refusal", "outbound", "telecom", "mono", set(), {}),
    ("refusal", "outbound", "furniture", "stereo", {"company"}, {"firm": True}),
    ("refusal", "inbound", "bank", "mono", {"needs"}, {}),
    ("complaint_resolved", "inbound", "telecom", "mono", set(), {"warm": True}),
    ("complaint_resolved", "inbound", "furniture", "stereo", {"apology"}, {}),
    ("complaint_resolved", "inbound", "bank", "mono", {"intro"}, {"warm": True}),
    ("complaint_unresolved", "inbound", "travel", "stereo", set(), {}),
    ("complaint_unresolved", "inbound", "furniture", "mono", {"apology", "farewell"}, {}),
    ("complaint_unresolved", "inbound", "bank", "stereo", {"needs"}, {}),
    ("callback", "outbound", "travel", "mono", set(), {"busy": True}),
    ("callback", "inbound", "furniture", "stereo", set(), {}),
    ("callback", "outbound", "bank", "stereo", {"intro"}, {}),
    ("wrong_number", "inbound", "telecom", "mono", set(), {}),
    ("wrong_number", "outbound", "travel", "stereo", set(), {}),
    ("rude", "inbound", "telecom", "stereo", {"apology", "farewell", "intro"}, {}),
    ("rude", "inbound", "travel", "mono", {"intro", "needs"}, {"question": True}),
    ("information", "inbound", "furniture", "stereo", set(), {}),
    ("information", "inbound", "bank", "mono", {"farewell", "intro"}, {}),
]

# Voices per language: (operator, customer) pairs, alternated by scenario number. bdl and elena are used nowhere else.
VOICES = {"en": [("bdl", "clb"), ("alan", "bdl")], "ru": [("elena", "aleksandr"), ("aleksandr", "elena")]}
TEMPI = (0.94, 1.0, 1.06)


def compose(language: str, number: int, scenario: tuple) -> dict:
    kind, direction, domain, channels, skip, extra = scenario
    call_id = f"{language}-{number:02d}-{kind.replace('_', '-')}"
    rng = random.Random(call_id)
    g, d = GENERIC[language], DOMAINS[domain][language]
    company_name, company_spoken = d["company"]
    op, cust = rng.choice(NAMES[language]["op"]), rng.choice(NAMES[language]["cust"])

    def pick(options: list[str]) -> str:
        return rng.choice(options).format(company=company_spoken, op=op, cust=cust)

    turns: list[tuple[str, str]] = []
    said: set[str] = set()  # steps the operator really did, for the expected answers

    def operator(text: str, *steps: str) -> None:
        turns.append(("operator", text))
        said.update(steps)

    def customer(text: str) -> None:
        turns.append(("customer", text))

    rude = kind == "rude"
    complaint = kind.startswith("complaint") or rude  # a rude answer to a question is complained about too
    # --- opening
    if direction == "inbound":
        if rude:
            operator(pick(g["open_rude"]))
        elif "intro" in skip and "company" in skip:
            operator(pick(g["open_plain"]), "greeting")
        elif "intro" in skip:
            operator(pick(g["open_company"]), "greeting", "company")
        else:
            operator(pick(g["open_full"]), "greeting", "company", "intro")
    else:
        if "company" in skip:
            operator(pick(g["out_plain"]), "greeting")
        elif "intro" in skip:
            operator(pick(g["out_company"]), "greeting", "company")
        else:
            operator(pick(g["out_full"]), "greeting", "company", "intro")
        if kind != "wrong_number":
            customer(pick(g["cust_hello_back"]))
    # --- body
    needs_pairs = rng.sample(d["needs"], 2)
    product = rng.randrange(len(d["want"]))  # the offer answers what this customer wants
    outcome, sentiment, ended_early = "other", "neutral", False
    if kind == "wrong_number":
        if direction == "inbound":
            customer(pick(g["wrong_in"]))
            operator(pick(g["wrong_in_reply"]))
            customer(pick(g["wrong_in_cust"]))
        else:
            operator(pick(g["wrong_out_ask"]))
            customer(pick(g["wrong_out_cust"]))
            operator(pick(g["wrong_out_sorry"]))
        ended_early = True
    elif kind in ("sale", "refusal", "callback"):
        if direction == "inbound":
            customer(d["want"][product])
        elif extra.get("busy"):
            operator(pick(d["pitch"]))
            customer(pick(g["busy"]))
            operator(pick(g["busy_ack"]), "next")
            customer(pick(g["think_ok"]))
            ended_early = True
        else:
            operator(pick(d["pitch"]))
            customer(rng.choice(["Maybe, tell me more.", "Go on."] if language == "en" else ["Расскажите.", "Так."]))
        if not ended_early:
            if "needs" not in skip:
                for question, answer in needs_pairs:
                    operator(question, "needs")
                    customer(answer)
            if kind == "refusal" and direction == "outbound":
                operator(d["offer"][product], "solution")
                customer(pick(g["refuse_firm"] if extra.get("firm") else g["refuse"]))
                outcome = "refused"
            elif kind == "refusal":
                operator(d["offer"][product], "solution")
                customer(pick(g["refuse"]))
                outcome = "refused"
            elif kind == "callback":
                operator(d["offer"][product], "solution")
                customer(pick(g["think"]))
                operator(pick(g["think_ack"]), "next")
                customer(pick(g["think_ok"]))
                outcome = "callback"
            else:
                operator(d["offer"][product], "solution")
                customer(pick(d["accept"]))
                operator(pick(d["done"]), "next")
                customer(pick(g["cust_thanks_warm"]))
                outcome, sentiment = "sale", "positive"
        else:
            outcome = "callback"
    elif complaint:
        problem = rng.randrange(len(d["problem"]))  # the fix and the excuse answer this problem
        customer(d["problem"][problem])
        if rude:
            operator(pick(g["rude_lines"]))
            customer(
                rng.choice(
                    ["Excuse me? I'm the customer here." if language == "en" else "Простите? Вообще-то я клиент."]
                )
            )
        elif "apology" not in skip:
            operator(pick(g["apology"]), "apology")
        if "needs" not in skip:
            question, answer = rng.choice(d["detail"])
            operator(question, "needs")
            customer(answer)
        if kind == "complaint_resolved":
            operator(d["fix"][problem], "solution", "next")
            customer(pick(g["cust_thanks_warm"] if extra.get("warm") else g["cust_thanks_plain"]))
            outcome, sentiment = "agreed", "positive" if extra.get("warm") else "neutral"
        else:
            operator(d["cant_fix"][problem])
            customer(pick(g["cust_angry_end"]))
            if rude:
                operator(pick(g["escalate_no"]))
            outcome, sentiment = "not_resolved", "negative"
    else:  # information, or a rude answer to a question
        customer(pick(d["question"]))
        if rude:
            operator(pick(g["rude_lines"]))
            customer(
                rng.choice(
                    [
                        "Why are you so rude? I only asked a question."
                        if language == "en"
                        else "Почему вы так грубите? Я просто спросил."
                    ]
                )
            )
            operator(pick(d["answer"]), "solution")
            customer(pick(g["cust_angry_end"]))
            outcome, sentiment = "information", "negative"
        else:
            if "needs" not in skip:
                question = (
                    "Sure, can I ask whether you're already a customer of ours?"
                    if language == "en"
                    else "Конечно, подскажите, вы уже наш клиент?"
                )
                operator(question, "needs")
                customer("Yes, for two years now." if language == "en" else "Да, уже два года.")
            operator(pick(d["answer"]), "solution")
            customer(pick(g["cust_thanks_plain"]))
            outcome = "information"
    # --- closing
    if "farewell" in skip or rude:
        operator(pick(g["no_farewell_end"]))
    else:
        operator(pick(g["farewell"]), "farewell")
    if turns[-1][0] == "operator" and not rude and "farewell" not in skip:
        customer(pick(g["cust_bye"]))

    merged: list[tuple[str, str]] = []  # one speaker's consecutive sentences are one turn, as a transcript has them
    for speaker, text in turns:
        if merged and merged[-1][0] == speaker:
            merged[-1] = (speaker, f"{merged[-1][1]} {text}")
        else:
            merged.append((speaker, text))
    turns = merged
    expected = expected_answers(kind, said, complaint=complaint, ended_early=ended_early, rude=rude)
    return {
        "id": call_id,
        "language": language,
        "kind": kind,
        "direction": direction,
        "channels": channels,
        "company_name": company_name,
        "scenario": {"domain": domain, "skipped": sorted(skip), **extra},
        "turns": [{"speaker": speaker, "text": text} for speaker, text in turns],
        "labels": {"items": expected, "outcome": outcome, "customer_sentiment": sentiment,
                   "score": expected_score(expected)},
    }  # fmt: skip


def expected_answers(kind: str, said: set[str], *, complaint: bool, ended_early: bool, rude: bool) -> dict[str, str]:
    def met(step: str) -> str:
        return "met" if step in said else "not_met"

    return {
        "greet_company": "met" if {"greeting", "company"} <= said else "not_met",
        "introduces": met("intro"),
        "needs": "na" if ended_early else met("needs"),
        "solution": "na" if ended_early else met("solution"),
        "apology": met("apology") if complaint else "na",
        "next_step": "na" if kind == "wrong_number" else met("next"),
        "polite": "not_met" if rude else "met",
        "farewell": met("farewell"),
    }


def expected_score(answers: dict[str, str]) -> float | None:
    met = applicable = 0
    for key, answer in answers.items():
        weight = EVAL_ITEMS[key][1]
        if answer != "na":
            applicable += weight
            met += weight if answer == "met" else 0
    return round(met / applicable * 100, 1) if applicable else None


# --- audio --------------------------------------------------------------------------------------------------------


def _run(args: list[str], stdin: bytes | None = None) -> None:
    subprocess.run(args, input=stdin, check=True, capture_output=True)


def _seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def voice(call: dict, number: int, work: Path) -> None:
    """Synthesise each turn, trim its silence, lay turns out with seeded gaps; write the MP3 and the turn times."""
    rng = random.Random(call["id"] + ":audio")
    op_voice, cust_voice = VOICES[call["language"]][number % 2]
    tempo = TEMPI[number % 3]
    left: list[str] = []
    right: list[str] = []
    t = 0.35
    for index, turn in enumerate(call["turns"]):
        raw, clip = work / f"{index}.raw.wav", work / f"{index}.wav"
        who = op_voice if turn["speaker"] == "operator" else cust_voice
        _run(["RHVoice-test", "-p", who, "-o", str(raw)], stdin=turn["text"].encode("utf-8"))
        _run(["sox", "-R", "-D", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(clip),
              "silence", "1", "0.02", "1%", "reverse", "silence", "1", "0.02", "1%", "reverse",
              "tempo", str(tempo), "sinc", "300-3400", "norm", "-3"])  # fmt: skip
        length = _seconds(clip)
        turn["start"], turn["end"] = round(t, 3), round(t + length, 3)
        silence = work / f"{index}.sil.wav"
        _run(["sox", "-R", "-n", "-r", "8000", "-c", "1", "-b", "16", str(silence), "trim", "0", f"{length:.4f}"])
        (left if turn["speaker"] == "operator" else right).append(str(clip))
        (right if turn["speaker"] == "operator" else left).append(str(silence))
        gap = round(rng.uniform(0.25, 0.7), 3)
        gap_file = work / f"{index}.gap.wav"
        _run(["sox", "-R", "-n", "-r", "8000", "-c", "1", "-b", "16", str(gap_file), "trim", "0", str(gap)])
        left.append(str(gap_file))
        right.append(str(gap_file))
        t += length + gap
    lead = work / "lead.wav"
    _run(["sox", "-R", "-n", "-r", "8000", "-c", "1", "-b", "16", str(lead), "trim", "0", "0.35"])
    _run(["sox", "-R", str(lead), *left, str(work / "L.wav")])
    _run(["sox", "-R", str(lead), *right, str(work / "R.wav")])
    target = OUT / f"{call['id']}.{call['channels']}8k.ogg"
    ffmpeg = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(work / "L.wav"), "-i", str(work / "R.wav")]
    tail = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", "-c:a", "libopus"]
    if call["channels"] == "stereo":
        mix = ["-filter_complex", "[0:a][1:a]join=inputs=2:channel_layout=stereo", "-b:a", "16k"]
    else:
        mix = ["-filter_complex", "[0:a][1:a]amix=inputs=2:normalize=0", "-b:a", "12k"]
    _run([*ffmpeg, *mix, *tail, str(target)])
    call["audio"] = {"file": target.name, "voices": {"operator": op_voice, "customer": cust_voice}, "tempo": tempo,
                     "duration": round(t + 0.35, 3)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--audio", action="store_true", help="voice the calls with RHVoice (sox, ffmpeg)")
    args = parser.parse_args()
    if args.audio and not all(shutil.which(tool) for tool in ("RHVoice-test", "sox", "ffmpeg")):
        print("--audio needs RHVoice-test, sox and ffmpeg (see the docstring)", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    index = []
    for language in ("en", "ru"):
        for number, scenario in enumerate(SCENARIOS, start=1):
            call = compose(language, number, scenario)
            if args.audio:
                with tempfile.TemporaryDirectory() as work:
                    voice(call, number, Path(work))
            else:  # keep earlier turn times when only the text is regenerated
                old = OUT / f"{call['id']}.json"
                if old.exists():
                    previous = json.loads(old.read_text(encoding="utf-8"))
                    if [t["text"] for t in previous["turns"]] == [t["text"] for t in call["turns"]]:
                        call["turns"], call["audio"] = previous["turns"], previous.get("audio")
            if "start" not in call["turns"][0]:  # no audio: times from ~2.6 words per second
                t = 0.35
                for turn in call["turns"]:
                    length = round(len(turn["text"].split()) / 2.6 + 0.3, 3)
                    turn["start"], turn["end"] = round(t, 3), round(t + length, 3)
                    t += length + 0.45
            path = OUT / f"{call['id']}.json"
            path.write_text(json.dumps(call, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            index.append({k: call[k] for k in ("id", "language", "kind", "direction", "channels")}
                         | {"outcome": call["labels"]["outcome"], "score": call["labels"]["score"]})  # fmt: skip
    checklist = {key: {"criterion": c, "weight": w, "critical": crit, "allow_na": na}
                 for key, (c, w, crit, na) in EVAL_ITEMS.items()}  # fmt: skip
    (OUT / "checklist.json").write_text(json.dumps(checklist, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (OUT / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"{len(index)} calls in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
