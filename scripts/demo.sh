#!/usr/bin/env bash
# `make demo`: the product on the embedded default (SQLite under var/, local files, offline engines), with demo data.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${1:-8000}
export DJANGO_DEBUG=1
export DJANGO_SETTINGS_MODULE=dialix.settings.base
PY=.venv/bin/python
mkdir -p var
$PY manage.py migrate --noinput
$PY manage.py demo_seed
echo
echo "Dialix demo on http://127.0.0.1:${PORT}/  (console: /admin/, dashboard: /dashboard/, API docs: /api/docs/)"
exec $PY manage.py runserver "127.0.0.1:${PORT}"
