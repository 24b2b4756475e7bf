"""The offline analyzer: deterministic keyword rules, no network, no model.

What it does well: greeting / introduction / company name / asking the name / farewell style items, in Uzbek (Latin
and Cyrillic), Russian and English, with the exact sentence it relied on as evidence. The company name is matched by
sound, as speech engines spell it ("Dialics Market", "Диаликс Маркет" for Dialix Market), saying how alike it was.
What it cannot do: judge meaning (was the answer correct, was the customer's problem understood), irony, or criteria
it has no rule for; those say so ("no rule for this criterion; needs an LLM or example phrases") instead of guessing.
Sentiment comes from word lists with a two-word negation window and is labelled heuristic. The summary is extractive:
the customer's first real request and the operator's last commitment, quoted in the transcript's own words.

Everything a call does not change (phrase lists, lexicons, tables) is compiled at import; a call tokenises each turn
once and matches token lists, so there is no regex compilation per call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache

from integrations.llm.base import Analysis, AnalysisRequest, Answer, ItemSpec, ItemVerdict, Sentiment, TurnText, Usage

# --- text normalisation -------------------------------------------------------------------------------------------

_APOSTROPHES = str.maketrans(dict.fromkeys("ʻʼ`‘’´ʹ′", "'"))
_WORD = re.compile(r"[^\W_]+(?:['ʻʼ`‘’´ʹ′][^\W_]+)*")
_SENTENCE_MARKS = frozenset(".!?…\n")
_CLAUSE_MARKS = frozenset(',;:—–()"«»')

_UZ_ONLY_LETTERS = frozenset("ўқғҳ")
_UZ_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ё": "yo", "ж": "j", "з": "z", "и": "i", "й": "y", "к": "k",
    "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "x",
    "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "'", "ы": "i", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    "ў": "o'", "қ": "q", "ғ": "g'", "ҳ": "h",
}  # fmt: skip
_YE_AFTER = frozenset("аеёиоуэюяўьъ")  # е after these (and at a word's start) is ye: ер -> yer, курьер -> kuryer
# Stopwords that decide whether Cyrillic without ў қ ғ ҳ is Uzbek (people often type х/к/г for ҳ/қ/ғ) or Russian.
_UZ_CYRILLIC_STOPWORDS = frozenset(
    "салом ва бу мен сен сиз биз улар учун билан хам ха йук йўқ бор эди керак нима кандай рахмат ассалому алайкум яхши "
    "мумкин жуда хали энди мени менинг сизнинг исмим сизга менга албатта булади бўлади эмас шу "
    "уша ўша килиб беринг оламан бераман мана хоп хўп".split()
)
# Uzbek endings Russian words do not have: possessives (-ингиз), progressive (-яп-), intention (-моқчи), past (-илди).
_UZ_CYRILLIC_SUFFIXES = (
    "ингиз", "ингизни", "ингизга", "ингизда", "имиз", "япман", "япсиз", "япти", "моқчи", "мокчи", "илди", "лашди",
    "лади", "ламан", "лайман", "сизми", "дими", "миз", "ганман", "гансиз",
)  # fmt: skip
_RU_STOPWORDS = frozenset(
    "и в не на я что с вы это как по но да у мне вам меня вас а так уже если есть нет для за от до мы он она то "
    "все всё пожалуйста здравствуйте спасибо можно ли когда где почему".split()
)
# Only used to compare a company name across scripts ("Dialix Market" vs "Диаликс Маркет"); text is never rewritten.
_RU_ROMAN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "j", "з": "z", "и": "i", "й": "i",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
    "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "iu", "я": "ia",
    "ў": "o", "қ": "k", "ғ": "g", "ҳ": "h",
}  # fmt: skip


def _is_uzbek_cyrillic(lowered: str) -> bool:
    if any(ch in _UZ_ONLY_LETTERS for ch in lowered):
        return True
    if not any("а" <= ch <= "я" or ch == "ё" for ch in lowered):
        return False
    words = [m.group() for m in _WORD.finditer(lowered)]
    uz = sum(word in _UZ_CYRILLIC_STOPWORDS or word.endswith(_UZ_CYRILLIC_SUFFIXES) for word in words)
    ru = sum(word in _RU_STOPWORDS for word in words)
    return uz > ru


def _uz_to_latin(word: str) -> str:
    return "".join(
        ("ye" if i == 0 or word[i - 1] in _YE_AFTER else "e") if ch == "е" else _UZ_CYRILLIC.get(ch, ch)
        for i, ch in enumerate(word)
    )


def _normalise_word(word: str, *, uzbek: bool) -> str:
    """Lowercased, apostrophes unified to ', Uzbek Cyrillic written in Latin; Russian keeps its script (ё -> е)."""
    word = word.lower().translate(_APOSTROPHES).strip("'")
    return _uz_to_latin(word) if uzbek else word.replace("ё", "е")


def _key(normalised_word: str) -> str:
    # Matching ignores the apostrophe itself: Uzbek writers drop it as often as they type it (qongiroq / qo'ng'iroq).
    return normalised_word.replace("'", "")


def normalise_text(text: str) -> str:
    """The text as the rules see it: lowercase, one apostrophe, no punctuation, single spaces, Uzbek in Latin."""
    lowered = text.lower()
    uzbek = _is_uzbek_cyrillic(lowered)
    return " ".join(_normalise_word(m.group(), uzbek=uzbek) for m in _WORD.finditer(lowered))


_SOFT_C = re.compile(r"c(?=[eiy])")  # c before e, i, y sounds s (Celina, delicious); elsewhere k (Dialics, Cola)
_DOUBLED = re.compile(r"(.)\1+")
_SOUND_FOLDS = (("x", "ks"), ("q", "k"), ("w", "v"), ("y", "i"), ("'", ""))


@lru_cache(maxsize=65536)
def _sound(key: str) -> str:
    """How a word sounds, in Latin letters: "Dialix", "Dialics", "Dialiks", "Dialliks" and "Диаликс" are all "dialiks".

    Cyrillic is romanised, ph -> f, ck -> k, soft c -> s and hard c -> k, x -> ks, q -> k, w -> v, y -> i, apostrophes
    dropped, doubled letters made single. Only used to compare a company's name with what was heard."""
    out = "".join(_RU_ROMAN.get(ch, ch) for ch in key).replace("ph", "f").replace("ck", "k")
    out = _SOFT_C.sub("s", out).replace("c", "k")
    for old, new in _SOUND_FOLDS:
        out = out.replace(old, new)
    return _DOUBLED.sub(r"\1", out)


# --- phrase patterns ----------------------------------------------------------------------------------------------
# A pattern is a run of (kind, value) elements: kind 0 = the word itself, 1 = a word starting with value ("заказ*"),
# 2 = any one word ("_"), 3 = any one word but those listed ("!i,i'm,am"). Uzbek lists are written in Latin:
# Cyrillic turns are transliterated before matching.

_EXACT, _PREFIX, _ANY, _ANY_BUT = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class _Pattern:
    elements: tuple[tuple[int, str], ...]
    anchor: int  # offset of the first exact word, looked up in a turn's word index instead of scanning; -1: none

    def __len__(self) -> int:
        return len(self.elements)


def _compile(phrases: str) -> tuple[_Pattern, ...]:
    compiled: list[_Pattern] = []
    for phrase in phrases.split("|"):
        elements: list[tuple[int, str]] = []
        for raw in phrase.split():
            if raw == "_":
                elements.append((_ANY, ""))
            elif raw.startswith("!"):
                excluded = ",".join(_key(_normalise_word(word, uzbek=False)) for word in raw[1:].split(","))
                elements.append((_ANY_BUT, f",{excluded},"))
            elif raw.endswith("*"):
                elements.append((_PREFIX, _key(_normalise_word(raw[:-1], uzbek=False))))
            else:
                elements.append((_EXACT, _key(_normalise_word(raw, uzbek=False))))
        if elements:
            anchor = next((offset for offset, (kind, _) in enumerate(elements) if kind == _EXACT), -1)
            compiled.append(_Pattern(tuple(elements), anchor))
    return tuple(compiled)


class _PatternSet:
    """Patterns indexed by their anchor word or first letter: a turn tries only those its own words can start."""

    __slots__ = ("patterns", "_by_word", "_by_initial", "_always")

    def __init__(self, patterns: Iterable[_Pattern]) -> None:
        self.patterns = tuple(patterns)
        by_word: dict[str, list[int]] = {}
        by_initial: dict[str, list[int]] = {}
        self._always: list[int] = []
        for index, pattern in enumerate(self.patterns):
            if pattern.anchor >= 0:
                by_word.setdefault(pattern.elements[pattern.anchor][1], []).append(index)
            elif pattern.elements[0][0] == _PREFIX:
                by_initial.setdefault(pattern.elements[0][1][:1], []).append(index)
            else:
                self._always.append(index)
        self._by_word = {word: tuple(indices) for word, indices in by_word.items()}
        self._by_initial = {initial: tuple(indices) for initial, indices in by_initial.items()}

    def __add__(self, other: _PatternSet) -> _PatternSet:
        return _PatternSet(self.patterns + other.patterns)

    def candidates(self, positions: dict[str, list[int]], initials: dict[str, list[int]]) -> list[int]:
        """Indices of the patterns that may match words with this index, in the set's order."""
        found = set(self._always)
        for word in positions:
            found.update(self._by_word.get(word, ()))
        for initial in initials:
            found.update(self._by_initial.get(initial, ()))
        return sorted(found)


def _lists(*, en: str, ru: str, uz: str) -> _PatternSet:
    return _PatternSet(_compile(en) + _compile(ru) + _compile(uz))


@dataclass(frozen=True, slots=True)
class _Intent:
    name: str
    labels: dict[str, str]  # answer language -> label used in reasons
    scope: str  # first: the speaker's first 2 turns, last: their last 2, all: every turn
    phrases: _PatternSet
    triggers: tuple[tuple[tuple[_Pattern, ...], ...], ...]  # criterion keywords: alternatives, each a set of parts


def _trigger(*alternatives: tuple[str, ...]) -> tuple[tuple[tuple[_Pattern, ...], ...], ...]:
    """The criterion asks for the intent when every part of one alternative occurs in it."""
    return tuple(tuple(_compile(part) for part in parts) for parts in alternatives)


