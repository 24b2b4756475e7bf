"""Analyzers by name; heavy engines are imported only when chosen."""

from django.utils.module_loading import import_string

from integrations.llm.base import Analyzer

ANALYZERS = {
    "offline": "integrations.llm.offline.OfflineAnalyzer",
    "openai": "integrations.llm.openai_analyzer.OpenAIAnalyzer",
}


def get_analyzer(name: str) -> Analyzer:
    try:
        path = ANALYZERS[name]
    except KeyError as exc:
        raise ValueError(f"Unknown analyzer {name!r}; choose one of {sorted(ANALYZERS)}") from exc
    return import_string(path)()
