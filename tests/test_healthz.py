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


@pytest.fixture
def database_down(settings):
    """The default database pointed at a port where nothing listens, with a role and database name that exist nowhere:
    /healthz's real connection attempt fails with libpq's own message, which names them all."""
    from django.db import connection

    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(
        {"HOST": "localhost", "PORT": str(CLOSED_PORT), "USER": "dialix_probe_role", "NAME": "dialix_probe_db"}
    )
    try:
        yield {"localhost", "127.0.0.1", "dialix_probe_role", "dialix_probe_db", f"port {CLOSED_PORT}"}
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.mark.django_db(transaction=True)  # the test's own connection is closed and reopened elsewhere
def test_anonymous_healthz_with_the_database_down_names_no_host(client, settings, database_down):
    settings.DIALIX_METRICS_TOKEN = "healthz-monitor-token"
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body == {
        "status": "down",
        "checks": {"database": {"status": "down"}, "broker": {"status": "ok"}, "cache": {"status": "ok"}},
        "failing": ["database"],
    }
    text = response.content.decode()
    assert not [secret for secret in database_down if secret in text]
    # The monitor with the token sees why (the same real failure).
    detail = client.get("/healthz", HTTP_AUTHORIZATION="Bearer healthz-monitor-token").json()["checks"]["database"]
    assert detail["detail"].startswith("OperationalError") and "127.0.0.1" in detail["detail"]  # what was hidden


def test_healthz_details_for_superusers_only(client, admin_client, settings, company, make_member):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{CLOSED_PORT}//"
    anonymous = client.get("/healthz").json()
    assert anonymous["checks"]["broker"] == {"status": "down"}
    supervisor = make_member(company)  # staff in the console, but a tenant's: not Dialix's own staff
    client.force_login(supervisor.user)
    assert client.get("/healthz").json()["checks"]["broker"] == {"status": "down"}
    detail = admin_client.get("/healthz").json()["checks"]["broker"]["detail"]
    assert detail.startswith("OperationalError") and f"{CLOSED_PORT}" in detail
