"""Headers (issue 16): HSTS, the HTTPS redirect, a CSP without 'unsafe-inline' for our pages (Swagger UI alone may
inline styles), Permissions-Policy, no inline script or style left in our templates and console HTML, and
`manage.py check --deploy` clean with the production settings."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[1]
APPS = ["analytics", "calls", "checklists", "companies", "dialix", "integrations", "operators"]


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/accounts/login/", "/dashboard/", "/admin/", "/admin/calls/call/"])
def test_our_pages_allow_only_our_own_scripts_and_styles(supervisor_client, path):
    response = supervisor_client.get(path)
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]


def test_swagger_ui_inlines_styles_only(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    policy = _policy(response)
    assert "'unsafe-inline'" in policy["style-src"] and policy["script-src"] == ["'self'"]
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.content.decode())  # its start-up script is a file
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_permissions_policy_and_hsts(client):
    response = client.get("/accounts/login/", secure=True)
    assert response["Permissions-Policy"] == "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Content-Type-Options"] == "nosniff" and response["X-Frame-Options"] == "DENY"


def test_plain_http_is_redirected_to_https_except_probes(settings):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    response = client.get("/accounts/login/")
    assert response.status_code == 301 and response["Location"] == "https://testserver/accounts/login/"
    assert client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https").status_code == 200  # behind the proxy
    assert client.get("/healthz").status_code in (200, 503)  # the probe over HTTP is not redirected


def _sources(pattern: str) -> list[Path]:
    return [p for p in ROOT.glob(pattern) if ".venv" not in p.parts and "tests" not in p.parts]


def test_no_inline_script_or_style_in_our_templates():
    offenders = []
    for path in _sources("templates/**/*.html"):
        text = path.read_text()
        for found in re.finditer(r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>|\sstyle=|<style\b", text):
            offenders.append(f"{path.relative_to(ROOT)}: {found.group(0).strip()}")
    assert offenders == []


def test_no_style_attribute_in_html_our_python_writes():
    offenders = []
    for app in APPS:
        for path in _sources(f"{app}/**/*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(r"""<[a-z][^>]*\sstyle=|<script>""", line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == []


def test_check_deploy_is_clean_with_production_settings(django_db_setup):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "dialix.settings.base",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DIALIX_FIELD_ENCRYPTION_KEYS": "dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTMyYiE=",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/dialix",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "DJANGO_ALLOWED_HOSTS": "dialix.example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://dialix.example.com",
        "DIALIX_VAR_DIR": "/tmp/dialix-check-deploy",
    }
    result = subprocess.run(  # noqa: S603 - our own manage.py with a fixed argument list
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
