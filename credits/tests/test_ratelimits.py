"""The rate-limit helper against the real Redis cache of the test settings."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory, override_settings

from credits.errors import RateLimited, RateLimitUnavailable
from credits.ratelimits import Action, check_rate_limit
from ebookvoice.paths import BASE_DIR


def fresh_key() -> str:
    # Counters outlive a test (they are in Redis), so each test counts its own key.
    return f"test-{uuid.uuid4()}"


def use(key: str, action: Action, times: int) -> None:
    for _ in range(times):
        check_rate_limit(request_or_key=key, action=action)


def test_the_eleventh_upload_in_an_hour_is_refused_with_a_retry_after():
    key = fresh_key()
    use(key, Action.UPLOAD, 10)
    with pytest.raises(RateLimited) as refused:
        check_rate_limit(request_or_key=key, action=Action.UPLOAD)
    assert 1 <= refused.value.retry_after_seconds <= 3600
    assert refused.value.http_status == 429
    assert str(refused.value).startswith(
        "You have reached the limit of 10 uploads per hour. Please try again in"
    )


def test_the_sixth_conversion_in_an_hour_is_refused():
    key = fresh_key()
    use(key, Action.CONVERSION, 5)
    with pytest.raises(RateLimited, match="limit of 5 conversions per hour"):
        check_rate_limit(request_or_key=key, action="conversion")


def test_sixty_previews_of_ones_own_text_are_allowed_and_the_sixty_first_is_not():
    key = fresh_key()
    use(key, Action.TEXT_PREVIEW, 60)
    with pytest.raises(RateLimited, match="limit of 60 previews of your own text per hour"):
        check_rate_limit(request_or_key=key, action=Action.TEXT_PREVIEW)


def test_each_action_has_its_own_count():
    key = fresh_key()
    use(key, Action.CONVERSION, 5)
    check_rate_limit(request_or_key=key, action=Action.UPLOAD)


@pytest.mark.django_db
def test_one_users_limit_does_not_touch_anothers(owner, stranger):
    factory = RequestFactory()
    owners_request, strangers_request = factory.post("/"), factory.post("/")
    owners_request.user, strangers_request.user = owner, stranger
    for _ in range(5):
        check_rate_limit(request_or_key=owners_request, action=Action.CONVERSION)
    with pytest.raises(RateLimited):
        check_rate_limit(request_or_key=owners_request, action=Action.CONVERSION)
    check_rate_limit(request_or_key=strangers_request, action=Action.CONVERSION)


@pytest.mark.django_db
def test_a_request_and_the_users_key_share_one_count(owner):
    request = RequestFactory().post("/")
    request.user = owner
    use(str(owner.pk), Action.CONVERSION, 5)
    with pytest.raises(RateLimited):
        check_rate_limit(request_or_key=request, action=Action.CONVERSION)


def random_ip() -> str:
    return ".".join(["10", *(str(b) for b in uuid.uuid4().bytes[:3])])


def test_anonymous_requests_are_counted_per_ip_address():
    requests = [RequestFactory().post("/", REMOTE_ADDR=random_ip()) for _ in range(2)]
    for request in requests:
        request.user = AnonymousUser()
    for _ in range(10):
        check_rate_limit(request_or_key=requests[0], action=Action.UPLOAD)
    with pytest.raises(RateLimited):
        check_rate_limit(request_or_key=requests[0], action=Action.UPLOAD)
    check_rate_limit(request_or_key=requests[1], action=Action.UPLOAD)


def test_a_raised_limit_in_settings_takes_effect():
    key = fresh_key()
    with override_settings(CREDITS_RATE_LIMITS={"conversion": "100/h"}):
        use(key, Action.CONVERSION, 100)
        with pytest.raises(RateLimited, match="limit of 100 conversions per hour"):
            check_rate_limit(request_or_key=key, action=Action.CONVERSION)


def test_a_limit_of_one_per_minute_reads_well():
    key = fresh_key()
    with override_settings(CREDITS_RATE_LIMITS={"upload": "1/m"}):
        check_rate_limit(request_or_key=key, action=Action.UPLOAD)
        with pytest.raises(RateLimited) as refused:
            check_rate_limit(request_or_key=key, action=Action.UPLOAD)
    assert (
        str(refused.value)
        == "You have reached the limit of 1 upload per minute. Please try again in a minute."
    )
    assert refused.value.retry_after_seconds <= 60


def test_an_unreadable_rate_setting_is_a_configuration_error():
    with (
        override_settings(CREDITS_RATE_LIMITS={"upload": "ten an hour"}),
        pytest.raises(ImproperlyConfigured),
    ):
        check_rate_limit(request_or_key=fresh_key(), action=Action.UPLOAD)


def test_when_redis_is_down_the_answer_is_a_503_with_a_message_not_a_crash():
    unreachable = {
        **settings.CACHES,
        "unreachable": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # Port 1 refuses at once: nothing listens there.
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    with (
        override_settings(CACHES=unreachable, RATELIMIT_USE_CACHE="unreachable"),
        pytest.raises(RateLimitUnavailable) as refused,
    ):
        check_rate_limit(request_or_key=fresh_key(), action=Action.UPLOAD)
    assert refused.value.http_status == 503
    assert refused.value.retry_after_seconds == 60
    assert "try again in a minute" in str(refused.value)


def test_the_count_lives_in_redis_so_every_web_process_shares_it():
    key = fresh_key()
    use(key, Action.CONVERSION, 5)
    script = (
        "import django; django.setup()\n"
        "from credits.errors import RateLimited\n"
        "from credits.ratelimits import check_rate_limit\n"
        "try:\n"
        f"    check_rate_limit(request_or_key={key!r}, action='conversion')\n"
        "except RateLimited:\n"
        "    raise SystemExit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "ebookvoice.settings.test"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr


@pytest.mark.django_db
def test_the_premium_plan_has_its_own_higher_limits(owner, staff):
    from credits.models import Plan
    from credits.services import credit_account_plan_set

    key = str(owner.pk)  # user ids are not reused within a run, and each run has its own cache prefix
    with override_settings(
        CREDITS_RATE_LIMITS={"conversion": "1/h"}, CREDITS_RATE_LIMITS_PREMIUM={"conversion": "3/h"}
    ):
        credit_account_plan_set(user=owner, plan=Plan.PREMIUM, actor=staff)
        use(key, Action.CONVERSION, 3)
        with pytest.raises(RateLimited, match="limit of 3 conversions per hour"):
            use(key, Action.CONVERSION, 1)
        # Back on the free plan, its lower limit applies (django-ratelimit counts each rate apart).
        credit_account_plan_set(user=owner, plan=Plan.FREE, actor=staff)
        use(key, Action.CONVERSION, 1)
        with pytest.raises(RateLimited, match="limit of 1 conversion per hour"):
            use(key, Action.CONVERSION, 1)
