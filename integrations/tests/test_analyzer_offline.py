"""The offline rules analyzer against the labelled synthetic calls (fixtures/calls) and hand-written edge cases.

No database: the analyzer is a pure function of its request."""

from pathlib import Path
from typing import Literal

import pytest

from integrations.llm.base import Analysis, AnalysisRequest, ItemSpec, TurnText
from integrations.llm.offline import OfflineAnalyzer, normalise_text
from integrations.llm.offline_eval import (
    FIXTURE_COMPANY,
    LANGUAGES,
    crosscheck_cases,
    eval_cases,
    evaluate_offline,
    fixture_request,
    load_eval_calls,
    load_fixture_calls,
    measure,
    standard_items,
    tuning_cases,
)

CALLS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "calls"
CALLS = load_fixture_calls(CALLS_DIR)
NO_RULE = "no rule for this criterion; needs an LLM or example phrases"
Speaker = Literal["operator", "customer"]


@pytest.fixture(scope="module")
def analyses() -> dict[str, Analysis]:
    analyzer = OfflineAnalyzer()
    return {call["id"]: analyzer.analyze(fixture_request(call, standard_items(call["language"]))) for call in CALLS}


def _request(
    *turns: tuple[Speaker, str], items: tuple[ItemSpec, ...], company: str = FIXTURE_COMPANY, language: str = "en"
) -> AnalysisRequest:
    return AnalysisRequest(
        turns=tuple(TurnText(speaker, i * 5000, i * 5000 + 4000, text) for i, (speaker, text) in enumerate(turns)),
        items=items,
        answer_language=language,
        company_name=company,
    )


def _item(
    criterion: str, *, examples: tuple[str, ...] = (), allow_na: bool = False, speaker: Speaker = "operator"
) -> ItemSpec:
    return ItemSpec(
        key="k", checklist="c", section="s", criterion=criterion, examples=examples, allow_na=allow_na, speaker=speaker
    )


def test_offline_analyzer_agrees_with_labels_on_opening_and_closing_items_in_english_and_russian(analyses):
    kinds = ("greeting", "operator_introduced", "asked_customer_name", "farewell", "company_name")
    pairs = [(analyses[call["id"]].verdicts, call["labels"]) for call in CALLS if call["language"] in ("en", "ru")]
    agreed = total = 0
    for verdicts, labels in pairs:
        for verdict in verdicts:
            if verdict.key in kinds:
                total += 1
                agreed += (verdict.answer == "met") == labels[verdict.key]
    # 10 calls x 5 items: 50 of 50 agree today; two misses are allowed before this fails (96%)
    assert total == 50
    assert agreed >= 48


def test_offline_analyzer_customer_sentiment_matches_labels_on_most_calls(analyses):
    matches = sum(analyses[call["id"]].customer_sentiment == call["labels"]["customer_sentiment"] for call in CALLS)
    assert len(CALLS) == 12
    assert matches >= 11  # 12 of 12 today (en, ru, uz; positive, neutral and negative all occur)


def test_offline_analyzer_outcome_matches_labels_on_most_calls(analyses):
    matches = sum(analyses[call["id"]].outcome == call["labels"]["outcome"] for call in CALLS)
    assert matches >= 11  # 12 of 12 today: sale, callback, refused, not_resolved, information


def test_offline_analyzer_evidence_is_quoted_from_the_cited_turn_with_its_start(analyses):
    checked = 0
    for call in CALLS:
        request = fixture_request(call, ())
        turns_by_start = {turn.start_ms: turn for turn in request.turns}
        for verdict in analyses[call["id"]].verdicts:
            if not verdict.evidence_quote:
                assert verdict.answer != "met"
                continue
            turn = turns_by_start[verdict.evidence_ms]
            assert turn.speaker == verdict.evidence_speaker == "operator"
            assert normalise_text(verdict.evidence_quote) in normalise_text(turn.text)
            assert verdict.evidence_quote in turn.text  # in fact the exact words, punctuation included
            checked += 1
    assert checked >= 60  # every 'met' has a quote, and so do the rude 'not met' politeness verdicts


def test_offline_analyzer_summary_is_extractive(analyses):
    for call in CALLS:
        summary = analyses[call["id"]].summary
        spoken = " ".join(turn["text"] for turn in call["turns"])
        for label in ("Customer: ", "Operator: ", "Клиент: ", "Оператор: ", "Mijoz: "):
            summary = summary.replace(label, "\n")
        sentences = [line.strip() for line in summary.split("\n") if line.strip()]
        assert 1 <= len(sentences) <= 2, call["id"]
        for sentence in sentences:
            assert sentence in spoken or sentence.rstrip(".") in spoken, (call["id"], sentence)


