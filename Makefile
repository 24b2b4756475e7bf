# The two commands: `make demo` (run the product with demo data, embedded default) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DEMO_PORT ?= 8000
DEMO_PBX_PORT ?= 8765
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test venv services browser lint bench clean

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

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports  # import contracts in pyproject.toml: apps in layers, adapters import no app
	DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) manage.py makemigrations --check --dry-run

test: venv services browser lint
	$(VENV)/bin/pytest

demo: venv
	bash scripts/demo.sh $(DEMO_PORT) $(DEMO_PBX_PORT)

bench: venv services
	DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) bench/ingest.py
	DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) bench/analysis.py
	DJANGO_SETTINGS_MODULE=dialix.settings.test $(PY) bench/stt.py

clean:
	rm -rf $(VENV) var staticfiles
