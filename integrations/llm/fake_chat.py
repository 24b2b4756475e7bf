"""``POST /v1/chat/completions`` for the fake OpenAI server (shared/specs/openai.md §3), over real HTTP.

``install_chat(fake)`` adds the route to a running or not yet started ``FakeOpenAI`` and returns the ``FakeChat`` that
answers it; ``FakeOpenAIWithChat`` is a ``FakeOpenAI`` with the route already installed (``fake.chat``)::

    with FakeOpenAIWithChat() as fake:
        fake.chat.answer_next("hallucinated")      # what the model says next: see FakeChat.MODES
        fake.fail_next(1, "http429")               # transport failures: FakeOpenAI.FAILURE_MODES
        OpenAIAnalyzer(api_key=fake.api_key, base_url=fake.base_url).analyze(request)

The fake checks what the real API checks before generating (a JSON body, ``model``, ``messages``, a well-formed
``json_schema`` and, with ``strict: true``, the strict-mode rules), then builds a plausible analysis from the request
itself: it reads the ``[12.3s] OPERATOR: ...`` transcript lines and the JSON list of checklist items from the user
message and answers ``met`` with a verbatim quote wherever an item's example phrase occurs in a line of the right
speaker. Summary, reasons and topics come from small templates in the requested answer language (uz / ru / en).
"""

import json
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.stt.fake_openai import FakeOpenAI, FakeRequest, FakeResponse

CHAT_PATH = "/v1/chat/completions"
# Quoted by "hallucinated" answers: plausible for a call centre, and in no transcript of ours.
HALLUCINATED_QUOTE = "We guarantee a full refund within ninety days, no questions asked."
REFUSAL = "I'm sorry, but I can't assist with that request."
UNKNOWN_ITEM_KEY = "no-such-item"
SNAPSHOTS = {"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4o": "gpt-4o-2024-08-06"}  # spec §3: the echo is a snapshot
_TURN_LINE = re.compile(r"^\[(\d+(?:\.\d+)?)s\] (OPERATOR|CUSTOMER): (.*)$", re.M)
_ANSWER_LANGUAGE = re.compile(r"^Answer language: .*\((\w+)\)\s*$", re.M)
_COMPANY = re.compile(r"^Company: (.+)$", re.M)
_SCHEMA_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

# Small outcome cues from the customer's words; enough for the demo calls (first match wins).
_OUTCOME_CUES = (
    ("refused", ("no thanks", "not interested", "не нужно", "не интересно", "kerak emas", "qiziq emas")),
    ("callback", ("call me back", "call back", "перезвон", "qayta qo'ng'iroq", "keyinroq")),
    ("sale", ("i'll take", "i will take", "order", "беру", "заказ", "оформ", "buyurtma", "olaman")),
)
_THANKS = ("thank", "great", "спасибо", "отлично", "rahmat", "zo'r")
_COMPLAINT = ("complain", "broken", "angry", "жалоб", "сломал", "недовол", "shikoyat", "buzilgan")

_TEXTS = {
    "en": {
        "summary": "The customer and the operator spoke ({turns} turns). {met} of {total} checklist items were met.",
        "purpose": "Customer enquiry",
        "topic": "Customer enquiry",
        "positive": "The tone stayed friendly and polite.",
        "neutral": "The tone was calm and matter-of-fact.",
        "negative": "The customer sounded unhappy.",
        "met": "The {speaker} said it: “{quote}”.",
        "not_met": "Nothing in the call shows this.",
        "na": "The situation did not come up in this call.",
    },
    "ru": {
        "summary": "Разговор оператора с клиентом ({turns} реплик). Выполнено пунктов чек-листа: {met} из {total}.",
        "purpose": "Обращение клиента",
        "topic": "Обращение клиента",
        "positive": "Разговор прошёл дружелюбно и вежливо.",
        "neutral": "Тон разговора спокойный и деловой.",
        "negative": "Клиент был недоволен.",
        "met": "Это сказано в разговоре: «{quote}».",
        "not_met": "В разговоре этого нет.",
        "na": "Такой ситуации в разговоре не было.",
    },
    "uz": {
        "summary": "Operator va mijoz suhbati ({turns} ta replika). {total} ta banddan {met} tasi bajarildi.",
        "purpose": "Mijoz murojaati",
        "topic": "Mijoz murojaati",
        "positive": "Suhbat samimiy va xushmuomala o'tdi.",
        "neutral": "Suhbat ohangi xotirjam va ishchan.",
        "negative": "Mijoz norozi edi.",
        "met": "Suhbatda aytilgan: “{quote}”.",
        "not_met": "Suhbatda bu yo'q.",
        "na": "Bu holat suhbatda yuz bermadi.",
    },
}


@dataclass(frozen=True, slots=True)
class _Turn:
    speaker: str  # operator / customer
    start_ms: int
    text: str