_NAME_WORDS = "name|names|имя|имени|ism*|зовут|обращ*|фио"
_ASK_WORDS = (
    "ask*|asked|request*|get|got|obtain*|find|found|clarif*|спрос*|узна*|уточн*|выясн*|попрос*|sora*|aniqla*|bil*"
)

GREETING = _Intent(
    "greeting",
    {"en": "greeting", "ru": "приветствие", "uz": "salomlashish"},
    "first",
    _lists(
        en="hello|hi|hey|morning|good morning|good afternoon|good evening|good day|greetings|welcome|"
        "thank you for calling|thanks for calling",
        ru="здравствуйте|здравствуй|добрый день|добрый вечер|доброе утро|доброго дня|доброго утра|доброго вечера|"
        "приветствую|привет|спасибо за звонок|доброго времени суток|ассалом*|ассалам*|салам*",
        uz="assalomu alaykum|assalom*|salom|xayrli kun|xayrli tong|xayrli kech|hayrli kun|hayrli tong|yaxshimisiz|"
        "xush kelibsiz",
    ),
    _trigger(("greet*|hello|welcom*|приветств*|поприветств*|поздорова*|здорова*|salom*|assalom*",)),
)
INTRODUCE = _Intent(
    "introduce",
    {"en": "introduction", "ru": "представление", "uz": "o'zini tanishtirish"},
    "first",
    _lists(
        en="my name is|my name's|this is _ from|this is _ speaking|!i,i'm,am,are,you're,we,we're,were,is,was speaking|"
        "you are speaking with|you're speaking with|i am _ from|i'm _ from|i am _ your|i'm _ your",
        ru="меня зовут|мое имя|с вами говорит|вас приветствует|это _ из|это _ компания|это _ магазин|на связи|"
        "с вами оператор|оператор _ слушаю",
        uz="mening ismim|meni ismim|ismim|men operator|operatorman|bilan gaplashyapsiz",
    ),
    _trigger(("introduc*|представ*|tanishtir*",), ("own|his|her|their|своё|свое|своим|себя|o'z*|uning", _NAME_WORDS)),
)
ASK_NAME = _Intent(
    "ask_name",
    {"en": "asking the name", "ru": "вопрос об имени", "uz": "ismini so'rash"},
    "all",
    _lists(
        en="your name|your full name|your first name|your surname|your last name|"
        "who i'm speaking with|who am i speaking with|who i am speaking with|"
        "who am i speaking to|who i'm speaking to|who is speaking|"
        "who's calling|who is calling|how can i address you|how should i address you|how may i address you|"
        "may i ask who|introduce yourself",
        ru="вас зовут|к вам обращаться|ваше имя|вашего имени|представьтесь|как вас величать|ваше фио",
        uz="ismingiz*|ismi sharif*|sizga qanday murojaat|kim bilan gaplash*|o'zingizni tanishtir*",
    ),
    _trigger((_NAME_WORDS, _ASK_WORDS)),
)
COMPANY_NAME = _Intent(
    "company_name",
    {"en": "company name", "ru": "название компании", "uz": "kompaniya nomi"},
    "first",
    _PatternSet(()),  # the request's company_name, compared by sound across scripts
    _trigger(("compan*|firm*|brand*|organi*|компани*|фирм*|бренд*|организац*|магазин*|kompaniya*|tashkilot*|dokon*",)),
)
FAREWELL = _Intent(
    "farewell",
    {"en": "farewell", "ru": "прощание", "uz": "xayrlashish"},
    "last",
    _lists(
        en="goodbye|good bye|bye|have a _ day|have a _ evening|have a good one|take care|talk to you later|"
        "talk to you soon|all the best|see you",
        ru="до свидания|всего доброго|всего хорошего|всего наилучшего|хорошего дня|хорошего вечера|до встречи|"
        "прощайте|до связи|удачного дня|хорошего вам дня|хорошего вам вечера|всего вам доброго|всего вам хорошего",
        uz="xayr|hayr|xayrli kun|yaxshi kun tilayman|yaxshi qoling|sog' bo'ling|salomat bo'ling|ko'rishguncha|"
        "kuningiz xayrli o'tsin",
    ),
    _trigger(("farewell*|goodbye|bye|прощ*|попрощ*|свидани*|xayr*|hayr*",)),
)
OFFER_HELP = _Intent(
    "offer_help",
    {"en": "offer of help", "ru": "предложение помощи", "uz": "yordam taklifi"},
    "all",
    _lists(
        en="help you|can i help|may i help|how can i help|how may i help|assist you|how can i assist|"
        "what can i do for you|happy to help|glad to help|may i assist|can i assist",
        ru="чем могу помочь|могу помочь|помочь вам|вам помочь|чем могу быть полез*|помогу|подскажу",
        uz="yordam bera olaman|yordam beraman|yordam ber*|qanday yordam|yordam kerak*|xizmat qila olaman|"
        "sizga qanday xizmat",
    ),
    _trigger(("help*|assist*|помо*|помощ*|yordam*",)),
)
CONFIRM_NEXT_STEP = _Intent(
    "confirm_next_step",
    {"en": "next step confirmed", "ru": "подтверждение следующего шага", "uz": "keyingi qadamni tasdiqlash"},
    "all",
    _lists(
        en="placed your order|i've placed|order is confirmed|i will call you|i'll call you|we will call you|"
        "we'll call you|i will send|i'll send|you'll get|you will get|you'll receive|you will receive|"
        "we will deliver|we'll deliver|will be delivered|i'll email|i will email|we'll send|we will send|i'll text|"
        "i will text|i have booked|i've booked|i've scheduled|i have scheduled",
        ru="заказ оформлен|оформил* заказ|перезвоню|перезвоним|курьер позвонит|доставим|доставят|мы свяжемся|"
        "я свяжусь|отправлю вам|отправим вам|вы получите",
        uz="qabul qilindi|rasmiylashtirildi|qo'ng'iroq qilaman|aloqaga chiqaman|yetkazib beramiz|yetkazib beriladi|"
        "sizga qo'ng'iroq qiladi|yuboraman|jo'natamiz",
    ),
    _trigger(("confirm*|next step*|подтвер*|следующ*|договор*|tasdiq*|keyingi qadam*|kelish*",)),
)
THANK = _Intent(
    "thank",
    {"en": "thanks", "ru": "благодарность", "uz": "minnatdorchilik"},
    "all",
    _lists(en="thank*|appreciate*", ru="спасибо|благодар*", uz="rahmat|raxmat|tashakkur|minnatdor*"),
    _trigger(("thank*|gratitud*|спасибо|благодар*|rahmat*|raxmat*|tashakkur*|minnatdor*",)),
)
POLITE = _Intent(
    "polite",
    {"en": "politeness", "ru": "вежливость", "uz": "xushmuomalalik"},
    "all",
    _lists(
        en="please|thank*|my pleasure|you're welcome|sorry|apolog*|excuse me|i understand",
        ru="пожалуйста|спасибо|благодар*|извините|простите|будьте добры|понимаю",
        uz="iltimos|rahmat|raxmat|marhamat|kechirasiz|uzr|tushunaman|hurmatli",
    ),
    _trigger(
        ("polite*|courte*|rude*|respect*|вежлив*|груб*|корректн*|уважит*|xushmuomala*|odob*|hurmat*|muloyim*|qopol*",)
    ),
)
INTENTS = (COMPANY_NAME, INTRODUCE, ASK_NAME, GREETING, FAREWELL, OFFER_HELP, CONFIRM_NEXT_STEP, THANK, POLITE)

_RUDE = _lists(
    en="what is it|what do you want|nothing i can do|not my problem|not my job|calm down|shut up|stupid|idiot|whatever|"
    "i don't care|hurry up",
    ru="ничего сделать не могу|ничего не могу сделать|не моя проблема|не мои проблемы|мужчина|женщина|"
    "у меня другие звонки|что вам надо|успокойтесь|идиот|дурак|не ваше дело|говорите быстрее",
    uz="hech narsa qila olmayman|mening ishim emas|tez gapiring|jim bo'ling|ahmoq|menga farqi yo'q",
)

# --- sentiment lexicons -------------------------------------------------------------------------------------------
# (pattern, weight): positive weights praise, negative ones complaints, 0 swallows set phrases ("good morning") so
# their words do not count. Plain thanks weigh 0.5 (politeness, also in refusals); "thank you very much" weighs 1.


def _weighted(weight: float, *, en: str = "", ru: str = "", uz: str = "") -> tuple[tuple[_Pattern, float], ...]:
    return tuple((pattern, weight) for source in (en, ru, uz) if source for pattern in _compile(source))


_LEXICON = tuple(
    sorted(
        _weighted(
            0,
            en="good morning|good afternoon|good evening|good day|good time|good one|nice day|great day|nice evening",
            ru="добрый день|добрый вечер|доброе утро|всего доброго|всего хорошего",
            uz="xayrli kun|yaxshi kun|yaxshi qoling",
        )
        + _weighted(
            1,
            en="great|perfect|wonderful|excellent|amazing|fantastic|awesome|helpful|happy|glad|pleased|satisfied|love|"
            "appreciate*|brilliant|thank you very much|thank you so much|thanks a lot|many thanks",
            ru="отлично|отличн*|прекрасно|замечательно|супер|здорово|доволен|довольна|рад|рада|понравил*|помогли|"
            "спасибо большое|большое спасибо|спасибо огромное|огромное спасибо|спасибо вам огромное|"
            "спасибо вам большое|благодар*",
            uz="katta rahmat|katta raxmat|ko'p rahmat|rahmat katta|tashakkur|zo'r|ajoyib|a'lo|mamnun*|xursand*|yoqdi|"
            "yordam berdingiz|qoyil",
        )
        + _weighted(
            0.5,
            en="good|nice|acceptable|thank you|thanks",
            ru="хорошо|спасибо|удобно",
            uz="rahmat|raxmat|yaxshi",
        )
        + _weighted(
            -1,
            en="disappointed|disappointing|ridiculous|unacceptable|not acceptable|terrible|awful|horrible|angry|"
            "annoyed|frustrat*|upset|useless|worst|complaint|complain*|third time|still hasn't|still haven't|"
            "never arrived|speak to a manager|speak to your manager",
            ru="безобраз*|ужасн*|отвратительн*|жалоб*|претензи*|возмутительн*|недовол*|третий раз|до сих пор нет|"
            "до сих пор не|разочарован*|кошмар|хамство|надоело|сколько можно",
            uz="yomon|shikoyat*|uchinchi marta|norozi*|xafa|dahshat*|yoqmadi|yoqmaydi",
        )
        + _weighted(
            -0.5,
            en="bad|poor|refund|second time|still not|problem",
            ru="плох*|почему никто|второй раз",
            uz="ikkinchi marta|hali ham|kelmadi|hech kim",
        ),
        key=lambda entry: -len(entry[0]),  # longest first, so "thank you very much" wins over "thank you"
    )
)
_LEXICON_WITH_RUDE = tuple(
    sorted(_LEXICON + tuple((pattern, -1.0) for pattern in _RUDE.patterns), key=lambda entry: -len(entry[0]))
)
_CUSTOMER_WORDS = (_PatternSet(pattern for pattern, _ in _LEXICON), tuple(weight for _, weight in _LEXICON))
_OPERATOR_WORDS = (
    _PatternSet(pattern for pattern, _ in _LEXICON_WITH_RUDE),
    tuple(weight for _, weight in _LEXICON_WITH_RUDE),
)
_NEGATE_BEFORE = frozenset(
    _key(w)
    for w in "not no never don't doesn't didn't isn't wasn't aren't can't cannot won't не нет ни никогда".split()
)
_NEGATE_AFTER = frozenset({"emas", "yoq"})  # Uzbek negates after the word: yaxshi emas
_INTENSIFIERS = frozenset(
    _key(w) for w in "very really so extremely absolutely totally очень крайне juda nihoyatda".split()
)
_POSITIVE_AT, _NEGATIVE_AT = 1.5, -1.0  # from the fixtures: two plain "thanks" in a refusal stay neutral