def test_offline_analyzer_reads_criteria_written_in_any_of_the_three_languages():
    analyzer = OfflineAnalyzer()
    for call in CALLS:
        answers = {
            language: [v.answer for v in analyzer.analyze(fixture_request(call, standard_items(language))).verdicts]
            for language in LANGUAGES
        }
        assert answers["en"] == answers["ru"] == answers["uz"], call["id"]


def test_offline_analyzer_matches_latin_examples_in_uzbek_cyrillic_speech():
    item = _item("Kuryer haqida aytdi", examples=("Kuryer ertaga sizga qo'ng'iroq qiladi",))
    request = _request(
        ("operator", "Ассалому алайкум!"),
        ("operator", "Буюртмангиз қабул қилинди. Курьер эртага сизга қўнғироқ қилади."),
        items=(item,),
    )
    verdict = OfflineAnalyzer().analyze(request).verdicts[0]
    assert verdict.answer == "met"
    assert verdict.evidence_quote == "Курьер эртага сизга қўнғироқ қилади."
    assert verdict.evidence_ms == 5000


def test_offline_analyzer_matches_cyrillic_examples_in_latin_speech_with_any_apostrophe():
    item = _item("Qo'ng'iroq qilishni va'da qildi", examples=("Эртага қўнғироқ қиламан",))
    request = _request(("operator", "Yaxshi, ertaga qoʻngʻiroq qilaman."), items=(item,))
    verdict = OfflineAnalyzer().analyze(request).verdicts[0]
    assert verdict.answer == "met"
    assert verdict.evidence_quote == "Yaxshi, ertaga qoʻngʻiroq qilaman."


def test_normalise_text_transliterates_uzbek_cyrillic_but_leaves_russian_alone():
    assert normalise_text("Ассалому алайкум! Қандай ёрдам бера оламан?") == "assalomu alaykum qanday yordam bera olaman"
    assert normalise_text("Курьер эртага келади, хайр!") == "kuryer ertaga keladi xayr"
    assert normalise_text("Здравствуйте, Ольга! Ваш заказ оформлен.") == "здравствуйте ольга ваш заказ оформлен"
    variants = ("qoʻngʻiroq", "qo‘ng‘iroq", "qo`ng`iroq", "qo’ng’iroq", "QO'NG'IROQ", "қўнғироқ")
    assert {normalise_text(variant) for variant in variants} == {"qo'ng'iroq"}


def test_offline_analyzer_finds_the_company_name_across_scripts_and_only_that_name():
    item = _item("Назвал компанию")
    turns = (("operator", "Добрый день, магазин Диаликс Маркет, слушаю вас."),)
    analyzer = OfflineAnalyzer()
    assert analyzer.analyze(_request(*turns, items=(item,))).verdicts[0].answer == "met"
    assert analyzer.analyze(_request(*turns, items=(item,), company="Techno Mall")).verdicts[0].answer == "not_met"
    unset = analyzer.analyze(_request(*turns, items=(item,), company="")).verdicts[0]
    assert (unset.answer, unset.reason) == ("not_met", "the company name is not set, so it cannot be checked")


# --- the company name, heard however the engine spells it ---------------------------------------------------------
# Whisper's spelling of the name depends on the CPU's kernels and the channel ("Dialics Market" on Intel MKL with
# AVX-512, "Pialyx Market", "диалекс -макет" on oneDNN): every form below was written by the offline engine or is one
# a supervisor would accept.

SAYS_NAME = _item("Says the company name")


