"""House rules that keep tenants apart and external systems behind integrations/ (STYLE.md §2, §5)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ["companies", "operators", "calls", "checklists", "integrations", "analytics", "dialix"]


def _sources(names: tuple[str, ...] | None = None):
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            if names is None or path.name in names:
                yield path


def test_views_and_api_never_query_unscoped():
    offenders = [str(p.relative_to(ROOT)) for p in _sources(("views.py", "api.py")) if ".objects." in p.read_text()]
    assert not offenders, f"views/api must go through selectors scoped by company: {offenders}"


def test_only_integrations_import_http_and_llm_clients():
    pattern = re.compile(r"^\s*(import|from)\s+(requests|openai)\b", re.M)
    offenders = [
        str(p.relative_to(ROOT))
        for p in _sources()
        if not p.relative_to(ROOT).parts[0] == "integrations" and pattern.search(p.read_text())
    ]
    assert not offenders, offenders