# --- outcome, purpose, topics -------------------------------------------------------------------------------------

_SALE_CONFIRMED = _lists(
    en="placed your order|order is confirmed|order has been placed|i've placed",
    ru="заказ оформлен|оформил* заказ|заказ принят",
    uz="qabul qilindi|rasmiylashtirildi",
)
_CALLBACK = _lists(
    en="call you back|call me back|call back|callback|call you later|call me later",
    ru="перезвон*|позвоните позже|позвоню позже",
    uz="qayta qo'ng'iroq*|keyinroq qo'ng'iroq*|qo'ng'iroq qilaman|keyinroq gaplash*",
)
_COMPLAINT = _lists(
    en="complaint|complain*|refund|not acceptable|unacceptable|ridiculous|speak to a manager|delayed",
    ru="жалоб*|претензи*|безобраз*|возмутительн*|задерживается|до сих пор нет",
    uz="shikoyat*|norozi*|hali ham kelmadi",
)
_RESOLVED = _lists(
    en="resolved|fixed|sorted out|refund approved|we will refund",
    ru="решен*|решили|исправ*|вернем деньги",
    uz="hal qilindi|hal bo'ldi|pulingiz qaytariladi",
)
_REFUSED = _lists(
    en="not interested|no thank you|no thanks|don't need|please don't",
    ru="неинтересно|не интересно|не надо|не нужно|нет спасибо",
    uz="kerak emas|qiziq emas|qiziqmayman|yo'q rahmat|shart emas",
)
_AGREED = _lists(
    en="agreed|deal|that works|sounds good",
    ru="договорились|согласен|согласна|подходит",
    uz="kelishdik|mayli|xo'p|roziman",
)
_QUESTION = _lists(
    en="can i|could you|is it|do you|i wanted to ask|tell me",
    ru="подскажите|скажите|можно ли|хотел спросить|хотела спросить",
    uz="bilmoqchi|so'ramoqchi|qancha|qachon|qayerda",
)
_REQUEST = _lists(
    en="i'd like|i would like|i want|i need|i wanted|could you|can you|can i|i'm calling|this is the _ time",
    ru="хочу|хотел|хотела|нужно|нужен|можно|подскажите|звоню|мой заказ",
    uz="moqchi*|kerak|bilmoqchi|qo'ng'iroq qilyapman",
)
_TOPICS = (
    ("order", {"en": "order / purchase", "ru": "заказ / покупка", "uz": "buyurtma / xarid"},
     _lists(en="order*|buy|purchase|i'll take", ru="заказ*|купить|куплю|оформ*", uz="buyurtma*|sotib ol*")),
    ("delivery", {"en": "delivery", "ru": "доставка", "uz": "yetkazib berish"},
     _lists(en="deliver*|arrive*|tracking|courier", ru="достав*|курьер*|привез*", uz="yetkaz*|kuryer*|kelmadi")),
    ("complaint", {"en": "complaint", "ru": "жалоба", "uz": "shikoyat"}, _COMPLAINT),
    ("return", {"en": "return / refund", "ru": "возврат", "uz": "qaytarish"},
     _lists(en="return*|refund*", ru="вернуть|верн*|возврат*", uz="qaytar*")),
    ("callback", {"en": "callback", "ru": "обратный звонок", "uz": "qayta qo'ng'iroq"}, _CALLBACK),
    ("promotion", {"en": "offer / promotion", "ru": "акция / предложение", "uz": "aksiya / taklif"},
     _lists(en="offer*|discount*|catalogue", ru="скидк*|акци*|каталог*", uz="aksiya*|chegirma*|katalog*")),
    ("payment", {"en": "payment", "ru": "оплата", "uz": "to'lov"},
     _lists(en="pay|payment|card|cost*|price*|dollars", ru="оплат*|карт*|стоит|цена", uz="to'lov*|karta*|narx*")),
    ("store_hours", {"en": "store hours", "ru": "режим работы", "uz": "ish vaqti"},
     _lists(en="open|opening hours", ru="работает|режим работы|открыт*", uz="ish vaqti|ochiq")),
)  # fmt: skip
_TOPIC_LABELS = {key: labels for key, labels, _ in _TOPICS}

# --- answer-language texts ----------------------------------------------------------------------------------------

_TEXTS = {
    "en": {
        "example_met": 'said an example phrase ("{phrase}")',
        "example_missed": "none of the example phrases was said",
        "found": "{labels}: found",
        "missed": "{labels}: not found ({scope}, {speaker})",
        "no_rule": "no rule for this criterion; needs an LLM or example phrases",
        "no_turns": "no speech from the {speaker} in the transcript",
        "no_company": "the company name is not set, so it cannot be checked",
        "name_said": "said “{name}”",
        "name_heard": "heard “{heard}” ≈ “{name}” ({similarity} alike by sound)",
        "rude": 'rude wording: "{phrase}"',
        "no_courtesy": "no courtesy words (please, thank you, sorry)",
        "first": "first 2 turns", "last": "last 2 turns", "all": "all turns",
        "operator": "operator", "customer": "customer", "any": "both sides",
        "heuristic": "heuristic (word lists)", "positive": "positive", "negative": "negative",
        "no_words": "no emotional words found",
        "customer_said": "Customer", "operator_said": "Operator", "nothing": "No substantive speech in the call.",
        "unknown_purpose": "not determined",
        "condition_absent": "not applicable: {condition}",
        "complaint": "the customer did not complain", "refusal": "the customer did not refuse",
        "question": "the customer asked nothing", "wait": "nobody had to wait",
        "not_discussed": "not applicable: the call ended before the customer's need came up (wrong number or no "
        "time to talk)",
        "meaning_found": "found", "meaning_missed": "not found in the operator's turns",
        "no_rudeness": "no rude wording in any turn",
        "weighed": "weighed with how the call went (an unresolved problem, angry last words, thanks while saying no)",
        "low_confidence": "the transcript is low confidence (words not reliable): not scored, needs review",
    },
    "ru": {
        "example_met": "сказана фраза из примеров («{phrase}»)",
        "example_missed": "ни одна фраза из примеров не прозвучала",
        "found": "{labels}: найдено",
        "missed": "{labels}: не найдено ({scope}, {speaker})",
        "no_rule": "нет правила для этого критерия; нужен LLM или примеры фраз",
        "no_turns": "в расшифровке нет реплик (сторона: {speaker})",
        "no_company": "название компании не задано, проверить нельзя",
        "name_said": "сказано «{name}»",
        "name_heard": "услышано «{heard}» ≈ «{name}» (похоже по звучанию на {similarity})",
        "rude": "грубая формулировка: «{phrase}»",
        "no_courtesy": "нет вежливых слов (пожалуйста, спасибо, извините)",
        "first": "первые 2 реплики", "last": "последние 2 реплики", "all": "все реплики",
        "operator": "оператор", "customer": "клиент", "any": "обе стороны",
        "heuristic": "эвристика (словари)", "positive": "позитивные", "negative": "негативные",
        "no_words": "эмоционально окрашенных слов нет",
        "customer_said": "Клиент", "operator_said": "Оператор", "nothing": "В звонке нет содержательной речи.",
        "unknown_purpose": "не определена",
        "condition_absent": "не применимо: {condition}",
        "complaint": "клиент не жаловался", "refusal": "клиент не отказывался",
        "question": "клиент ничего не спрашивал", "wait": "ожидания не было",
        "not_discussed": "не применимо: звонок закончился до разговора о потребности (ошиблись номером или "
        "клиенту некогда)",
        "meaning_found": "найдено", "meaning_missed": "не найдено в репликах оператора",
        "no_rudeness": "грубых формулировок нет",
        "weighed": "с учётом хода звонка (нерешённая проблема, резкие последние слова, «спасибо» при отказе)",
        "low_confidence": "расшифровка ненадёжна (слова распознаны плохо): не оценивается, нужна проверка",
    },
    "uz": {
        "example_met": "namunaviy ibora aytildi (“{phrase}”)",
        "example_missed": "namunaviy iboralarning birortasi aytilmadi",
        "found": "{labels}: topildi",
        "missed": "{labels}: topilmadi ({scope}, {speaker})",
        "no_rule": "bu mezon uchun qoida yo'q; LLM yoki namunaviy iboralar kerak",
        "no_turns": "transkriptda gap yo'q (tomon: {speaker})",
        "no_company": "kompaniya nomi kiritilmagan, tekshirib bo'lmaydi",
        "name_said": "aytildi: “{name}”",
        "name_heard": "eshitildi: “{heard}” ≈ “{name}” (talaffuzi {similarity} o'xshash)",
        "rude": "qo'pol ibora: “{phrase}”",
        "no_courtesy": "xushmuomala so'zlar yo'q (iltimos, rahmat, kechirasiz)",
        "first": "dastlabki 2 ta gap", "last": "oxirgi 2 ta gap", "all": "barcha gaplar",
        "operator": "operator", "customer": "mijoz", "any": "ikkala tomon",
        "heuristic": "evristika (so'z ro'yxatlari)", "positive": "ijobiy", "negative": "salbiy",
        "no_words": "hissiy so'zlar topilmadi",
        "customer_said": "Mijoz", "operator_said": "Operator", "nothing": "Qo'ng'iroqda mazmunli gap yo'q.",
        "unknown_purpose": "aniqlanmadi",
        "condition_absent": "tegishli emas: {condition}",
        "complaint": "mijoz shikoyat qilmadi", "refusal": "mijoz rad etmadi",
        "question": "mijoz savol bermadi", "wait": "kutish bo'lmadi",
        "not_discussed": "tegishli emas: qo'ng'iroq ehtiyoj muhokamasidan oldin tugadi",
        "meaning_found": "topildi", "meaning_missed": "operator gaplarida topilmadi",
        "no_rudeness": "qo'pol iboralar yo'q",
        "weighed": "qo'ng'iroq qanday o'tgani hisobga olindi",
        "low_confidence": "transkript ishonchsiz (so'zlar noaniq): baholanmaydi, tekshirish kerak",
    },
}  # fmt: skip
_QUOTE_MAX_CHARS = 200  # a longer sentence is cut down to the matched words, so the quote stays readable
_SUMMARY_MIN_WORDS = 5  # "Hi Sarah." or "Please bring the receipt." does not sum a call up


