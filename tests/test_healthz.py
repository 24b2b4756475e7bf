import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db

CLOSED_PORT = 1  # nothing listens on port 1 on this machine


def test_healthz_all_up_on_real_services(client, settings):
    # The real RabbitMQ and Redis of this machine (test settings point at them); a real broker connection is made.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
        "cache": "ok",
    }


def test_healthz_broker_down_is_503_naming_it(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{CLOSED_PORT}//"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["checks"]["database"]["status"] == "ok"


def test_healthz_cache_down_is_503_naming_it(client):
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{CLOSED_PORT}/0",
        }
    }
    with override_settings(CACHES=caches):  # Django's setting_changed handler rebuilds the cache connections
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["cache"]
