"""Test settings: the base settings on this machine's real PostgreSQL, RabbitMQ and Redis; only what tests need."""

import os
import uuid

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-not-secret")
os.environ.setdefault("DIALIX_FIELD_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTMyYiE=")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dialix")
os.environ.setdefault("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DIALIX_VAR_DIR", "/tmp/dialix-test-var")

from dialix.settings.base import *  # noqa: E402,F403
from dialix.settings.base import VAR_DIR  # noqa: E402

# Most tests call services directly; tests about task wiring start a real worker and switch eager off themselves.
CELERY_TASK_ALWAYS_EAGER = True
# A queue of its own per test session: messages left by an earlier, interrupted run never reach this run's worker.
CELERY_TASK_DEFAULT_QUEUE = f"dialix-test-{uuid.uuid4().hex[:8]}"
CELERY_BROKER_CONNECTION_TIMEOUT = 3

# Ingestion tests store many recordings; transcription is tested on its own (the offline model is slow to run).
DIALIX_AUTO_TRANSCRIBE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; never used outside tests
MEDIA_ROOT = VAR_DIR / f"media-{os.getpid()}"
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
