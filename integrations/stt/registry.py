"""Speech-to-text engines by name. Engines import their heavy libraries (faster-whisper, torch) only when chosen."""

from typing import Any

from django.utils.module_loading import import_string

from integrations.stt.base import Recogniser

ENGINES = {
    "offline": "integrations.stt.whisper_local.WhisperLocal",
    "openai": "integrations.stt.openai_stt.OpenAIStt",
    "uzbekvoice": "integrations.stt.uzbekvoice.UzbekVoiceStt",
}


def get_recogniser(name: str, **options: Any) -> Recogniser:
    """A new engine for `name` (a key of ENGINES); `options` go to its constructor (each engine reads its settings
    for whatever is left out). Raises ValueError for an unknown name."""
    try:
        path = ENGINES[name]
    except KeyError:
        raise ValueError(f"Unknown speech-to-text engine {name!r}; choose one of: {', '.join(ENGINES)}") from None
    return import_string(path)(**options)