@dataclass(frozen=True, slots=True)
class _Queued:
    mode: str
    content: str | None


class FakeChat:
    """The route handler (``FakeRequest -> FakeResponse``) with its scenario controls.

    ``mode`` is the standing answer style; ``answer_next`` queues one-off ones. ``overrides`` are merged into every
    generated analysis (e.g. ``{"outcome": "sale"}``); ``usage`` pins (prompt, completion) tokens, else they are
    estimated at four characters a token."""

    MODES = frozenset(
        {
            "auto",  # a correct analysis built from the request
            "hallucinated",  # the first item 'met' with a quote nobody said
            "wrong_speaker",  # the first operator/customer item 'met' with the other side's words
            "malformed",  # content cut in half: not JSON
            "truncated",  # cut in half and finish_reason "length"
            "refusal",  # content null, message.refusal set
            "schema_missing_verdicts",  # valid JSON without "verdicts"
            "schema_unknown_item",  # a verdict for an item key the request did not contain
            "schema_missing_item",  # no verdict for the last item
            "schema_duplicate_item",  # the first verdict twice
            "schema_bad_enum",  # a verdict answer outside met/not_met/na
            "raw",  # the queued content verbatim (answer_next("raw", content=...))
        }
    )

    def __init__(self, server: FakeOpenAI) -> None:
        self.server = server
        self.mode = "auto"
        self.overrides: dict[str, Any] = {}
        self.usage: tuple[int, int] | None = None
        # The response_format types the emulated server takes ("none": no response_format); None: all of them. Any
        # other is answered with HTTP 500, as llama-cpp-python 0.3.36's server answers a strict json_schema.
        self.accepts: frozenset[str] | None = None
        self._queue: list[_Queued] = []
        self._lock = threading.Lock()

    def answer_next(self, mode: str, *, n: int = 1, content: str | None = None) -> None:
        """The next ``n`` completions answer in ``mode`` (queued in order, after transport failures are served)."""
        if mode not in self.MODES:
            raise ValueError(f"unknown answer mode {mode!r}; choose from {sorted(self.MODES)}")
        if (mode == "raw") != (content is not None):
            raise ValueError("content goes with mode 'raw' and only with it")
        with self._lock:
            self._queue.extend(_Queued(mode, content) for _ in range(n))

    def requests(self) -> list[FakeRequest]:
        return self.server.requests_to(CHAT_PATH, "POST")

    def bodies(self) -> list[dict[str, Any]]:
        return [request.json() for request in self.requests()]

    # --- POST /v1/chat/completions -----------------------------------------------------------------------------------

    def __call__(self, request: FakeRequest) -> FakeResponse:
        try:
            body = request.json()
        except ValueError:
            return _invalid("We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return _invalid("The request body must be a JSON object.")
        problem = _request_problem(body)
        if problem is not None:
            return problem
        response_format = body.get("response_format")
        kind = response_format.get("type", "none") if isinstance(response_format, dict) else "none"
        if self.accepts is not None and kind not in self.accepts:
            error = {"message": f"response_format {kind} is not supported", "type": "server_error", "param": None,
                     "code": None}  # fmt: skip
            return FakeResponse.json({"error": error}, status=500)
        with self._lock:
            queued = self._queue.pop(0) if self._queue else _Queued(self.mode, None)
        user = _user_text(body["messages"])
        finish_reason, refusal = "stop", None
        content: str | None
        if queued.mode == "raw":
            content = queued.content
        elif queued.mode == "refusal":
            content, refusal = None, REFUSAL
        else:
            answer = self.build_answer(user, _schema_keys(body))
            content = json.dumps(_apply(queued.mode, answer, _turns(user), _items(user)), ensure_ascii=False)
            if queued.mode in ("malformed", "truncated"):
                content = content[: len(content) // 2]
                finish_reason = "length" if queued.mode == "truncated" else "stop"
        return FakeResponse.json(
            self._completion(body, content, refusal, finish_reason),
            headers=_headers(),
        )

    def build_answer(self, user_text: str, schema_keys: list[str] | None = None) -> dict[str, Any]:
        """A correct analysis of the user message: examples found in the right speaker's line are 'met'."""
        turns, items = _turns(user_text), _items(user_text)
        if not items and schema_keys:
            items = [{"key": key} for key in schema_keys]  # a prompt we cannot read: answer the keys the schema lists
        match = _ANSWER_LANGUAGE.search(user_text)
        texts = _TEXTS.get(match.group(1).lower() if match else "en", _TEXTS["en"])
        verdicts = [_verdict(item, turns, texts) for item in items]
        customer_words = " ".join(t.text.lower() for t in turns if t.speaker == "customer")
        if any(cue in customer_words for cue in _COMPLAINT):
            customer = "negative"
        elif any(cue in customer_words for cue in _THANKS):
            customer = "positive"
        else:
            customer = "neutral"
        outcome = next(
            (name for name, cues in _OUTCOME_CUES if any(cue in customer_words for cue in cues)), "information"
        )
        met = sum(verdict["answer"] == "met" for verdict in verdicts)
        answer = {
            "summary": texts["summary"].format(turns=len(turns), met=met, total=len(verdicts)),
            "customer_sentiment": customer,
            "customer_sentiment_reason": texts[customer],
            "operator_sentiment": "positive" if met else "neutral",
            "operator_sentiment_reason": texts["positive" if met else "neutral"],
            "purpose": texts["purpose"],
            "outcome": outcome,
            "topics": [texts["topic"]],
            "customer_satisfied": {"positive": True, "negative": False}.get(customer),
            "verdicts": verdicts,
        }
        return {**answer, **self.overrides}

    def _completion(
        self, body: Mapping[str, Any], content: str | None, refusal: str | None, finish_reason: str
    ) -> dict[str, Any]:
        if self.usage is not None:
            prompt_tokens, completion_tokens = self.usage
        else:
            prompt_tokens = max(len(json.dumps(body["messages"], ensure_ascii=False)) // 4, 1)
            completion_tokens = max(len(content or refusal or "") // 4, 1)
        model = str(body["model"])
        return {
            "id": f"chatcmpl-{secrets.token_hex(12)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": SNAPSHOTS.get(model, model),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_0a1b2c3d4e",
        }


def install_chat(fake: FakeOpenAI) -> FakeChat:
    chat = FakeChat(fake)
    fake.routes[("POST", CHAT_PATH)] = chat
    return chat


class FakeOpenAIWithChat(FakeOpenAI):
    """The fake OpenAI serving both transcriptions and chat completions; ``chat`` holds the chat controls."""

    server_name = "fake-openai-chat"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.chat = install_chat(self)


# --- request checks ---------------------------------------------------------------------------------------------------


def _request_problem(body: Mapping[str, Any]) -> FakeResponse | None:
    if not body.get("model"):
        return _invalid("Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _invalid("Missing required parameter: 'messages'.", param="messages", code="missing_required_parameter")
    response_format = body.get("response_format")
    if response_format is None:
        return None
    if not isinstance(response_format, dict) or response_format.get("type") not in (
        "text",
        "json_object",
        "json_schema",
    ):
        return _invalid("Invalid value for 'response_format.type'.", param="response_format.type")
    if response_format["type"] != "json_schema":
        return None
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict):
        return _invalid("Missing required parameter: 'response_format.json_schema'.", param="response_format")
    name = spec.get("name")
    if not isinstance(name, str) or not _SCHEMA_NAME.match(name):
        return _invalid("Invalid 'response_format.json_schema.name'.", param="response_format.json_schema.name")
    schema = spec.get("schema")
    if spec.get("strict") is True:
        problem = strict_schema_problem(schema, "()")
        if problem is not None:
            # Worded like the real API's 400 for a schema strict mode cannot follow (spec §3).
            return _invalid(f"Invalid schema for response_format '{name}': {problem}", param="response_format")
    return None


def strict_schema_problem(schema: Any, context: str) -> str | None:
    """The first rule of strict mode (spec §3) the schema breaks, or None: every object closes its properties
    (``additionalProperties: false``) and lists all of them in ``required``; enums are non-empty."""
    if not isinstance(schema, dict):
        return f"In context={context}, schema must be a JSON Schema of 'type: \"object\"', got {type(schema).__name__}."
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "object" in types:
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            return f"In context={context}, 'additionalProperties' is required to be supplied and to be false."
        missing = [key for key in properties if key not in (schema.get("required") or [])]
        if missing:
            return (
                f"In context={context}, 'required' is required to be supplied and to be an array including every "
                f"key in properties. Missing '{missing[0]}'."
            )
        for key, sub in properties.items():
            problem = strict_schema_problem(sub, f"('properties', '{key}')")
            if problem is not None:
                return problem
    if "enum" in schema and (not isinstance(schema["enum"], list) or not schema["enum"]):
        return f"In context={context}, 'enum' must be a non-empty array."
    if "array" in types and "items" in schema:
        return strict_schema_problem(schema["items"], f"{context}, 'items'")
    for branch in schema.get("anyOf", []):
        problem = strict_schema_problem(branch, f"{context}, 'anyOf'")
        if problem is not None:
            return problem
    return None


# --- reading the prompt -----------------------------------------------------------------------------------------------


def _user_text(messages: list[Any]) -> str:
    parts: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "\n".join(parts)


def _turns(user_text: str) -> list[_Turn]:
    return [
        _Turn(speaker.lower(), round(float(seconds) * 1000), text)
        for seconds, speaker, text in _TURN_LINE.findall(user_text)
    ]


def _items(user_text: str) -> list[dict[str, Any]]:
    """The checklist items: the last JSON list of objects with a "key" in the message."""
    decoder = json.JSONDecoder()
    for match in reversed(list(re.finditer(r"^\[", user_text, re.M))):
        try:
            value, _ = decoder.raw_decode(user_text, match.start())
        except ValueError:
            continue
        if isinstance(value, list) and all(isinstance(item, dict) and "key" in item for item in value):
            return value
    return []


def _schema_keys(body: Mapping[str, Any]) -> list[str] | None:
    try:
        verdict = body["response_format"]["json_schema"]["schema"]["properties"]["verdicts"]["items"]
        keys = verdict["properties"]["key"]["enum"]
    except (KeyError, TypeError):
        return None
    return [str(key) for key in keys] if isinstance(keys, list) else None


# --- answers ----------------------------------------------------------------------------------------------------------


def _verdict(item: Mapping[str, Any], turns: list[_Turn], texts: Mapping[str, str]) -> dict[str, Any]:
    speaker = item.get("speaker", "operator")
    speakers = ("operator", "customer") if speaker == "any" else (speaker,)
    examples = [str(e) for e in item.get("examples") or [] if str(e).strip()]
    for turn in turns:
        if turn.speaker not in speakers:
            continue
        for example in examples:
            found = re.search(re.escape(example), turn.text, re.I)
            if found:
                quote = found.group()  # the line's own spelling and case: verbatim
                return _verdict_dict(
                    item["key"],
                    "met",
                    quote,
                    turn.speaker,
                    turn.start_ms,
                    texts["met"].format(speaker=turn.speaker, quote=quote),
                )
    answer = "na" if item.get("allow_na") else "not_met"
    return _verdict_dict(item["key"], answer, "", "none", None, texts[answer])


def _verdict_dict(key: str, answer: str, quote: str, speaker: str, time_ms: int | None, reason: str) -> dict[str, Any]:
    return {
        "key": key,
        "evidence_quote": quote,
        "evidence_speaker": speaker,
        "evidence_time_ms": time_ms,
        "reason": reason,
        "answer": answer,
    }


def _apply(mode: str, answer: dict[str, Any], turns: list[_Turn], items: list[dict[str, Any]]) -> dict[str, Any]:
    verdicts: list[dict[str, Any]] = answer.get("verdicts", [])
    if mode == "hallucinated" and verdicts:
        speaker = next((i.get("speaker") for i in items if i["key"] == verdicts[0]["key"]), "operator")
        speaker = speaker if speaker in ("operator", "customer") else "operator"
        start_ms = turns[0].start_ms if turns else 0
        verdicts[0] = _verdict_dict(
            verdicts[0]["key"], "met", HALLUCINATED_QUOTE, speaker, start_ms, "The operator promised a refund."
        )
    elif mode == "wrong_speaker":
        for index, verdict in enumerate(verdicts):
            item = next((i for i in items if i["key"] == verdict["key"]), {})
            if item.get("speaker") not in ("operator", "customer"):
                continue
            other = next((t for t in turns if t.speaker != item["speaker"]), None)
            if other is None:
                continue
            quote = " ".join(other.text.split()[:8])
            # The model claims the item's speaker said it; the transcript says the other side did.
            verdicts[index] = _verdict_dict(verdict["key"], "met", quote, item["speaker"], other.start_ms, "Said.")
            break
    elif mode == "schema_missing_verdicts":
        del answer["verdicts"]
    elif mode == "schema_unknown_item":
        if verdicts:
            verdicts[0] = {**verdicts[0], "key": UNKNOWN_ITEM_KEY}
        else:
            verdicts.append(_verdict_dict(UNKNOWN_ITEM_KEY, "not_met", "", "none", None, "?"))
    elif mode == "schema_missing_item" and verdicts:
        verdicts.pop()
    elif mode == "schema_duplicate_item" and verdicts:
        verdicts.append(dict(verdicts[0]))
    elif mode == "schema_bad_enum":
        if verdicts:
            verdicts[0] = {**verdicts[0], "answer": "partially"}
        else:
            answer["outcome"] = "maybe"
    return answer


def _headers() -> dict[str, str]:
    # spec §1: every answer carries a request id and the rate-limit state.
    return {
        "x-request-id": f"req_{secrets.token_hex(12)}",
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-limit-tokens": "200000",
        "x-ratelimit-remaining-tokens": "198500",
        "x-ratelimit-reset-tokens": "450ms",
    }


def _invalid(message: str, *, param: str | None = None, code: str | None = None) -> FakeResponse:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return FakeResponse.json({"error": error}, 400, {"x-request-id": f"req_{secrets.token_hex(12)}"})