# --- per-call structures ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Turn:
    turn: TurnText
    keys: list[str]
    spans: list[tuple[int, int]]
    clauses: list[int]
    sentences: list[int]
    positions: dict[str, list[int]]  # word -> where it occurs
    initials: dict[str, list[int]]  # first letter -> where words starting with it occur
    sounds: list[str] | None = None  # _sound of each key, made when a company name is looked for


@dataclass(frozen=True, slots=True)
class _Hit:
    turn: _Turn
    start: int  # token range [start, end]
    end: int

    def quote(self) -> str:
        text, keys_sentences, spans = self.turn.turn.text, self.turn.sentences, self.turn.spans
        first, last = keys_sentences[self.start], keys_sentences[self.end]
        begin = next(spans[i][0] for i in range(len(spans)) if keys_sentences[i] == first)
        finish = max(spans[i][1] for i in range(len(spans)) if keys_sentences[i] == last)
        while finish < len(text) and text[finish] in ".!?…":
            finish += 1
        if finish - begin > _QUOTE_MAX_CHARS:
            begin, finish = spans[self.start][0], spans[self.end][1]
        return text[begin:finish]

    def words(self) -> str:
        return self.turn.turn.text[self.turn.spans[self.start][0] : self.turn.spans[self.end][1]]


@dataclass(frozen=True, slots=True)
class _NameHit(_Hit):
    """A company name heard in a turn: which spelling of it (the company's or an example's), and how alike by sound."""

    name: str = ""
    similarity: float = 0.0


def _prepare(turn: TurnText) -> _Turn:
    text = turn.text
    uzbek = _is_uzbek_cyrillic(text.lower())
    keys: list[str] = []
    spans: list[tuple[int, int]] = []
    clauses: list[int] = []
    sentences: list[int] = []
    positions: dict[str, list[int]] = {}
    initials: dict[str, list[int]] = {}
    clause = sentence = 0
    previous_end = 0
    for match in _WORD.finditer(text):
        gap = text[previous_end : match.start()]
        if keys and any(ch in _SENTENCE_MARKS for ch in gap):
            sentence += 1
            clause += 1
        elif keys and any(ch in _CLAUSE_MARKS for ch in gap):
            clause += 1
        key = _key(_normalise_word(match.group(), uzbek=uzbek))
        positions.setdefault(key, []).append(len(keys))
        initials.setdefault(key[:1], []).append(len(keys))
        keys.append(key)
        spans.append(match.span())
        clauses.append(clause)
        sentences.append(sentence)
        previous_end = match.end()
    return _Turn(turn, keys, spans, clauses, sentences, positions, initials)


def _index(keys: list[str]) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    positions: dict[str, list[int]] = {}
    initials: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        positions.setdefault(key, []).append(i)
        initials.setdefault(key[:1], []).append(i)
    return positions, initials


def _match_at(pattern: _Pattern, keys: list[str], i: int) -> bool:
    if i < 0 or i + len(pattern) > len(keys):
        return False
    for offset, (kind, value) in enumerate(pattern.elements):
        key = keys[i + offset]
        if (
            (kind == _EXACT and key != value)
            or (kind == _PREFIX and not key.startswith(value))
            or (kind == _ANY_BUT and f",{key}," in value)
        ):
            return False
    return True


def _find_in(
    pattern: _Pattern, keys: list[str], positions: dict[str, list[int]], initials: dict[str, list[int]], start: int = 0
) -> int | None:
    """Where the pattern first matches at or after `start`: candidates come from the word index, not a scan."""
    if pattern.anchor >= 0:
        shift = pattern.anchor
        candidates: Iterable[int] = (j - shift for j in positions.get(pattern.elements[shift][1], ()))
    elif pattern.elements[0][0] == _PREFIX:
        candidates = initials.get(pattern.elements[0][1][:1], ())
    else:
        candidates = range(len(keys))
    for i in candidates:
        if i >= start and _match_at(pattern, keys, i):
            return i
    return None


def _find(pattern: _Pattern, turn: _Turn, start: int = 0) -> int | None:
    return _find_in(pattern, turn.keys, turn.positions, turn.initials, start)


def _first_hit(patterns: _PatternSet, turns: list[_Turn]) -> _Hit | None:
    """The earliest match in turn order (then word order), whichever pattern it is."""
    for turn in turns:
        best: tuple[int, int] | None = None
        for index in patterns.candidates(turn.positions, turn.initials):
            pattern = patterns.patterns[index]
            i = _find(pattern, turn)
            if i is not None and (best is None or i < best[0]):
                best = (i, i + len(pattern) - 1)
        if best is not None:
            return _Hit(turn, *best)
    return None


def _any_in(patterns: _PatternSet | tuple[_Pattern, ...], keys: list[str]) -> bool:
    positions, initials = _index(keys)
    if isinstance(patterns, _PatternSet):
        chosen = [patterns.patterns[index] for index in patterns.candidates(positions, initials)]
    else:
        chosen = list(patterns)
    return any(_find_in(pattern, keys, positions, initials) is not None for pattern in chosen)


@lru_cache(maxsize=4096)
def _phrase_keys(phrase: str) -> tuple[str, ...]:
    lowered = phrase.lower()
    uzbek = _is_uzbek_cyrillic(lowered)
    return tuple(_key(_normalise_word(m.group(), uzbek=uzbek)) for m in _WORD.finditer(lowered))


@lru_cache(maxsize=65536)
def _similar(example: str, word: str) -> bool:
    """Small variation between an example's word and a spoken one: inflection (заказ/заказать) or one slip."""
    if example == word:
        return True
    if len(example) >= 4 and word.startswith(example) and len(word) - len(example) <= 6:
        return True
    if len(word) >= 5 and example.startswith(word) and len(example) - len(word) <= 2:
        return True
    if min(len(example), len(word)) >= 5 and abs(len(example) - len(word)) <= 2 and example[0] == word[0]:
        return SequenceMatcher(None, example, word).ratio() >= 0.8
    return False


def _example_hit(phrase: tuple[str, ...], turns: list[_Turn]) -> _Hit | None:
    """All of a short example's words, in order, within its length + 2 words; longer ones may miss one word in four."""
    n = len(phrase)
    if n == 0:
        return None
    needed = n if n <= 3 else n - n // 4
    openers = phrase[: n - needed + 1]
    for turn in turns:
        keys = turn.keys
        # _similar never pairs words with different first letters, so only those positions can open a match
        for i in sorted({i for word in openers for i in turn.initials.get(word[0], ())}):
            if not any(_similar(word, keys[i]) for word in openers):
                continue
            limit, position, matched, last = min(len(keys), i + n + 2), i, 0, i
            for word in phrase:
                for k in range(position, limit):
                    if _similar(word, keys[k]):
                        matched, last, position = matched + 1, k, k + 1
                        break
            if matched >= needed:
                return _Hit(turn, i, last)
    return None


# A company name is matched by sound (_sound) over word n-grams of the turn, however the engine spelt it. 0.85 is one
# letter off in about seven: "Pialyx Market", "Диалекс маркет" and, for "Dialix", "Dialeks" (86%) pass; "dialysis"
# (80%), "dialects" (80%), "dial" and "Dali" (73%) do not. The reason shows what was heard and the similarity.
_NAME_AT = 0.85
# Each word of the name against the word heard in its place, so one close word cannot carry a wrong one: "dialysis
# market" (80%) and "dial market" are not Dialix Market. 0.82: one letter changed in six, one added or dropped in four.
_NAME_WORD_AT = 0.82
_NAME_SPLIT_AT = 0.9  # the name heard as one word more or fewer ("Dial X Market", "DialixMarket"): closer still
_NAME_ENDING = 4  # letters an ending may add after the whole name (Dialixni, Dialix Marketdan, Диаликс Маркета)
_NAME_ASIDE = re.compile(r"\([^)]*\)|\[[^\]]*\]")  # "Dialix Market (demo)": nobody says the aside
_LEGAL_FORMS = frozenset(_sound(w) for w in "ооо оао зао ао ип чп llc ltd inc corp gmbh mchj xk qk".split())


@lru_cache(maxsize=256)
def _name_sounds(name: str) -> tuple[str, ...]:
    """The sounds of the words one says of a company name: no aside in brackets, no legal form (ООО, LLC, MChJ)."""
    sounds = tuple(_sound(key) for key in _phrase_keys(_NAME_ASIDE.sub(" ", name)))
    said = tuple(sound for sound in sounds if sound not in _LEGAL_FORMS)
    return said or sounds


@lru_cache(maxsize=65536)
def _alike(expected: str, heard: str, at: float) -> float:
    """How alike two sounds are (0..1; 0 when below `at`, which also skips the full comparison)."""
    if len(expected) >= 4 and heard.startswith(expected) and len(heard) - len(expected) <= _NAME_ENDING:
        return 1.0  # the name itself with a case ending (not for a name of three letters or fewer: "Oz" is not "ozone")
    matcher = SequenceMatcher(None, expected, heard, autojunk=False)
    if matcher.real_quick_ratio() < at or matcher.quick_ratio() < at:
        return 0.0
    ratio = matcher.ratio()
    return ratio if ratio >= at else 0.0


