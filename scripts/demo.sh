#!/usr/bin/env bash
# `make demo`: the product on the embedded default (SQLite under var/, local files, offline engines), with demo data.
# Besides the web server it starts, in the background, a fake OnlinePBX (the demo company's PBX, serving the committed
# synthetic calls) and one Celery worker with the scheduler embedded, on kombu's filesystem broker (no server).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${1:-8000}
PBX_PORT=${2:-8765}
CRM_PORT=${3:-8766}
export DJANGO_DEBUG=1
export DJANGO_SETTINGS_MODULE=dialix.settings.base
export CELERY_BROKER_URL=filesystem://
# The server's PBX host is the fake OnlinePBX below (a company cannot choose where its PBX key is sent).
export DIALIX_ONLINEPBX_BASE_URL="http://127.0.0.1:${PBX_PORT}"
# The demo company's Bitrix24 is the fake portal below, on plain http on 127.0.0.1 (refused outside tests and the demo).
export DIALIX_CRM_ALLOW_PRIVATE_HOSTS=1
CRM_WEBHOOK="http://127.0.0.1:${CRM_PORT}/rest/1/k3x9q2w8e7r6t5y4/"
PY=.venv/bin/python
VAR=${DIALIX_VAR_DIR:-var}
mkdir -p "$VAR"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

$PY manage.py migrate --noinput
$PY -m integrations.testing.onlinepbx --port "$PBX_PORT" --calls 36 --days 2 --audio-dir fixtures/calls --new-every 90 \
  >"$VAR/fake-pbx.log" 2>&1 &
pids+=($!)
# A fake Bitrix24 with contacts and deals for the fake PBX's numbers (same --calls/--seed); deals close over the hour.
$PY -m integrations.testing.bitrix24 --port "$CRM_PORT" --seed demo --pbx-calls 36 --pbx-seed 0 \
  >"$VAR/fake-bitrix24.log" 2>&1 &
pids+=($!)
$PY manage.py demo_seed --pbx-url "http://127.0.0.1:${PBX_PORT}" --crm-url "$CRM_WEBHOOK"
$PY manage.py pbx_sync --company dialix-market --queue  # the first read now; then every minute on schedule
# One worker for every queue (pbx, recordings, stt, analysis, crm, default): it takes from its queues in turn, so a
# call's analysis runs right after its transcription instead of behind every other transcription.
.venv/bin/celery -A dialix worker -B --pool=solo --concurrency=1 -l warning \
  --schedule "$VAR/celerybeat-schedule" >"$VAR/worker.log" 2>&1 &
pids+=($!)
echo
echo "Dialix demo on http://127.0.0.1:${PORT}/  (console: /admin/, dashboard: /dashboard/, API docs: /api/docs/)"
echo "Fake PBX on http://127.0.0.1:${PBX_PORT} (log: $VAR/fake-pbx.log); worker + scheduler log: $VAR/worker.log"
echo "Fake Bitrix24 on http://127.0.0.1:${CRM_PORT} (log: $VAR/fake-bitrix24.log): calls show their client and deal"
$PY manage.py runserver --noreload "127.0.0.1:${PORT}"
