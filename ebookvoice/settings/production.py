"""Production: PostgreSQL, separate broker and cache Redis, S3/R2 storage, SMTP.

Every secret must come from the environment; a missing one stops the process
at start-up with the names of all that are missing, rather than running with
a default that only suits a laptop.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

REQUIRED = (
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "EMAIL_URL",
    "FERNET_KEYS",
)
R2_VARIABLES = ("R2_ACCOUNT_ID", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "R2_BUCKET_NAME")
S3_VARIABLES = (
    "AWS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_STORAGE_BUCKET_NAME",
)
GOOGLE_VARIABLES = ("GOOGLE_OAUTH_CLIENT_ID", "GOOGLE_OAUTH_CLIENT_SECRET")
STRIPE_VARIABLES = ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_PRICES")


def missing_variables(environ: dict[str, str]) -> list[str]:
    """Names of required variables that are unset or empty, in a stable order."""
    missing = [name for name in REQUIRED if not environ.get(name)]
    uses_s3 = any(environ.get(name) for name in S3_VARIABLES)
    storage = S3_VARIABLES if uses_s3 else R2_VARIABLES
    missing += [name for name in storage if not environ.get(name)]
    # Google sign-in is optional, but half a client is a broken button.
    if any(environ.get(name) for name in GOOGLE_VARIABLES):
        missing += [name for name in GOOGLE_VARIABLES if not environ.get(name)]
    # Billing is optional too, but a key without its webhook secret (or prices) takes money
    # that never turns into credits.
    if any(environ.get(name) for name in STRIPE_VARIABLES):
        missing += [name for name in STRIPE_VARIABLES if not environ.get(name)]
    return missing


def configuration_errors(environ: dict[str, str]) -> list[str]:
    errors = []
    if missing := missing_variables(environ):
        errors.append("missing environment variables: " + ", ".join(missing))
    database_url = environ.get("DATABASE_URL", "")
    if database_url and not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        errors.append("DATABASE_URL must name a PostgreSQL database in production")
    broker, cache = environ.get("CELERY_BROKER_URL"), environ.get("CACHE_URL")
    if broker and broker == cache:
        errors.append(
            "CELERY_BROKER_URL and CACHE_URL must be different Redis servers: the broker "
            "needs noeviction and AOF, the cache an LRU policy"
        )
    errors += [
        f"{name} has no password: set requirepass on that Redis and put it in the URL "
        f"({scheme}://:PASSWORD@host:6379/0)"
        for name in REDIS_VARIABLES
        if (scheme := redis_scheme_without_password(environ.get(name, "")))
    ]
    return errors


# The broker carries every task (a forged one runs with the workers' rights), the cache holds
# sessions: neither may answer whoever reaches its port. A unix socket is guarded by the file system.
REDIS_VARIABLES = ("CELERY_BROKER_URL", "CACHE_URL", "CELERY_RESULT_BACKEND")


def redis_scheme_without_password(url: str) -> str:
    """The URL's scheme if it is a TCP Redis URL with no password, else an empty string."""
    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss") and not parts.password:
        return parts.scheme
    return ""


if _errors := configuration_errors(dict(os.environ)):
    raise ImproperlyConfigured("Production settings refused to start: " + "; ".join(_errors))

from .base import *  # noqa: E402, F403
from .base import env  # noqa: E402

DEBUG = False
DEMO_ACCOUNT_ALLOWED = False
# The billing app refuses to start on settings that disagree (a price missing for a pack, no
# amount in BILLING_CURRENCY): billing.apps, after the variables above are known to be there.
BILLING_REFUSE_PROBLEMS = True
SITE_URL = env.str("SITE_URL", default=f"https://{ALLOWED_HOSTS[0]}").rstrip("/")  # noqa: F405

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Load balancers probe over plain HTTP inside the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Sessions are read on every request: Redis serves them, PostgreSQL keeps them
# when the cache evicts or restarts.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

from .build import STATIC_ROOT, STORAGES, WHITENOISE_USE_FINDERS  # noqa: E402, F401