def _name_at(name: tuple[str, ...], heard: list[str]) -> float:
    """How alike by sound the name is to these heard words (0 when they are not the name)."""
    expected = "".join(name)
    if len(heard) == len(name):
        if not all(_alike(word, said, _NAME_WORD_AT) for word, said in zip(name, heard, strict=True)):
            return 0.0
        return _alike(expected, "".join(heard), _NAME_AT)
    return _alike(expected, "".join(heard), _NAME_SPLIT_AT)


def _company_hit(name: str, turns: list[_Turn]) -> _NameHit | None:
    """The first turn that says `name` (or something that sounds like it), at its most alike words."""
    sounds = _name_sounds(name)
    if not sounds:
        return None
    sizes = sorted({len(sounds), len(sounds) + 1, max(1, len(sounds) - 1)})
    for turn in turns:
        if turn.sounds is None:
            turn.sounds = [_sound(key) for key in turn.keys]
        best: tuple[float, int, int] | None = None
        for i in range(len(turn.sounds)):
            for size in sizes:
                if i + size > len(turn.sounds):
                    break
                similarity = _name_at(sounds, turn.sounds[i : i + size])
                if similarity and (best is None or similarity > best[0]):
                    best = (similarity, i, i + size - 1)
        if best is not None:
            return _NameHit(
                turn, best[1], best[2], name=" ".join(_NAME_ASIDE.sub(" ", name).split()), similarity=best[0]
            )
    return None


def _name_detail(hit: _NameHit, texts: dict[str, str]) -> str:
    """What was heard for the name and how alike it is, e.g. heard “Dialics Market” ≈ “Dialix Market” (100% ...)."""
    heard = hit.words()
    if hit.turn.keys[hit.start : hit.end + 1] == list(_phrase_keys(hit.name)):
        return texts["name_said"].format(name=heard)
    return texts["name_heard"].format(heard=heard, name=hit.name, similarity=f"{hit.similarity:.0%}")


# --- criteria -> intents ------------------------------------------------------------------------------------------


_EXPLICIT_INTRODUCTION = _compile("introduc*|tanishtir*")


@lru_cache(maxsize=4096)
def intents_for(criterion: str) -> tuple[str, ...]:
    """Names of the built-in rules a criterion asks for, all of which must hold (empty: no rule applies)."""
    keys = list(_phrase_keys(criterion))
    found = [
        intent for intent in INTENTS if any(all(_any_in(part, keys) for part in group) for group in intent.triggers)
    ]
    if ASK_NAME in found and INTRODUCE in found and not _any_in(_EXPLICIT_INTRODUCTION, keys):
        found.remove(INTRODUCE)  # "asked their name" is about the customer, not the operator's own name
    return tuple(intent.name for intent in found)


_INTENTS_BY_NAME = {intent.name: intent for intent in INTENTS}


# --- the analyzer -------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Call:
    request: AnalysisRequest
    texts: dict[str, str]
    turns: list[_Turn]
    by_speaker: dict[str, list[_Turn]] = field(default_factory=dict)
    memo: dict[tuple[str, str], tuple[_Hit | None, str]] = field(default_factory=dict)
    example_memo: dict[tuple[tuple[str, ...], str, str], _Hit | None] = field(default_factory=dict)
    facts: _Facts | None = None

    def scoped(self, speaker: str, scope: str) -> list[_Turn]:
        turns = self.by_speaker[speaker]
        return turns[:2] if scope == "first" else turns[-2:] if scope == "last" else turns


class OfflineAnalyzer:
    name = "offline:rules-v2"  # v2: conditions, needs / solution / commitment facts, outcome and sentiment from them

    def analyze(self, request: AnalysisRequest) -> Analysis:
        texts = _TEXTS.get(request.answer_language, _TEXTS["en"])
        if request.low_confidence:
            return _not_scored(self.name, request, texts)
        turns = [_prepare(turn) for turn in request.turns if turn.text.strip()]
        call = _Call(request, texts, turns)
        call.by_speaker = {
            "operator": [t for t in turns if t.turn.speaker == "operator"],
            "customer": [t for t in turns if t.turn.speaker == "customer"],
            "any": turns,
        }
        call.facts = _facts(call)
        outcome = _outcome(call)
        by_words, customer_reason, customer_thanked, score = _sentiment(call.by_speaker["customer"], texts, rude=False)
        customer = _customer_sentiment(call, outcome, score)
        if customer != by_words:
            customer_reason += f"; {texts['weighed']}"
        operator, operator_reason, _, _ = _sentiment(call.by_speaker["operator"], texts, rude=True)
        if _first_hit(_RUDE_MORE, call.by_speaker["operator"]):
            operator = "negative"
        satisfied: bool | None = None
        if customer == "positive":
            satisfied = True
        elif customer == "negative" or outcome == "not_resolved":
            satisfied = False
        elif customer_thanked and outcome != "refused":
            satisfied = True
        opening = _opening_sentence(call)
        topics = _topics(call)
        return Analysis(
            engine=self.name,
            summary=_summary(call, opening, outcome),
            customer_sentiment=customer,
            customer_sentiment_reason=customer_reason,
            operator_sentiment=operator,
            operator_sentiment_reason=operator_reason,
            purpose=_purpose(call, opening, topics),
            outcome=outcome,
            topics=_topic_labels(call, topics),
            customer_satisfied=satisfied,
            verdicts=tuple(_verdict(call, item) for item in request.items),
            usage=Usage(requests=0),
        )


def _verdict(call: _Call, item: ItemSpec) -> ItemVerdict:
    texts = call.texts
    criterion, condition = split_condition(item.criterion)
    if condition is not None and not _condition_arose(call, condition):
        return ItemVerdict(item.key, "na", reason=texts["condition_absent"].format(condition=texts[condition]))
    intents = [_INTENTS_BY_NAME[name] for name in intents_for(criterion)]
    speaker_turns = call.by_speaker[item.speaker]
    if not speaker_turns:
        answer: Answer = "na" if item.allow_na else "not_met"
        return ItemVerdict(item.key, answer, reason=texts["no_turns"].format(speaker=texts[item.speaker]))
    labels = ", ".join(intent.labels.get(call.request.answer_language, intent.labels["en"]) for intent in intents)
    if item.examples:
        scope_turns = call.scoped(item.speaker, intents[0].scope) if intents else speaker_turns
        if COMPANY_NAME in intents:  # the examples are ways to write the name: heard by sound, like the name
            for example in item.examples:
                if (name_hit := _company_hit(example, scope_turns)) is not None:
                    return _met(item, name_hit, f"{labels}: {_name_detail(name_hit, texts)}")
        for example in item.examples:
            memo_key = (_phrase_keys(example), item.speaker, intents[0].scope if intents else "all")
            if memo_key not in call.example_memo:
                call.example_memo[memo_key] = _example_hit(memo_key[0], scope_turns)
            hit = call.example_memo[memo_key]
            if hit is not None:
                return _met(item, hit, texts["example_met"].format(phrase=example))
        if not intents:
            return ItemVerdict(item.key, "not_met", reason=texts["example_missed"])
    if not intents:
        meaning = _meaning_verdict(call, item, criterion) if speaker_turns else None
        return meaning or ItemVerdict(item.key, "na" if item.allow_na else "not_met", reason=texts["no_rule"])
    facts = call.facts
    assert facts is not None
    if CONFIRM_NEXT_STEP in intents and item.allow_na and facts.wrong_number:
        label = CONFIRM_NEXT_STEP.labels.get(call.request.answer_language, CONFIRM_NEXT_STEP.labels["en"])
        return ItemVerdict(item.key, "na", reason=f"{label}: {texts['not_discussed']}")
    hits: list[_Hit] = []
    for intent in intents:
        hit, status = _intent_hit(call, intent, item.speaker)
        if status == "no_company":
            return ItemVerdict(item.key, "na" if item.allow_na else "not_met", reason=texts["no_company"])
        if status == "rude" and hit is not None:
            quote, turn = hit.quote(), hit.turn.turn
            reason = texts["rude"].format(phrase=hit.words())
            return ItemVerdict(item.key, "not_met", quote, turn.speaker, turn.start_ms, reason)
        if hit is None and intent is INTRODUCE:
            hit = _introduction_hit(call.scoped(item.speaker, "first"), call.request.company_name)
        if hit is None and intent is CONFIRM_NEXT_STEP and item.speaker == "operator":
            hit = facts.commitment or _first_hit(_CALLBACK_PROMISE, speaker_turns)
        if hit is None:
            if intent is POLITE:  # no courtesy words, and no rude ones either: polite enough
                first = speaker_turns[0]
                return _met(item, _Hit(first, 0, len(first.keys) - 1), f"{labels}: {texts['no_rudeness']}")
            scope, speaker = texts[intent.scope], texts[item.speaker]
            return ItemVerdict(
                item.key, "not_met", reason=texts["missed"].format(labels=labels, scope=scope, speaker=speaker)
            )
        hits.append(hit)
    name_hit = next((hit for hit in hits if isinstance(hit, _NameHit)), None)
    if name_hit is not None:
        return _met(item, name_hit, f"{labels}: {_name_detail(name_hit, texts)}")
    return _met(item, hits[0], texts["found"].format(labels=labels))


def _met(item: ItemSpec, hit: _Hit, reason: str) -> ItemVerdict:
    return ItemVerdict(item.key, "met", hit.quote(), hit.turn.turn.speaker, hit.turn.turn.start_ms, reason)


def _intent_hit(call: _Call, intent: _Intent, speaker: str) -> tuple[_Hit | None, str]:
    """The hit for an intent and its status: "found", "missed", "rude" (the hit is the rude words) or "no_company".

    Memoised per call: three checklists asking for a greeting search for it once."""
    memo_key = (intent.name, speaker)
    if memo_key in call.memo:
        return call.memo[memo_key]
    turns = call.scoped(speaker, intent.scope)
    hit: _Hit | None
    if intent is COMPANY_NAME:
        company = call.request.company_name
        hit = _company_hit(company, turns) if _name_sounds(company) else None
        status = "no_company" if not _name_sounds(company) else "found" if hit else "missed"
    elif intent is POLITE and (rude := _first_hit(_RUDE + _RUDE_MORE, turns)) is not None:
        hit, status = rude, "rude"
    else:
        hit = _first_hit(intent.phrases, turns)
        status = "found" if hit else "missed"
    call.memo[memo_key] = (hit, status)
    return hit, status