@pytest.mark.parametrize(
    ("said", "heard", "similarity"),
    [
        ("Thank you for calling Dialics Market.", "Dialics Market", "100%"),
        ("Dialiks Market, good afternoon.", "Dialiks Market", "100%"),
        ("Thank you for calling Dialliks Market.", "Dialliks Market", "100%"),
        ("Интернет-магазин Диаликс Маркет, слушаю.", "Диаликс Маркет", "100%"),
        ("Dialix Marketdan qo'ng'iroq qilyapman.", "Dialix Marketdan", "100%"),  # an Uzbek ending
        ("Hello, Dial X Market speaking.", "Dial X Market", "96%"),  # one word heard as two
        ("Компания Pialyx Market, как я могу к вам обращаться?", "Pialyx Market", "92%"),
        ("Добрый день, магазин диалекс -макет, меня зовут Ольга.", "диалекс -макет", "88%"),
    ],
)
def test_offline_analyzer_hears_the_company_name_however_it_is_spelt_and_says_how_alike(said, heard, similarity):
    verdict = OfflineAnalyzer().analyze(_request(("operator", said), items=(SAYS_NAME,))).verdicts[0]

    assert verdict.answer == "met"
    assert verdict.reason == f"company name: heard “{heard}” ≈ “Dialix Market” ({similarity} alike by sound)"
    assert verdict.evidence_quote in said and verdict.evidence_ms == 0


def test_offline_analyzer_says_the_name_was_said_when_it_was_said_as_written():
    verdict = OfflineAnalyzer().analyze(_request(("operator", "Dialix market, hello!"), items=(SAYS_NAME,))).verdicts[0]

    assert (verdict.answer, verdict.reason) == ("met", "company name: said “Dialix market”")


@pytest.mark.parametrize(
    ("company", "said"),
    [
        ("Dialix", "My father needs dialysis twice a week."),
        ("Dialix", "Please dial the number again."),
        ("Dialix", "I love the paintings of Dali."),
        ("Dialix", "That sounds delicious."),
        ("Dialix", "We speak several dialects here."),
        ("Dialix", "I am dialing now."),
        ("Dialix Market", "Thank you for calling Dialics."),  # half the name is not the name
        ("Dialix Market", "The dialysis market is growing."),  # one close word does not carry a wrong one
        ("Dialix Market", "Dial the market, please."),
        ("Dialix Market", "Dali market, hello."),
        ("Dialix Market", "Delicious market food."),
        ("Techno Mall", "Thank you for calling Dialix Market."),
    ],
)
def test_offline_analyzer_does_not_take_other_words_for_the_company_name(company, said):
    verdict = OfflineAnalyzer().analyze(_request(("operator", said), items=(SAYS_NAME,), company=company)).verdicts[0]

    assert verdict.answer == "not_met", verdict.reason


def test_offline_analyzer_hears_a_one_word_name_in_any_script_and_with_an_ending():
    analyzer = OfflineAnalyzer()

    def reason(said: str) -> str:
        verdict = analyzer.analyze(_request(("operator", said), items=(SAYS_NAME,), company="Dialix")).verdicts[0]
        return f"{verdict.answer}: {verdict.reason}"

    assert (
        reason("Thank you for calling Dialics.")
        == "met: company name: heard “Dialics” ≈ “Dialix” (100% alike by sound)"
    )
    assert reason("Здравствуйте, Диаликс!") == "met: company name: heard “Диаликс” ≈ “Dialix” (100% alike by sound)"
    assert reason("Dialixga xush kelibsiz!") == "met: company name: heard “Dialixga” ≈ “Dialix” (100% alike by sound)"
    assert reason("Диалекс, здравствуйте.") == "met: company name: heard “Диалекс” ≈ “Dialix” (86% alike by sound)"


def test_offline_analyzer_ignores_the_aside_and_the_legal_form_of_a_company_name():
    analyzer = OfflineAnalyzer()
    turns = (("operator", "Good morning, Dialics Market, Sarah speaking."),)

    for company in ("Dialix Market (demo)", "ООО «Диаликс Маркет»", "Dialix Market LLC"):
        verdict = analyzer.analyze(_request(*turns, items=(SAYS_NAME,), company=company)).verdicts[0]
        assert verdict.answer == "met", company
    verdict = analyzer.analyze(_request(*turns, items=(SAYS_NAME,), company="Dialix Market (demo)")).verdicts[0]
    assert verdict.reason == "company name: heard “Dialics Market” ≈ “Dialix Market” (100% alike by sound)"


