"""Settings refuse to start in unsafe or incomplete configurations (run in a fresh interpreter each)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _django_setup(**env: str) -> subprocess.CompletedProcess:
    prefixes = ("DJANGO_", "DIALIX_", "DATABASE_", "STORAGE", "GS_", "CELERY_", "REDIS_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    clean.update(env, DJANGO_SETTINGS_MODULE="dialix.settings.base")
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.STORAGES['default']['BACKEND'])"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


def test_debug_off_without_secret_key_refuses_to_start():
    result = _django_setup(DJANGO_DEBUG="0")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_debug_off_without_encryption_keys_refuses_to_start():
    result = _django_setup(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "DIALIX_FIELD_ENCRYPTION_KEYS is required" in result.stderr


def test_nothing_set_but_debug_gives_the_embedded_default(tmp_path):
    result = _django_setup(DJANGO_DEBUG="1", DIALIX_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "True",
        "django.core.files.storage.FileSystemStorage",
    ]


def test_environment_selects_postgres_broker_and_gcs(tmp_path):
    result = _django_setup(
        DJANGO_DEBUG="1",
        DIALIX_VAR_DIR=str(tmp_path),
        DATABASE_URL="postgres://u@db:5432/dialix",
        CELERY_BROKER_URL="amqp://guest:guest@mq:5672//",
        STORAGE="gcs",
        GS_BUCKET_NAME="recordings",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "False",
        "storages.backends.gcloud.GoogleCloudStorage",
    ]


def test_gcs_without_bucket_refuses_to_start(tmp_path):
    result = _django_setup(DJANGO_DEBUG="1", DIALIX_VAR_DIR=str(tmp_path), STORAGE="gcs")
    assert result.returncode != 0
    assert "GS_BUCKET_NAME" in result.stderr
