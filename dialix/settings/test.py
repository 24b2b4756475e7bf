"""Test settings: the base settings on this machine's real PostgreSQL, RabbitMQ and Redis; only what tests need."""

import os
import uuid

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-not-secret")
os.environ.setdefault("DIALIX_FIELD_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTMyYiE=")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dialix")
os.environ.setdefault("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DIALIX_VAR_DIR", "/tmp/dialix-test-var")
# One CPU kernel library on every machine: CTranslate2 picks Intel MKL on Intel CPUs and oneDNN on AMD, and their words
# differ (MKL with AVX-512 writes "Dialics" for "Dialix"); oneDNN runs AVX-512/AMX kernels where the CPU has them,
# which change words too, so it is capped at AVX2, which every x86 machine this project meets has. Both are read at the
# first model load, so they are set before any test runs.
os.environ.setdefault("CT2_USE_MKL", "0")
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

from dialix.settings.base import *  # noqa: E402,F403
from dialix.settings.base import VAR_DIR, celery_queues  # noqa: E402

# Most tests call services directly; tests about task wiring start a real worker and switch eager off themselves.
CELERY_TASK_ALWAYS_EAGER = True
# Queues of its own per test session: messages left by an earlier, interrupted run never reach this run's worker.
DIALIX_TASK_QUEUE_PREFIX = f"dialix-test-{uuid.uuid4().hex[:8]}."
CELERY_TASK_DEFAULT_QUEUE, CELERY_TASK_ROUTES, CELERY_TASK_QUEUES = celery_queues(DIALIX_TASK_QUEUE_PREFIX)
CELERY_BROKER_CONNECTION_TIMEOUT = 3

# Ingestion tests store many recordings; transcription is tested on its own (the offline model is slow to run).
DIALIX_AUTO_TRANSCRIBE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; never used outside tests
MEDIA_ROOT = VAR_DIR / f"media-{os.getpid()}"
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
# The production level through the production JSON formatter (base): a record that cannot be made or formatted
# (e.g. a reserved LogRecord name in `extra`) fails the test that logs it. Captured output shows the INFO lines.
LOGGING["root"]["level"] = "INFO"  # noqa: F405
# Several checkouts on one machine (a clean clone beside the working copy) may run the suite at once:
# DIALIX_TEST_DB_TAG gives each its own test database.
if os.environ.get("DIALIX_TEST_DB_TAG"):
    DATABASES["default"]["TEST"] = {"NAME": f"test_dialix_{os.environ['DIALIX_TEST_DB_TAG']}"}  # noqa: F405
# Security (issue 16): the suite sends many wrong tokens and pushes from 127.0.0.1 on purpose; the throttles' own tests
# set the production limits back. Each test session keeps its cache keys apart (several runs share one Redis).
CACHES["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:8]}"  # noqa: F405
DIALIX_TOKEN_FAILURES_PER_MINUTE = 100_000
DIALIX_PUSH_FAILURES_PER_MINUTE = 100_000
REST_FRAMEWORK = {  # noqa: F405
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {
        **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],  # noqa: F405
        "upload": "100000/minute",
        "pbx_push": "100000/minute",
    },
}
SECURE_SSL_REDIRECT = False  # the test client and the live server speak plain HTTP