def test_the_demo_item_hears_its_example_spellings_of_the_name_by_sound():
    # The demo company is "Dialix Market (demo)" and its item lists the name in Latin and Cyrillic as examples. Examples
    # were matched by spelling, so "Dialics Market" (what Intel MKL hears) missed them, and then the company name with
    # its "(demo)" was not found either: "Says the company name: not met" on the demo's first call.
    item = _item(
        "Называет компанию / Kompaniya nomini aytadi (Says the company name)",
        examples=("Dialix Market", "Диаликс Маркет"),
    )
    analyzer = OfflineAnalyzer()

    def verdict(said: str, language: str = "en"):
        request = _request(("operator", said), items=(item,), company="Dialix Market (demo)", language=language)
        return analyzer.analyze(request).verdicts[0]

    assert verdict("Good morning. Thank you for calling Dialics Market. My name is Sarah.").answer == "met"
    assert verdict("Добрый день, Диалекс маркет.", "ru").reason == (
        "название компании: услышано «Диалекс маркет» ≈ «Dialix Market» (похоже по звучанию на 92%)"
    )
    assert verdict("Good morning, my name is Sarah.").answer == "not_met"


def test_offline_analyzer_names_the_company_in_the_fixture_calls_as_the_engine_spells_it():
    # The labelled fixture calls, with the company's name as the offline engine wrote it on either CPU kernel.
    item = ItemSpec(key="company_name", checklist="c", section="s", criterion="The operator named the company")
    analyzer = OfflineAnalyzer()
    spellings = {"Dialix Market": ("Dialics Market", "Dialiks market", "Pialyx Market"),
                 "Диаликс Маркет": ("Диалекс маркет", "диалекс -макет", "Dialics Market")}  # fmt: skip
    checked = 0
    for call in CALLS:
        for written, heard_forms in spellings.items():
            if not any(written in turn["text"] for turn in call["turns"]):
                continue
            for heard in heard_forms:
                misheard = {**call, "turns": [{**t, "text": t["text"].replace(written, heard)} for t in call["turns"]]}
                verdict = analyzer.analyze(fixture_request(misheard, (item,))).verdicts[0]
                assert (verdict.answer == "met") == call["labels"]["company_name"], (call["id"], heard, verdict.reason)
                checked += 1
    assert checked >= 18  # every English and Russian call that names the company, three spellings each


def test_offline_analyzer_looks_for_greetings_only_at_the_start_and_farewells_only_at_the_end():
    items = (
        ItemSpec(key="greeting", checklist="c", section="s", criterion="Greeted the customer"),
        ItemSpec(key="farewell", checklist="c", section="s", criterion="Said goodbye"),
    )
    late_greeting_early_goodbye = _request(
        ("operator", "Support."),
        ("customer", "My order is late."),
        ("operator", "Goodbye to the old system: it is checked now."),
        ("operator", "One moment."),
        ("operator", "Hello again, it will arrive tomorrow."),
        ("operator", "Anything else?"),
        items=items,
    )
    verdicts = OfflineAnalyzer().analyze(late_greeting_early_goodbye).verdicts
    assert [v.answer for v in verdicts] == ["not_met", "not_met"]
    assert verdicts[0].reason == "greeting: not found (first 2 turns, operator)"


def test_offline_analyzer_reports_rude_wording_with_a_quote():
    request = _request(("operator", "Support. What is it?"), items=(_item("The operator was polite"),))
    verdict = OfflineAnalyzer().analyze(request).verdicts[0]
    assert (verdict.answer, verdict.evidence_quote, verdict.reason) == (
        "not_met",
        "What is it?",
        'rude wording: "What is it"',
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I am not happy with this at all.", "negative"),
        ("Я не доволен, это ужасно.", "negative"),
        ("Xizmatingiz yaxshi emas, juda yomon.", "negative"),
        ("No, thank you.", "neutral"),  # a refusal's "no" does not negate the thanks after the comma
        ("Thank you so much, that's great!", "positive"),
        ("Спасибо большое, вы очень помогли.", "positive"),
        ("Катта раҳмат, жуда яхши!", "positive"),
    ],
)
def test_offline_analyzer_customer_sentiment_reads_negation_and_intensifiers(text, expected):
    analysis = OfflineAnalyzer().analyze(_request(("customer", text), items=()))
    assert analysis.customer_sentiment == expected
    assert analysis.customer_sentiment_reason.startswith("heuristic (word lists): ")


def test_offline_analyzer_is_deterministic():
    first, second = OfflineAnalyzer(), OfflineAnalyzer()
    for call in CALLS:
        request = fixture_request(call, standard_items(call["language"]))
        assert first.analyze(request) == second.analyze(request) == first.analyze(request)


