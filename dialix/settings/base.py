"""All settings, read from the environment (django-environ) with safe local defaults.

With nothing set the product runs on the embedded default: SQLite under var/, Celery tasks in process, audio on the
local filesystem, offline engines, no outbound calls. Production is the same code with another environment.
Every variable is listed in .env.example and in the README.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional file; real environment variables win

VAR_DIR = Path(env("DIALIX_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        # A guessable key would let anyone forge sessions and password-reset links in production.
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off. Set it to a long random string "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DJANGO_DEBUG=1 for local development."
        )
    SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - only reachable with DEBUG on

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "dialix.apps.DialixAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",  # login lockout (issue 16, dialix/security.py)
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "auditlog",  # the audit trail (issue 16); its entry model is companies.AuditEntry, admin in companies
    "dialix.apps.DialixConfig",
    "companies",
    "operators",
    "calls",
    "checklists",
    "integrations",
    "analytics",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",  # first and last: the whole request is timed
    "dialix.observability.RequestIdMiddleware",  # X-Request-ID on the response, request_id on every log line
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "dialix.security.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "dialix.i18n.UserLanguageMiddleware",  # the member's remembered language, before LocaleMiddleware reads it
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "companies.audit.AuditMiddleware",  # actor (read lazily) and address on every audit line (issue 16)
    "dialix.security.IdleSessionMiddleware",  # signs out a session idle past DIALIX_SESSION_IDLE_HOURS
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): a TOTP code was given this session
    "dialix.middleware.CompanyTimeZoneMiddleware",
    "dialix.security.TwoFactorMiddleware",  # after the membership is cached on the user: no extra query
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a locked-out login (flagged by its backend) into the lockout page
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "dialix.urls"
WSGI_APPLICATION = "dialix.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dialix.i18n.languages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'dialix.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo runs the web server and an in-process worker on one file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username+IP before any password is checked (django-axes, dialix/security.py).
    "dialix.security.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
    # A member's role grants the Django permissions the admin checks (companies/roles.py).
    "companies.backends.RolePermissionBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# The console in English, Uzbek (Latin) and Russian (issue 12); our strings live in locale/, Django's own ship with it.
LANGUAGES = [("en", "English"), ("uz", "Oʻzbekcha"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tashkent"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"

# Audio storage: local files by default, Google Cloud Storage with STORAGE=gcs.
STORAGE = env("STORAGE", default="local")
if STORAGE == "gcs":
    GS_BUCKET_NAME = env("GS_BUCKET_NAME", default="")
    if not GS_BUCKET_NAME:
        raise ImproperlyConfigured("STORAGE=gcs needs GS_BUCKET_NAME (the bucket that holds call recordings).")
    _default_storage = {
        "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
        "OPTIONS": {
            "bucket_name": GS_BUCKET_NAME,
            "querystring_auth": True,  # recordings are private: playback goes through short-lived signed URLs
            "expiration": 900,
            "file_overwrite": False,
        },
    }
elif STORAGE == "local":
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise ImproperlyConfigured(f"STORAGE must be 'local' or 'gcs', not {STORAGE!r}.")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

REDIS_URL = env("REDIS_URL", default="")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "dialix"}
    )
}

# Celery: no broker means tasks run in process (the embedded default). A broker URL switches on real workers.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The demo's embedded broker: kombu's filesystem transport, no server to install.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "data_folder_processed": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),  # default is ./control in the working directory
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # pipeline state lives in our own models, not in a result backend
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=15 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=20 * 60)
# Tasks by kind, each kind on its own queue: a worker consuming several queues takes from them in turn, so analyses
# and syncs never wait behind a backlog of transcriptions, and production can run STT workers apart.
TASK_QUEUE_KINDS = ("default", "pbx", "recordings", "stt", "analysis", "crm")


def celery_queues(prefix: str) -> tuple[str, dict[str, dict[str, str]], list[Queue]]:
    """The default queue, the task routes and every queue (a worker without -Q consumes them all), named
    ``<prefix><kind>``."""
    routes = {
        "calls.tasks.pbx_*": {"queue": f"{prefix}pbx"},
        "calls.tasks.call_fetch_recording_task": {"queue": f"{prefix}recordings"},
        "calls.tasks.call_transcribe_task": {"queue": f"{prefix}stt"},
        "calls.tasks.call_analyse_task": {"queue": f"{prefix}analysis"},
        "calls.tasks_crm.*": {"queue": f"{prefix}crm"},  # the CRM portal's work (issue 14): links, write-backs, polls
    }
    # Each queue on its own direct exchange and key (as Celery makes a missing queue): with no exchange given, Celery
    # would bind every queue to the default exchange with one key, and each message would reach all six queues.
    names = [f"{prefix}{kind}" for kind in TASK_QUEUE_KINDS]
    # x-max-priority: a person's request (dialix.queueing.PRIORITY_PERSON) goes ahead of the backlog on RabbitMQ.
    queues = [
        Queue(name, Exchange(name, "direct"), routing_key=name, queue_arguments={"x-max-priority": 10})
        for name in names
    ]
    return f"{prefix}default", routes, queues


DIALIX_TASK_QUEUE_PREFIX = env("DIALIX_TASK_QUEUE_PREFIX", default="")
CELERY_TASK_DEFAULT_QUEUE, CELERY_TASK_ROUTES, CELERY_TASK_QUEUES = celery_queues(DIALIX_TASK_QUEUE_PREFIX)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
DJANGO_CELERY_BEAT_TZ_AWARE = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its authenticate_header makes unauthenticated API calls answer 401, not 403.
        "companies.api_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "companies.api_auth.HasCompany",
        "companies.api_auth.TokenScopeAllows",  # read tokens: GET only, on every view that keeps these defaults
    ],
    # Per token, in the shared cache: answered 429 with Retry-After (header and error details).
    "DEFAULT_THROTTLE_CLASSES": ["companies.api_auth.ApiTokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_token": env("DIALIX_API_TOKEN_RATE", default="600/minute"),
        "upload": env("DIALIX_UPLOAD_RATE", default="120/minute"),  # per company (companies.api_auth)
        "pbx_push": env("DIALIX_PBX_PUSH_RATE", default="600/minute"),  # per PBX account
    },
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "dialix.api_errors.ErrorDocumentingAutoSchema",  # every operation declares the error body
    "EXCEPTION_HANDLER": "dialix.api_errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Dialix API",
    "DESCRIPTION": "Call analytics for call centers. Authenticate with `Authorization: Bearer <company API token>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our static files, not a CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name per choice set used by several fields (check --deploy warns otherwise; issue 16).
    "ENUM_NAME_OVERRIDES": {
        "DirectionEnum": "calls.models.Direction",
        "CallStatusEnum": "calls.models.CallStatus",
        "CallSourceEnum": "calls.models.CallSource",
        "AnswerEnum": "checklists.models.Answer",
        "ResultSourceEnum": "checklists.models.ResultSource",
        "SentimentEnum": "checklists.models.Sentiment",
        "ItemSpeakerEnum": "checklists.models.ItemSpeaker",
        "WebhookEventEnum": "integrations.webhooks.models.WebhookEventType",
        "ReportIntervalEnum": ["day", "week"],
    },
}

# Keys for credentials stored at rest (PBX API keys). Newest first; older keys still decrypt during a rotation.
# Independent of SECRET_KEY so rotating one does not destroy the other.
FIELD_ENCRYPTION_KEYS = env.list("DIALIX_FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DIALIX_FIELD_ENCRYPTION_KEYS is required when DJANGO_DEBUG is off: a comma-separated list of Fernet keys, "
            "newest first (python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
        )
    FIELD_ENCRYPTION_KEYS = ["ZGV2LW9ubHktbm90LXNlY3JldC1kZXYtb25seS1rZXk="]  # dev only: 32 bytes, base64

DIALIX_STT_ENGINE = env("DIALIX_STT_ENGINE", default="offline")
# Usage page (issue 16): USD per audio minute by engine, e.g. "openai=0.006,uzbekvoice=0.004" (calls/usage.py defaults)
DIALIX_STT_USD_PER_MINUTE = env.dict("DIALIX_STT_USD_PER_MINUTE", default={})
# Offline engine: a CTranslate2 Whisper model directory (empty = Whisper base joined from its PyPI packages into
# DIALIX_MODEL_CACHE_DIR, default <VAR_DIR>/models) and the CPU threads one recognition may use.
DIALIX_WHISPER_MODEL_DIR = env("DIALIX_WHISPER_MODEL_DIR", default="")
DIALIX_MODEL_CACHE_DIR = env("DIALIX_MODEL_CACHE_DIR", default="")
DIALIX_STT_CPU_THREADS = env.int("DIALIX_STT_CPU_THREADS", default=1)  # 1 per process, processes = cores (README)
DIALIX_AUTO_TRANSCRIBE = env.bool("DIALIX_AUTO_TRANSCRIBE", default=True)  # queue STT as soon as a recording is stored
DIALIX_ANALYZER_ENGINE = env("DIALIX_ANALYZER_ENGINE", default="offline")
DIALIX_AUTO_ANALYSE = env.bool("DIALIX_AUTO_ANALYSE", default=True)  # queue analysis as soon as a transcript is saved
# Cloud engines: used only when a company (or DIALIX_STT_ENGINE / DIALIX_ANALYZER_ENGINE) chooses them.
OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env("OPENAI_BASE_URL", default="https://api.openai.com/v1")  # any OpenAI-compatible server
OPENAI_API_VERSION = env("OPENAI_API_VERSION", default=None)  # Azure OpenAI deployment URLs only
DIALIX_OPENAI_STT_MODEL = env("DIALIX_OPENAI_STT_MODEL", default="whisper-1")
DIALIX_OPENAI_STT_TIMEOUT_SECONDS = env.int("DIALIX_OPENAI_STT_TIMEOUT_SECONDS", default=300)
OPENAI_ORG_ID = env("OPENAI_ORG_ID", default=None)
OPENAI_PROJECT_ID = env("OPENAI_PROJECT_ID", default=None)
DIALIX_OPENAI_ANALYSIS_MODEL = env("DIALIX_OPENAI_ANALYSIS_MODEL", default="gpt-4o-mini")
DIALIX_OPENAI_ANALYSIS_TIMEOUT_SECONDS = env.int("DIALIX_OPENAI_ANALYSIS_TIMEOUT_SECONDS", default=120)
DIALIX_LLM_INPUT_USD_PER_MTOK = env.float("DIALIX_LLM_INPUT_USD_PER_MTOK", default=None)
DIALIX_LLM_OUTPUT_USD_PER_MTOK = env.float("DIALIX_LLM_OUTPUT_USD_PER_MTOK", default=None)
UZBEKVOICE_API_KEY = env("UZBEKVOICE_API_KEY", default="")
UZBEKVOICE_BASE_URL = env("UZBEKVOICE_BASE_URL", default="https://uzbekvoice.ai/api/v1")
DIALIX_UZBEKVOICE_POLL_SECONDS = env.float("DIALIX_UZBEKVOICE_POLL_SECONDS", default=None)
DIALIX_UZBEKVOICE_MAX_WAIT_SECONDS = env.int("DIALIX_UZBEKVOICE_MAX_WAIT_SECONDS", default=30 * 60)
DIALIX_UZBEKVOICE_SUBMITS_PER_MINUTE = env.int("DIALIX_UZBEKVOICE_SUBMITS_PER_MINUTE", default=5)
# The PBX API host is the server's, never a company's: Test connection and syncs send the company's key there.
DIALIX_ONLINEPBX_BASE_URL = env("DIALIX_ONLINEPBX_BASE_URL", default="https://api2.onlinepbx.ru")
# Hosts (or host:port) a superuser may set as one account's API base URL; empty: no per-account override at all.
DIALIX_PBX_BASE_URL_ALLOWLIST = env.list("DIALIX_PBX_BASE_URL_ALLOWLIST", default=[])
DIALIX_PBX_TIMEOUT_SECONDS = env.float("DIALIX_PBX_TIMEOUT_SECONDS", default=30)  # read timeout of one PBX request
DIALIX_PBX_SYNC_INTERVAL_MINUTES = env.int("DIALIX_PBX_SYNC_INTERVAL_MINUTES", default=5)
DIALIX_RECORDING_MAX_BYTES = env.int("DIALIX_RECORDING_MAX_BYTES", default=100 * 1024 * 1024)
DIALIX_UPLOAD_MAX_BYTES = env.int("DIALIX_UPLOAD_MAX_BYTES", default=100 * 1024 * 1024)
# Webhook deliveries to loopback, link-local and private addresses: tests and the demo only (SSRF otherwise).
DIALIX_WEBHOOKS_ALLOW_PRIVATE = env.bool("DIALIX_WEBHOOKS_ALLOW_PRIVATE", default=False)
# Bitrix24 (issue 14): a company's portal is reached by its webhook URL; in production only https to a public host
# (on in tests and the demo, whose fake portal listens on 127.0.0.1). One call waits out the portal's limits at most
# DIALIX_BITRIX_WAIT_SECONDS, retrying a rate-limit answer up to DIALIX_BITRIX_MAX_RETRIES times, then the task retries.
DIALIX_CRM_ALLOW_PRIVATE_HOSTS = env.bool("DIALIX_CRM_ALLOW_PRIVATE_HOSTS", default=False)
DIALIX_BITRIX_TIMEOUT_SECONDS = env.float("DIALIX_BITRIX_TIMEOUT_SECONDS", default=30)  # read timeout of one request
DIALIX_BITRIX_WAIT_SECONDS = env.float("DIALIX_BITRIX_WAIT_SECONDS", default=30)
DIALIX_BITRIX_MAX_RETRIES = env.int("DIALIX_BITRIX_MAX_RETRIES", default=4)
# QA vs conversion (issue 14): a won rate is shown only with at least this many closed deals behind it.
DIALIX_CONVERSION_MIN_DEALS = env.int("DIALIX_CONVERSION_MIN_DEALS", default=5)
# Alerts (issue 16): the console's address for links in messages, the Telegram Bot API host, outgoing mail.
DIALIX_PUBLIC_URL = env("DIALIX_PUBLIC_URL", default="http://localhost:8000")
TELEGRAM_API_BASE_URL = env("TELEGRAM_API_BASE_URL", default="https://api.telegram.org")
DIALIX_ALERT_DIGEST_HOUR = env.int("DIALIX_ALERT_DIGEST_HOUR", default=18)  # local hour after which digests go
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))  # smtp+tls://user:pass@host:587 in production
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Dialix <alerts@localhost>")
# The dashboard's background exports (issue 15): a finished file is kept this long, then deleted (Beat, or on access).
DIALIX_EXPORT_KEEP_HOURS = env.int("DIALIX_EXPORT_KEEP_HOURS", default=24)
# The dashboard rollups (issue 15): the Beat re-check recomputes this many recent local days of every company.
DIALIX_ROLLUP_RECHECK_DAYS = env.int("DIALIX_ROLLUP_RECHECK_DAYS", default=3)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # larger uploads spool to disk instead of memory

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Security: the doors (issue 16; dialix/security.py says why each piece) -------------------------------------
# HTTPS: the proxy in front sets X-Forwarded-Proto (above); plain HTTP is redirected, and browsers are told (HSTS) to
# use HTTPS only. Off with DEBUG (the demo, local runs) and in tests. Probes reach /healthz and /metrics over HTTP.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
# Browser features no page of ours uses (dialix.security.PermissionsPolicyMiddleware).
DIALIX_PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
# CSP (django-csp 4): our pages load scripts and styles from our own static files only; no inline script or style.
# Recordings in GCS play from signed URLs: their host is allowed as a media source then.
_csp_media = ["'self'", *(["https://storage.googleapis.com"] if STORAGE == "gcs" else [])]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # Django admin's and Swagger UI's small icons are data: SVGs
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "media-src": _csp_media + env.list("DIALIX_CSP_MEDIA_SRC", default=[]),
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        **({"report-uri": [env("DIALIX_CSP_REPORT_URI")]} if env("DIALIX_CSP_REPORT_URI", default="") else {}),
    },
}
# Sessions: signed out after this long without a request (the expiry moves forward as the person works), and on a
# password change everywhere else (Django's session auth hash). dialix.security.IdleSessionMiddleware.
DIALIX_SESSION_IDLE_HOURS = env.float("DIALIX_SESSION_IDLE_HOURS", default=8)
SESSION_COOKIE_AGE = int(DIALIX_SESSION_IDLE_HOURS * 3600)
SESSION_COOKIE_HTTPONLY = True
# Client address behind N trusted proxies (X-Forwarded-For, right to left); 0: REMOTE_ADDR. Lockouts and throttles.
DIALIX_TRUSTED_PROXY_COUNT = env.int("DIALIX_TRUSTED_PROXY_COUNT", default=0)
# Login lockout (django-axes, attempts in the database): the 6th wrong password for one username from one address
# locks that pair until an owner or staff unlocks it in the console (Login lockouts) or the cool-off passes.
AXES_FAILURE_LIMIT = env.int("DIALIX_LOGIN_FAILURE_LIMIT", default=6)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
_cooloff_minutes = env.int("DIALIX_LOGIN_LOCKOUT_MINUTES", default=60)  # 0: locked until unlocked
AXES_COOLOFF_TIME = _cooloff_minutes / 60 if _cooloff_minutes else None  # hours
AXES_RESET_ON_SUCCESS = True  # a good login forgets earlier typos
AXES_ENABLE_ADMIN = False  # companies.admin shows attempts scoped to the owner's company instead
AXES_CLIENT_IP_CALLABLE = "dialix.security.axes_client_ip"
AXES_LOCKOUT_TEMPLATE = "security/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token", "token"]
# Failed API token authentications per client address and minute before 429 (companies.api_auth).
DIALIX_TOKEN_FAILURES_PER_MINUTE = env.int("DIALIX_TOKEN_FAILURES_PER_MINUTE", default=30)
# Wrong PBX push secrets per client address and minute before 429 (calls.api.PbxWebhookApi).
DIALIX_PUSH_FAILURES_PER_MINUTE = env.int("DIALIX_PUSH_FAILURES_PER_MINUTE", default=30)
# Two-factor (django-otp TOTP): the name authenticator apps show beside the code.
OTP_TOTP_ISSUER = env("DIALIX_OTP_ISSUER", default="Dialix")

LOG_LEVEL = env("DIALIX_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # One JSON object per line; context (company_id, call_id, ...) comes from `extra`.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    # request_id / task_id on every line of a request and of the tasks it queued (dialix.observability).
    "filters": {"context": {"()": "dialix.observability.ContextFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
# Issue 16 (doors): a PBX push secret in a URL never reaches a log line, the development server's access lines too.
LOGGING["filters"]["redact_secrets"] = {"()": "dialix.security_logging.RedactSecretsFilter"}
LOGGING["handlers"]["console"]["filters"].append("redact_secrets")
LOGGING["loggers"]["django.server"] = {"handlers": ["console"], "level": "INFO", "propagate": False}

# --- Observability (issue 16; dialix/metrics.py, dialix/observability.py, dialix/sentry.py) ------------------------
# /metrics answers a scraper with `Authorization: Bearer <token>` or from an allowed network (CIDRs, REMOTE_ADDR);
# with neither set it is 404. The same token shows /healthz's details. Under gunicorn set PROMETHEUS_MULTIPROC_DIR.
DIALIX_METRICS_TOKEN = env("DIALIX_METRICS_TOKEN", default="")
DIALIX_METRICS_ALLOWED_NETWORKS = env.list("DIALIX_METRICS_ALLOWED_NETWORKS", default=[])
DIALIX_METRICS_CACHE_SECONDS = env.int("DIALIX_METRICS_CACHE_SECONDS", default=10)  # calls per state, queue depths
# A worker machine without the web server: its own exporter (empty: none).
DIALIX_WORKER_METRICS_PORT = env.int("DIALIX_WORKER_METRICS_PORT", default=None)
DIALIX_WORKER_METRICS_ADDRESS = env("DIALIX_WORKER_METRICS_ADDRESS", default="127.0.0.1")
# django-prometheus: per-view latency buckets up to a long upload; the database engine stays Django's own (README).
PROMETHEUS_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, float("inf"))
SENTRY_DSN = env("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT", default="production")
SENTRY_RELEASE = env("SENTRY_RELEASE", default="")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if SENTRY_DSN:
    from dialix.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        release=SENTRY_RELEASE,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
        # Masked wherever they appear in an event.
        secrets=[SECRET_KEY, *FIELD_ENCRYPTION_KEYS, OPENAI_API_KEY, UZBEKVOICE_API_KEY, DIALIX_METRICS_TOKEN],
    )

# Audit trail (issue 16): django-auditlog writing to our entry model, which carries the company (companies/audit.py).
AUDITLOG_LOGENTRY_MODEL = "companies.AuditEntry"
# auditlog's own migrations would create its unused LogEntry table (they do not mark it swappable) with a foreign key
# to auth_user, which breaks the test database's flush; its models are swapped for ours, so it needs no table.
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_STORE_JSON_CHANGES = True  # typed old/new values, not their str()
AUDITLOG_DISABLE_ON_RAW_SAVE = True  # fixtures loaded with loaddata are not people's changes