# --- sentiment ----------------------------------------------------------------------------------------------------


def _sentiment(turns: list[_Turn], texts: dict[str, str], *, rude: bool) -> tuple[Sentiment, str, bool, float]:
    """Sentiment of one side, the one-line reason naming the words found, and whether that side said thanks."""
    score = 0.0
    positive: list[str] = []
    negative: list[str] = []
    thanked = False
    for turn in turns:
        keys, used = turn.keys, [False] * len(turn.keys)
        lexicon, weights = _OPERATOR_WORDS if rude else _CUSTOMER_WORDS
        for index in lexicon.candidates(turn.positions, turn.initials):
            pattern, weight = lexicon.patterns[index], weights[index]
            start = 0
            while (i := _find(pattern, turn, start)) is not None:
                start = i + 1
                end = i + len(pattern) - 1
                if any(used[i : end + 1]):
                    continue
                used[i : end + 1] = [True] * (end - i + 1)
                if weight == 0:
                    continue
                thanked = thanked or _any_in(THANK.phrases, keys[i : end + 1])
                value, first, last = weight, i, end
                clause = turn.clauses[i]
                if i >= 1 and keys[i - 1] in _INTENSIFIERS and turn.clauses[i - 1] == clause:
                    value, first = value * 2, i - 1
                for j in range(max(0, i - 2), i):
                    if keys[j] in _NEGATE_BEFORE and turn.clauses[j] == clause:
                        value, first = -value, min(first, j)
                        break
                for j in range(end + 1, min(len(keys), end + 3)):
                    if keys[j] in _NEGATE_AFTER and turn.clauses[j] == clause:
                        value, last = -value, j
                        break
                score += value
                words = turn.turn.text[turn.spans[first][0] : turn.spans[last][1]]
                (positive if value > 0 else negative).append(f'"{words}"')
    if score >= _POSITIVE_AT:
        sentiment: Sentiment = "positive"
    elif score <= _NEGATIVE_AT:
        sentiment = "negative"
    else:
        sentiment = "neutral"
    parts = [f"{texts[label]}: {', '.join(words)}" for label, words in (("positive", positive), ("negative", negative))]
    found = "; ".join(part for part, words in zip(parts, (positive, negative), strict=True) if words)
    return sentiment, f"{texts['heuristic']}: {found or texts['no_words']}", thanked, score


# --- outcome, purpose, topics, summary ----------------------------------------------------------------------------


def _outcome(call: _Call) -> str:
    operator, customer, everyone = (call.by_speaker[side] for side in ("operator", "customer", "any"))
    facts = call.facts
    assert facts is not None
    if facts.wrong_number:
        return "other"
    if _first_hit(_SALE_CONFIRMED, operator):
        return "sale"
    if (
        facts.accepted is not None
        and facts.commitment is not None
        and facts.complaint is None
        and call.turns.index(facts.commitment.turn) > call.turns.index(facts.accepted.turn)
    ):
        return "sale"  # the customer said yes and the operator confirmed it is done or on its way
    if _first_hit(_CALLBACK, everyone) or facts.callback is not None:
        return "callback"
    if facts.complaint is not None or _first_hit(_COMPLAINT, everyone):
        fixed = facts.solution is not None or facts.commitment is not None or _first_hit(_RESOLVED, operator)
        return "agreed" if fixed and not facts.customer_negative_end else "not_resolved"
    if _first_hit(_REFUSAL_WORDS, customer):
        return "refused"
    if _first_hit(_AGREED, customer):
        return "agreed"
    if any("?" in turn.turn.text for turn in customer) or _first_hit(_QUESTION, customer):
        return "information"
    return "other"


def _sentences(turn: _Turn) -> list[tuple[int, int]]:
    """Token ranges of the turn's sentences."""
    ranges: list[tuple[int, int]] = []
    for index, sentence in enumerate(turn.sentences):
        if ranges and turn.sentences[ranges[-1][0]] == sentence:
            ranges[-1] = (ranges[-1][0], index)
        else:
            ranges.append((index, index))
    return ranges


_SMALL_TALK = _lists(
    en="good time to talk|is this a good time",
    ru="удобно говорить|удобно разговаривать",
    uz="gaplashishga qulay*|vaqtingiz bormi",
)
_ROUTINE = GREETING.phrases + INTRODUCE.phrases + ASK_NAME.phrases + FAREWELL.phrases + THANK.phrases + _SMALL_TALK


def _substantive(turns: list[_Turn], *, prefer: _PatternSet | None = None) -> _Hit | None:
    """The first sentence that carries content: long enough and not a greeting, introduction or thanks formula."""
    fallback: _Hit | None = None
    for turn in turns:
        for start, end in _sentences(turn):
            keys = turn.keys[start : end + 1]
            if len(keys) < _SUMMARY_MIN_WORDS or (len(keys) < 9 and _any_in(_ROUTINE, keys)):
                continue
            if prefer is None or _any_in(prefer, keys):
                return _Hit(turn, start, end)
            fallback = fallback or _Hit(turn, start, end)
    return fallback


def _opening_sentence(call: _Call) -> _Hit | None:
    """What the call is about, never its greeting: the operator's reason for an outbound call, else the request."""
    if call.request.direction == "outbound":  # the operator called, so the operator states why
        company = _name_sounds(call.request.company_name) if call.request.company_name else ()
        for turn, start, end, keys in _sentence_hits(call.by_speaker["operator"]):
            heard = [_sound(key) for key in keys]
            names_company = bool(company) and any(sound in heard for sound in company)
            if len(keys) >= _SUMMARY_MIN_WORDS and not _is_question(turn, start, end) and not names_company:
                if not _any_in(_ROUTINE, keys):
                    return _Hit(turn, start, end)
        return _substantive(call.by_speaker["operator"]) or _substantive(call.by_speaker["customer"])
    facts = call.facts
    if facts is not None and facts.request_at >= 0:
        request = call.turns[facts.request_at]
        for start, end in _sentences(request):
            if len(request.keys[start : end + 1]) >= 4 and not _any_in(_ROUTINE, request.keys[start : end + 1]):
                return _Hit(request, start, end)
    return _substantive(call.by_speaker["customer"][:3], prefer=_REQUEST) or _substantive(call.by_speaker["customer"])


def _summary(call: _Call, opening: _Hit | None, outcome: str) -> str:
    texts = call.texts
    closing = _last_hit(CONFIRM_NEXT_STEP.phrases, call.by_speaker["operator"])
    if closing is None and outcome == "refused":
        closing = _last_hit(_REFUSED, call.by_speaker["customer"], latest=True)
    if closing is None and outcome == "not_resolved":
        closing = _last_hit(_COMPLAINT, call.by_speaker["customer"], latest=True)
    facts = call.facts
    if closing is None and facts is not None and outcome not in ("refused", "not_resolved"):
        closing = facts.commitment or facts.solution  # the next step, else the resolution
    if closing is None:
        closing = _last_substantive(call.by_speaker["operator"])
    parts: list[str] = []
    for hit in (opening, closing):
        if hit is None or (parts and hit.quote() in parts[-1]):
            continue
        who = texts["operator_said"] if hit.turn.turn.speaker == "operator" else texts["customer_said"]
        parts.append(f"{who}: {_sentence_text(hit)}")
    return " ".join(parts) or texts["nothing"]


def _sentence_text(hit: _Hit) -> str:
    quote = hit.quote()
    return quote if quote[-1:] in ".!?…" else quote + "."


def _last_hit(patterns: _PatternSet, turns: list[_Turn], *, latest: bool = False) -> _Hit | None:
    """The match in the last turn that has one: its first match, or its last with `latest`."""
    for turn in reversed(turns):
        chosen = [patterns.patterns[index] for index in patterns.candidates(turn.positions, turn.initials)]
        found = [(i, i + len(p) - 1) for p in chosen if (i := _find(p, turn)) is not None]
        if found:
            return _Hit(turn, *(max(found) if latest else min(found)))
    return None


def _last_substantive(turns: list[_Turn]) -> _Hit | None:
    for turn in reversed(turns):
        for start, end in reversed(_sentences(turn)):
            keys = turn.keys[start : end + 1]
            if len(keys) >= _SUMMARY_MIN_WORDS and not _any_in(_ROUTINE, keys):
                return _Hit(turn, start, end)
    return None


def _purpose(call: _Call, opening: _Hit | None, topics: list[str]) -> str:
    """A complaint anywhere in the call is its purpose; otherwise the topic of the opening request, or its words."""
    language = call.request.answer_language if call.request.answer_language in _TEXTS else "en"
    if "complaint" in topics:
        return _TOPIC_LABELS["complaint"][language]
    if opening is None:
        return call.texts["unknown_purpose"]
    keys = opening.turn.keys[opening.start : opening.end + 1]
    for _, topic_labels, patterns in _TOPICS:
        if _any_in(patterns, keys):
            return topic_labels[language]
    return _sentence_text(opening)


def _topics(call: _Call) -> list[str]:
    """Keys of the topics the call touches, in _TOPICS order."""
    return [key for key, _, patterns in _TOPICS if _first_hit(patterns, call.turns)]


def _topic_labels(call: _Call, topics: list[str]) -> tuple[str, ...]:
    language = call.request.answer_language if call.request.answer_language in _TEXTS else "en"
    return tuple(_TOPIC_LABELS[key][language] for key in topics)


# --- meaning beyond phrases: conditions, needs, solutions, commitments, complaints ----------------------------------
# Written from how calls go in general, in classes of words rather than sentences: a question the operator asks after
# the customer's request is needs-finding; a proposal or a done action answering it is a solution; a future or done
# action with a time, a date or a channel is a commitment. The evaluation set (fixtures/eval) measures them; no list
# here is edited to fit one of its calls.

_CONDITION_WORDS = _compile("if|when|whenever|in case|если|когда|в случае|при|agar|basharti")
# What a condition is about -> the call fact that triggers it.
_CONDITION_KINDS = (
    ("complaint", _lists(en="complain*|complaint*|problem*|unhappy|dissatisf*|upset|angry|issue*",
                         ru="жалу*|жалоб*|недовол*|претенз*|проблем*|возмущ*|расстро*",
                         uz="shikoyat*|norozi*|muammo*")),
    ("refusal", _lists(en="refus*|declin*|says no|not interested|object*",
                       ru="отказ*|отказыва*|возраж*|не интерес*", uz="rad*|voz kech*|qiziqma*")),
    ("question", _lists(en="ask*|question*", ru="спрашива*|вопрос*|интересу*", uz="so'ra*|savol*")),
    ("wait", _lists(en="hold|wait*", ru="ожидан*|подожд*|удерж*", uz="kut*")),
)  # fmt: skip