def test_offline_analyzer_is_honest_about_criteria_it_has_no_rule_for():
    turns = (("operator", "Hello, Dialix Market."), ("customer", "Hi, what is the warranty?"))
    unknown = _item("Explained the warranty terms correctly")
    analyzer = OfflineAnalyzer()
    strict = analyzer.analyze(_request(*turns, items=(unknown,))).verdicts[0]
    lenient = analyzer.analyze(_request(*turns, items=(_item(unknown.criterion, allow_na=True),))).verdicts[0]
    assert (strict.answer, strict.reason, strict.evidence_quote) == ("not_met", NO_RULE, "")
    assert (lenient.answer, lenient.reason) == ("na", NO_RULE)


def test_offline_analyzer_reasons_follow_the_answer_language():
    request = _request(("operator", "Алло."), items=(_item("Оператор поприветствовал клиента"),), language="ru")
    analysis = OfflineAnalyzer().analyze(request)
    assert analysis.verdicts[0].reason == "приветствие: не найдено (первые 2 реплики, оператор)"


def test_offline_analyzer_handles_a_transcript_without_operator_speech():
    items = (_item("Greeted the customer"), _item("Greeted the customer", allow_na=True))
    analysis = OfflineAnalyzer().analyze(_request(("customer", "Hello?"), items=items))
    assert [v.answer for v in analysis.verdicts] == ["not_met", "na"]
    assert analysis.usage.requests == 0


def test_evaluate_offline_reports_precision_and_recall_per_item_and_language():
    report = evaluate_offline(CALLS_DIR)
    assert report["calls"] == 12
    assert set(report["by_language"]) == {"en", "ru", "uz"}
    for kind, scores in report["items"].items():
        assert scores["n"] == 12
        assert scores["precision"] >= 0.9 and scores["recall"] >= 0.9, kind  # 1.0 / 1.0 on every kind today
    assert report["mismatches"] == []


# --- the evaluation set (fixtures/eval): calls composed by scripts/make_eval_calls.py, unseen by the rules ----------

EVAL_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "eval"


def test_the_evaluation_set_covers_the_kinds_of_call_a_supervisor_sees():
    calls = load_eval_calls(EVAL_DIR)
    assert len(calls) >= 40
    assert {c["language"] for c in calls} == {"en", "ru"}
    assert {c["channels"] for c in calls} == {"mono", "stereo"}
    assert {c["direction"] for c in calls} == {"inbound", "outbound"}
    kinds = {"sale", "refusal", "complaint_resolved", "complaint_unresolved", "callback", "wrong_number", "rude"}
    assert kinds <= {c["kind"] for c in calls}
    answers = {answer for c in calls for answer in c["labels"]["items"].values()}
    assert answers == {"met", "not_met", "na"}  # conditional items really are not applicable on some calls
    for call in calls:  # each call is voiced, a few tens of KB, and its turns carry times from that audio
        audio = EVAL_DIR / call["audio"]["file"]
        assert audio.exists() and audio.stat().st_size < 120_000, call["id"]
        assert all(t["end"] > t["start"] for t in call["turns"])


def test_offline_analyzer_meets_the_accuracy_goals_on_the_evaluation_set():
    # The goals are 85% / 80% / 80% / 10 points; the floors sit just under today's measured figures (99% /
    # 95% / 100% / 1.2, in the README) so a regression shows here, not only in a later bench. The input is text, so
    # the figures do not depend on the CPU.
    report = measure(OfflineAnalyzer(), eval_cases(EVAL_DIR))
    for language in ("en", "ru"):
        assert report["item_accuracy"][language]["accuracy"] >= 0.97, language
    assert report["all"]["outcome"]["accuracy"] >= 0.93
    assert report["all"]["customer_sentiment"]["accuracy"] >= 0.97
    assert report["all"]["score_mae"] <= 2.5


def test_the_tuning_set_figures_stay_where_they_were():
    report = measure(OfflineAnalyzer(), tuning_cases(CALLS_DIR))
    assert report["all"]["item_accuracy"]["accuracy"] == 1.0
    assert report["all"]["score_mae"] == 0


APOLOGY = _item("Apologises if the customer complains", allow_na=True)


