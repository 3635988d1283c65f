"""Error reporting to Sentry through its SDK, only when ``SENTRY_DSN`` is set.

Called from the settings, so the web process, the workers and beat all
report. Without a DSN nothing is imported and nothing is sent.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


def sentry_init(*, dsn: str, environment: str, release: str, traces_sample_rate: float) -> bool:
    """Start the SDK with the Django and Celery integrations; False when there is no DSN."""
    if not dsn:
        return False
    try:
        import sentry_sdk  # noqa: PLC0415  (loaded only with a DSN)
        from sentry_sdk.integrations.celery import CeleryIntegration  # noqa: PLC0415  (only with a DSN)
        from sentry_sdk.integrations.django import DjangoIntegration  # noqa: PLC0415  (only with a DSN)
    except ImportError as error:
        raise ImproperlyConfigured(
            "SENTRY_DSN is set but sentry-sdk is not installed: pip install -r requirements/prod.txt"
        ) from error
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=False)],
        traces_sample_rate=traces_sample_rate,
        # Readers' addresses and uploads are theirs: no request bodies, cookies or user emails.
        send_default_pii=False,
        max_request_body_size="never",
    )
    return True