NEEDS = _Intent(
    "needs",
    {"en": "needs-finding", "ru": "выявление потребности", "uz": "ehtiyojni aniqlash"},
    "all",
    _PatternSet(()),
    _trigger(("need*|requirement*|clarif*|потребн*|нужд*|выясн*|уточн*|ehtiyoj*|aniqla*|qiziqish*",)),
)
SOLUTION = _Intent(
    "solution",
    {"en": "solution offered", "ru": "предложено решение", "uz": "yechim taklif qilindi"},
    "all",
    _PatternSet(()),
    _trigger(("solution*|solv*|offer*|suggest*|propos*|recommend*|product*|option*|alternativ*|"
              "решени*|решает|предлаг*|предлож*|рекоменд*|продукт*|вариант*|yechim*|taklif*|mahsulot*",)),
)  # fmt: skip
APOLOGY = _Intent(
    "apology",
    {"en": "apology", "ru": "извинение", "uz": "uzr so'rash"},
    "all",
    _lists(
        en="sorry|apolog*|my apologies|forgive|regret the|pardon the",
        ru="извин*|прошу прощения|простите|приносим извинения|мне очень жаль|мне жаль|сожалеем|виноваты",
        uz="uzr*|kechirasiz|kechiring|afsusdamiz",
    ),
    _trigger(("apolog*|sorry|извин*|прощени*|uzr*|kechir*",)),
)
_MEANING_INTENTS = (APOLOGY, NEEDS, SOLUTION)

# Routine questions that do not find out a need: the offer of help, asking the name, small talk, "anything else?".
_ROUTINE_QUESTION = (
    OFFER_HELP.phrases
    + ASK_NAME.phrases
    + _SMALL_TALK
    + _lists(
        en="anything else|is that all|is this _|is that _|am i speaking|are you there|can you hear|got a minute|"
        "have you got|what is it|what do you want|excuse me|is it a good|good time|hello|is this a|speaking with",
        ru="что-нибудь еще|что нибудь еще|еще вопросы|это _|вы меня слышите|удобно|алло|что надо|верно|слушаю",
        uz="yana savol*|eshityapsizmi|qulaymi|alo|allo",
    )
)
_INFO_REQUEST = _lists(
    en="tell me|could i have|can i have|could i take|can i take|give me|let me have|confirm your|spell",
    ru="назовите|подскажите|уточните|скажите|продиктуйте|сообщите|напомните",
    uz="ayting|aytib bering|ayta olasizmi",
)  # asking for details without a question mark: "Назовите номер договора."
_QUESTION_WORDS = _lists(
    en="what|which|how|when|where|who|why|could you|can you tell|do you|did you|are you|is it|would you|have you|"
    "tell me",
    ru="какой|какая|какое|какие|каким|какую|сколько|когда|где|куда|откуда|почему|зачем|кто|что|чем|ли|"
    "подскажите|назовите|уточните|скажите|вы",
    uz="qanday|qaysi|qancha|qachon|qayerda|nima|nega|kim|mi|misiz|mi",
)
# A proposal: the operator puts something forward.
_PROPOSAL = _lists(
    en="suggest*|recommend*|offer you|can offer|would suit|suit you|fits|fit you|best fit|best option|would be perfect|"
    "i'd go for|i would go for|how about|we have|we've got|we can|i can|let me|the best|you could|would you like|"
    "there is|there's a",
    ru="предлагаю|предложить|могу предложить|рекомендую|советую|подойд*|подходит|лучше всего|есть вариант|"
    "у нас есть|можем|могу|давайте я|отлично подойдет",
    uz="taklif qil*|maslahat ber*|tavsiya*|mos keladi|bor|qila olamiz|qilib beraman",
)
# A done or promised action: first person (or "it"/"you") with future or perfect.
_ACTION = _lists(
    en="i'll|i will|we'll|we will|i've|i have|we've|we have|it'll|it will|you'll|you will|will|shall|going to|"
    "have been|is booked|is approved|is reserved|all set|done|i've booked|booked|reserved|approved|"
    "arranged|refunded|unblocked|moved you|rebooked|sent|scheduled|set up|starts|goes live",
    ru="готово|я оформил*|оформил*|забронир*|отложил*|подключил*|перенес*|пересадил*|согласовал*|снял*|"
    "заблокир*|отправил*|открыл*|записал*|одобрен*|открыт|вернутся|вернем|придет|придут|приедет|привезем|"
    "доставим|доставят|начнет|появится|позвоню|наберу|свяжусь|перезвоню|перезвоним|отправим|заменит|заменим|"
    "пришлем|будет|будут|запишу",
    uz="qilaman|qilamiz|yuboraman|yuboramiz|beraman|beramiz|qilindi|bo'ladi|keladi|qaytariladi|"
    "qo'ng'iroq qilaman|yetkazamiz|rasmiylashtirdim",
)
# When or how it happens: the time, the date, the channel.
_WHEN = _lists(
    en="today|tonight|tomorrow|morning|afternoon|evening|midnight|monday|tuesday|wednesday|thursday|friday|"
    "saturday|sunday|weekend|next week|next month|within|in _ days|in _ minutes|in an hour|an hour|hours|"
    "o'clock|at _|between|by post|by email|email|inbox|text|sms|app|straight away|right away|now|minutes|"
    "days|day after|first thing|same time|later",
    ru="сегодня|завтра|послезавтра|утром|вечером|днем|полуноч*|понедельник*|вторник*|сред*|четверг*|пятниц*|"
    "суббот*|воскресень*|выходн*|на следующей неделе|через|в течение|после|до|час*|минут*|дн*|смс|письм*|"
    "почт*|приложени*|сейчас|сразу|прямо сейчас|в это же время|с полуночи",
    uz="bugun|ertaga|indinga|ertalab|kechqurun|dushanba|seshanba|chorshanba|payshanba|juma|shanba|yakshanba|"
    "hafta*|soat*|daqiqa*|kun*|sms|pochta*|hozir|darhol",
)
# The operator says it cannot be done: not a solution, not a commitment.
_CANNOT = _lists(
    en="can't|cannot|can not|won't be|we won't|nothing|not liable|no information|not responsible|have to take|"
    "you'd have to|you'll need to|you will need to|policy|isn't possible|not possible|unable|can't be|no one|"
    "nobody|take it up",
    ru="не могу|не можем|не сможем|нельзя|ничего|не отвечаем|отвечает|обращайтесь|вам нужно прийти|"
    "невозможно|не стану|не буду|поздно|нет данных|не скажет",
    uz="qila olmayman|qila olmaymiz|iloji yo'q|mumkin emas|hech narsa",
)
_REQUEST_TURN = (
    _REQUEST
    + _QUESTION
    + _lists(
        en="looking for|i'm after|we need|we'd like|i need|my _|our _|was charged|has been|hasn't|didn't|wasn't|never|"
        "nobody|cancelled|broken|cracked|blocked|cutting out|do you|what|how much|is there",
        ru="ищу|нужен|нужна|нужно|хочу|хотим|у меня|мне|мой|моя|мою|нас|не работал|отменили|заблокировали|"
        "списали|привезли|никто|есть ли|сколько|какой|до скольки|нужна ли|вы",
        uz="kerak|qidiryapman|menga|mening|bizga|ishlamayapti|kelmadi|qancha|bormi",
    )
)
# A customer telling of a problem (the condition "if the customer complains").
_PROBLEM = _COMPLAINT + _lists(
    en="hasn't|haven't|didn't|doesn't work|don't work|isn't working|not working|stopped working|never arrived|"
    "never came|nobody|no one|cancelled|canceled|charged twice|twice|overcharged|broken|broke|cracked|damaged|"
    "faulty|missing|wrong item|blocked|cutting out|keeps|still|late|delayed|no air|without|i never made|"
    "supposed to|meant to|turned up|third time|fed up|not acceptable|problem",
    ru="не работает|не работал*|перестал*|сломал*|сломан*|трещин*|треснут*|поврежд*|брак*|не приехал*|"
    "не привезли|никто|отменили|дважды|списали|заблокир*|пропадает|до сих пор|опозда*|задерж*|не пришл*|"
    "не пришел|которую я не|не делал|должны были|уже неделю|третий раз|проблем*",
    uz="ishlamayapti|buzilgan|singan|kelmadi|hali ham|ikki marta|bloklandi|muammo*",
)
_WRONG_NUMBER = _lists(
    en="wrong number|misdialled|misdialed|dialled the wrong|dialed the wrong|no one here by that name|"
    "nobody here by that name|isn't them|not them|never heard of",
    ru="ошиблись номером|ошибся номером|ошиблась номером|не туда попал*|неправильно набрали|здесь таких нет|"
    "таких нет|это не они|не знаю такого|не знаю такую|ошиблась|ошибся",
    uz="noto'g'ri raqam|adashdingiz|adashibsiz|bunday odam yo'q",
)
_BUSY = _lists(
    en="driving|in a meeting|at work|not a good moment|not a good time|bad time|can't talk|busy|call me later|"
    "ring me|try me again|call me back|call me tomorrow",
    ru="за рулем|на совещании|на работе|неудобно|не могу говорить|занят|занята|перезвоните|наберете|позвоните",
    uz="bandman|mashina haydayapman|keyinroq qo'ng'iroq|hozir gaplasha olmayman",
)
_CALLBACK_PROMISE = _CALLBACK + _lists(
    en="ring you|call you|give you a ring|give you a call|try you again|speak again|talk again|call me",
    ru="наберу вас|наберу|позвоню вам|позвоню|свяжусь|созвонимся|перезвоните|позвоните мне",
    uz="qo'ng'iroq qilaman|qo'ng'iroq qiling|bog'lanaman",
)
_ACCEPT = _AGREED + _lists(
    en="i'll take it|i'll take|let's go|let's do it|let's book|go ahead|yes please|please reserve|please open|"
    "switch me|i'll apply|sounds perfect|that's fine|lovely|sounds good|book it",
    ru="беру|давайте|оформляйте|отложите|откройте|переключите|подключайте|бронир*|хорошо давайте|да давайте",
    uz="olaman|rasmiylashtiring|mayli|xo'p|roziman|bo'ladi",
)
_REFUSAL_WORDS = _REFUSED + _lists(
    en="i'll pass|not for me|don't think so|happy with what|don't need|don't want|no need|not right now|"
    "take my number off|not interested|we're fine|i'm fine|we really don't",
    ru="откажусь|отказываюсь|не подходит|меня все устраивает|все устраивает|ни к чему|не стоит|не нужно|"
    "не нужен|не интересно|уберите мой номер|не надо",
    uz="kerak emas|qiziq emas|shart emas|yo'q rahmat|rad etaman",
)
_NEGATIVE_MORE = _lists(
    en="joke|fed up|unbelievable|thanks for nothing|elsewhere|rubbish|nonsense|rude|outrageous|shocking|"
    "disgusting|pathetic|never again|waste of time|i'm the customer|why are you so|no help",
    ru="издевательство|безобразие|ни ногой|ничего не скажешь|хамите|грубите|почему вы так|жалобу|"
    "возмутительно|ужас|позор|бесполезно|никто не может|я клиент|вообще-то",
    uz="bema'ni|dahshat|uyat|foydasiz",
)
_RUDE_MORE = _lists(
    en="haven't got all day|don't have all day|make it quick|not my department|can't be bothered|already told you|"
    "go somewhere else|go elsewhere|read the contract|what do you want|what now|your problem|deal with it|"
    "i don't have time|listen to me|nobody else is going|if you don't like it",
    ru="нет на это времени|нет времени|это не ко мне|не буду заниматься|заниматься не буду|я вам уже сказал*|"
    "читайте договор|не нравится|идите|что надо|быстрее|ну говорите|никто вам|ничего менять не|не стану",
    uz="vaqtim yo'q|menga tegishli emas|aytdim-ku|boshqa joyga",
)