def test_a_conditional_item_is_not_applicable_when_its_condition_did_not_arise():
    # Example phrases used to make "apologises if the customer complains" fail on every call without a complaint.
    analyzer = OfflineAnalyzer()
    calm = _request(("operator", "Hello, Dialix Market."), ("customer", "What time do you open on Sunday?"),
                    ("operator", "We open at nine."), items=(APOLOGY,))  # fmt: skip
    verdict = analyzer.analyze(calm).verdicts[0]
    assert (verdict.answer, verdict.reason) == ("na", "not applicable: the customer did not complain")

    complaint = (("operator", "Hello, Dialix Market."), ("customer", "My parcel never arrived and nobody called me."))
    sorry = analyzer.analyze(_request(*complaint, ("operator", "I'm so sorry about that."), items=(APOLOGY,)))
    assert (sorry.verdicts[0].answer, sorry.verdicts[0].evidence_quote) == ("met", "I'm so sorry about that.")
    blunt = analyzer.analyze(_request(*complaint, ("operator", "Give me the number."), items=(APOLOGY,)))
    assert blunt.verdicts[0].answer == "not_met"


def test_a_conditional_item_reads_russian_conditions_too():
    item = _item("Извиняется, если клиент жалуется", allow_na=True)
    analysis = OfflineAnalyzer().analyze(
        _request(("operator", "Здравствуйте."), ("customer", "Сколько стоит доставка?"), items=(item,), language="ru")
    )
    assert analysis.verdicts[0].answer == "na"


def test_needs_finding_and_a_solution_are_recognised_without_example_phrases():
    items = (
        ItemSpec(key="needs", checklist="c", section="s", criterion="Finds out what the customer needs"),
        ItemSpec(key="offer", checklist="c", section="s", criterion="Offers a solution"),
    )
    asked = _request(
        ("operator", "Good morning, Dialix Market."),
        ("customer", "I need a printer for a small office."),
        ("operator", "How many pages do you print a week?"),
        ("customer", "A few hundred."),
        ("operator", "Then I'd recommend the LaserJet 200, it handles that easily."),
        items=items,
    )
    needs, offer = OfflineAnalyzer().analyze(asked).verdicts
    assert (needs.answer, needs.evidence_quote) == ("met", "How many pages do you print a week?")
    assert (offer.answer, offer.evidence_quote) == (
        "met",
        "Then I'd recommend the LaserJet 200, it handles that easily.",
    )
    silent = _request(
        ("operator", "Good morning."), ("customer", "I need a printer."), ("operator", "OK."), items=items
    )
    assert [v.answer for v in OfflineAnalyzer().analyze(silent).verdicts] == ["not_met", "not_met"]


def test_an_outbound_call_is_summed_up_by_its_reason_not_its_greeting():
    request = AnalysisRequest(
        turns=(
            TurnText("operator", 0, 3000, "Good afternoon, is this Mister Reed? My name is Anna, from Dialix Market."),
            TurnText("customer", 3500, 4000, "Yes."),
            TurnText("operator", 4500, 9000, "Your new washing machine is ready and we can install it this week."),
            TurnText("customer", 9500, 11000, "Great, Thursday works."),
            TurnText("operator", 11500, 14000, "Perfect, the engineer will come on Thursday at ten."),
        ),
        items=(),
        answer_language="en",
        company_name=FIXTURE_COMPANY,
        direction="outbound",
    )
    summary = OfflineAnalyzer().analyze(request).summary
    assert summary.startswith("Operator: Your new washing machine is ready")
    assert "Good afternoon" not in summary and summary.endswith("the engineer will come on Thursday at ten.")


def test_a_low_confidence_transcript_is_not_judged_on_its_words():
    request = AnalysisRequest(
        turns=(TurnText("operator", 0, 3000, "Assalomu alaykum, Dialix Market."),),
        items=(_item("Greeted the customer"), _item("Apologises if the customer complains", allow_na=True)),
        answer_language="uz",
        company_name=FIXTURE_COMPANY,
        low_confidence=True,
    )
    analysis = OfflineAnalyzer().analyze(request)
    assert [v.answer for v in analysis.verdicts] == ["na", "na"]
    assert all(v.evidence_quote == "" for v in analysis.verdicts)
    assert analysis.outcome == "other" and analysis.customer_sentiment == "neutral"
    assert analysis.summary == "transkript ishonchsiz (so'zlar noaniq): baholanmaydi, tekshirish kerak"


def test_the_meaning_rules_hold_on_another_authors_wording_too():
    # The tuning calls were written by someone else for other items; crosscheck.json labels them for the evaluation
    # checklist (needs, solution, conditional apology, next step): 76 of 80 items today.
    report = measure(OfflineAnalyzer(), crosscheck_cases(CALLS_DIR, EVAL_DIR))
    assert report["calls"] == 10
    assert report["all"]["item_accuracy"]["accuracy"] >= 0.85
    assert report["all"]["outcome"]["accuracy"] >= 0.8