def _sentence_hits(turns: list[_Turn]) -> Iterable[tuple[_Turn, int, int, list[str]]]:
    for turn in turns:
        for start, end in _sentences(turn):
            yield turn, start, end, turn.keys[start : end + 1]


def _is_question(turn: _Turn, start: int, end: int) -> bool:
    text = turn.turn.text
    finish = turn.spans[end][1]
    return "?" in text[finish : finish + 3]


@dataclass(slots=True)
class _Facts:
    """What happened in the call, read once: the customer's request, problems, refusals, the operator's answers."""

    request_at: int  # index in call.turns of the customer's first request (or the operator's pitch); -1: none
    complaint: _Hit | None
    wrong_number: _Hit | None
    cut_short: bool  # the customer could not talk (busy) before any need was discussed
    needs: _Hit | None
    solution: _Hit | None
    commitment: _Hit | None
    refusal: _Hit | None
    accepted: _Hit | None
    callback: _Hit | None
    customer_negative_end: bool


def _facts(call: _Call) -> _Facts:
    turns = call.turns
    customer_turns = call.by_speaker["customer"]
    wrong = _first_hit(_WRONG_NUMBER, turns)
    complaint = _first_hit(_PROBLEM, customer_turns) if not wrong else None
    busy = _first_hit(_BUSY, customer_turns[:2])
    request_at = -1
    if call.request.direction != "outbound":  # inbound: from the customer's first request on
        for index, turn in enumerate(turns):
            if turn.turn.speaker == "customer" and _any_in(_REQUEST_TURN, turn.keys) and len(turn.keys) >= 4:
                request_at = index
                break
    # outbound (or no request heard): everything after the operator's opening turn
    after = [t for t in turns[max(request_at, 1) :] if t.turn.speaker == "operator"]
    asked = request_at >= 0 and "?" in turns[request_at].turn.text  # the customer asked: an answer is a solution
    needs = solution = commitment = None
    for turn, start, end, keys in _sentence_hits(after):
        question = _is_question(turn, start, end)
        if (
            needs is None
            and not _any_in(_ROUTINE_QUESTION, keys)
            and ((question and len(keys) >= 3) or (keys and _any_in(_INFO_REQUEST, keys[:3])))
        ):
            needs = _Hit(turn, start, end)
        cannot = _any_in(_CANNOT, keys) or _any_in(_RUDE + _RUDE_MORE, keys)
        if cannot or len(keys) < 4:
            continue
        action, when = _any_in(_ACTION, keys), _any_in(_WHEN, keys)
        if commitment is None and action and when and (not question or len(keys) >= 6):
            commitment = _Hit(turn, start, end)  # "I'll ring you on Friday, is that alright?" is still a promise
        if question:
            continue
        answer = asked and len(keys) >= 6 and not _any_in(_ROUTINE, keys)
        if solution is None and (_any_in(_PROPOSAL, keys) or action or (len(keys) >= 8 and when) or answer):
            solution = _Hit(turn, start, end)
    callback = _first_hit(_CALLBACK_PROMISE, turns)
    last_customer = customer_turns[-1].keys if customer_turns else []
    return _Facts(
        request_at=request_at,
        complaint=complaint,
        wrong_number=wrong,
        cut_short=busy is not None and not wrong,
        needs=needs,
        solution=solution,
        commitment=commitment,
        refusal=_first_hit(_REFUSAL_WORDS, customer_turns),
        accepted=_first_hit(_ACCEPT, customer_turns),
        callback=callback,
        customer_negative_end=_any_in(_NEGATIVE_MORE + _COMPLAINT, last_customer),
    )


def split_condition(criterion: str) -> tuple[str, str | None]:
    """The criterion without its condition, and what the condition is about (complaint / refusal / question / wait):
    "Apologises if the customer complains" -> ("Apologises", "complaint"). None: no condition, or none understood."""
    keys = list(_phrase_keys(criterion))
    positions, initials = _index(keys)
    for pattern in _CONDITION_WORDS:
        at = _find_in(pattern, keys, positions, initials)
        if at is None:
            continue
        clause = keys[at + len(pattern) :]
        for kind, patterns in _CONDITION_KINDS:
            if _any_in(patterns, clause):
                return " ".join(keys[:at]) or " ".join(clause), kind
    return criterion, None


_INTRO_BEFORE = frozenset(
    _key(w) for w in "is i'm im am it's its name's called я это оператор беспокоит зовут менеджер консультант".split()
)
_INTRO_AFTER = frozenset(_key(w) for w in "speaking here calling слушаю на".split())


def _introduction_hit(turns: list[_Turn], company: str) -> _Hit | None:
    """A capitalised first name right after "this is / I'm / it's / я / это / вас беспокоит" or before "speaking /
    here / слушаю", in a sentence that is not a question ("Is this Emma?" asks the customer's name)."""
    company_sounds = set(_name_sounds(company)) if company else set()
    for turn in turns:
        text = turn.turn.text
        for start, end in _sentences(turn):
            question = _is_question(turn, start, end)
            for i in range(start + 1, end + 1):
                if question and i >= end - 2:
                    break  # "Is this Emma?", "am I speaking with Mister Carter?": the customer's name
                word = text[turn.spans[i][0] : turn.spans[i][1]]
                if not word[:1].isupper() or word.isupper() or _sound(turn.keys[i]) in company_sounds:
                    continue
                before, after = turn.keys[i - 1], turn.keys[i + 1] if i < end else ""
                if before in _INTRO_BEFORE or after in _INTRO_AFTER:
                    return _Hit(turn, i - 1 if before in _INTRO_BEFORE else i, i)
    return None


def _condition_arose(call: _Call, condition: str) -> bool:
    facts = call.facts
    assert facts is not None
    if condition == "complaint":
        return facts.complaint is not None
    if condition == "refusal":
        return facts.refusal is not None
    if condition == "question":
        return any("?" in turn.turn.text for turn in call.by_speaker["customer"])
    return True  # "wait" and the like: nothing to tell it by, so the item is judged as written


def _meaning_verdict(call: _Call, item: ItemSpec, criterion: str) -> ItemVerdict | None:
    """Items no phrase rule covers, judged from the call's facts: apology, needs-finding, solution."""
    keys = list(_phrase_keys(criterion))
    texts, facts = call.texts, call.facts
    assert facts is not None
    for intent in _MEANING_INTENTS:
        if not any(all(_any_in(part, keys) for part in group) for group in intent.triggers):
            continue
        label = intent.labels.get(call.request.answer_language, intent.labels["en"])
        if intent is not APOLOGY and item.allow_na and (facts.wrong_number or facts.cut_short):
            return ItemVerdict(item.key, "na", reason=f"{label}: {texts['not_discussed']}")
        if intent is APOLOGY:
            hit = _first_hit(APOLOGY.phrases, call.by_speaker[item.speaker])
        elif intent is NEEDS:
            hit = facts.needs
        else:
            hit = facts.solution
        if hit is None:
            return ItemVerdict(item.key, "not_met", reason=f"{label}: {texts['meaning_missed']}")
        return _met(item, hit, f"{label}: {texts['meaning_found']}")
    return None


def _customer_sentiment(call: _Call, outcome: str, score: float) -> Sentiment:
    """The word-list score, weighed with how the call went: an unresolved problem and an angry last word pull down;
    thanks said while saying no are politeness, not joy."""
    customer = call.by_speaker["customer"]
    facts = call.facts
    assert facts is not None
    score -= sum(1.0 for turn in customer if _any_in(_NEGATIVE_MORE, turn.keys))
    if outcome == "not_resolved":
        score -= 1.0
    if facts.customer_negative_end:
        score -= 1.0
    if outcome in ("refused", "callback") and score < 2.5:
        score = min(score, _POSITIVE_AT - 0.5)
    if score >= _POSITIVE_AT:
        return "positive"
    return "negative" if score <= _NEGATIVE_AT else "neutral"


def _not_scored(engine: str, request: AnalysisRequest, texts: dict[str, str]) -> Analysis:
    """A low-confidence transcript: every item "na" (the evidence check turns a not-allowed "na" into needs_review),
    no sentiment, outcome or summary read from words nobody can trust. Timing metrics do not come from here."""
    reason = texts["low_confidence"]
    return Analysis(
        engine=engine,
        summary=reason,
        customer_sentiment="neutral",
        customer_sentiment_reason=reason,
        operator_sentiment="neutral",
        operator_sentiment_reason=reason,
        purpose=texts["unknown_purpose"],
        outcome="other",
        topics=(),
        customer_satisfied=None,
        verdicts=tuple(ItemVerdict(item.key, "na", reason=reason) for item in request.items),
        usage=Usage(requests=0),
    )
