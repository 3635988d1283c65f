from __future__ import annotations

import os
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest

from ebookvoice.tests.settings_probe import clean_environ, manage, run_python, settings_json

BASE = {"DJANGO_SETTINGS_MODULE": "ebookvoice.settings.base"}


def production_environ(var_dir: Path, **overrides: str) -> dict[str, str]:
    environ = clean_environ(
        var_dir,
        DJANGO_SETTINGS_MODULE="ebookvoice.settings.production",
        SECRET_KEY="k7#Qp2!vXz9@Lm4$Rt6%Wy8^Bn1&Cd3*Fg5(Hj0)Ks-Ae_Uo+Iq=Zx",
        ALLOWED_HOSTS="ebookvoice.example",
        DATABASE_URL="postgres://ebv:secret@db:5432/ebookvoice",
        CELERY_BROKER_URL="redis://:broker-secret@broker:6379/0",
        CACHE_URL="redis://:cache-secret@cache:6379/0",
        EMAIL_URL="smtp+tls://mailer:secret@smtp.example:587",
        FERNET_KEYS="0EMh2bQ3Qk3xw5Vq8a0wqk7q3TqkC1i8aV2fB7m6Qm8=",
        R2_ACCOUNT_ID="abc123",
        R2_ACCESS_KEY_ID="AKIAEXAMPLE",
        R2_SECRET_ACCESS_KEY="secret",
        R2_BUCKET_NAME="ebookvoice",
    )
    environ.update(overrides)
    return {key: value for key, value in environ.items() if value != ""}


def test_with_no_environment_the_app_uses_sqlite_in_wal_mode_with_immediate_transactions(tmp_path):
    environ = clean_environ(tmp_path, **BASE)
    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])\n"
        "print(connection.settings_dict['OPTIONS']['transaction_mode'])\n"
        "print(connection.settings_dict['NAME'])\n"
    )
    result = run_python(code, environ)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "IMMEDIATE", str(tmp_path / "db.sqlite3")]


def test_with_no_environment_storage_is_local_under_var_with_no_public_url(tmp_path):
    storage = settings_json(clean_environ(tmp_path, **BASE), "settings.STORAGES['default']")
    assert storage["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert storage["OPTIONS"] == {"location": str(tmp_path / "media"), "base_url": None}


def test_with_no_environment_email_goes_to_files_under_var_and_redis_is_the_private_socket(tmp_path):
    found = settings_json(
        clean_environ(tmp_path, **BASE),
        "[settings.EMAIL_DELIVERY_BACKEND, settings.EMAIL_FILE_PATH, settings.CACHES['default']['LOCATION'],"
        " settings.CELERY_BROKER_URL]",
    )
    socket_path = tmp_path / "run" / "redis.sock"
    assert found == [
        "ebookvoice.mail.LocalMailBackend",
        str(tmp_path / "mail"),
        f"unix://{socket_path}",
        f"redis+socket://{socket_path}",
    ]


def test_local_secrets_are_generated_once_and_kept(tmp_path):
    expression = "[settings.SECRET_KEY, settings.FERNET_KEYS]"
    first = settings_json(clean_environ(tmp_path, **BASE), expression)
    second = settings_json(clean_environ(tmp_path, **BASE), expression)
    assert first == second
    assert len(first[0]) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_ffmpeg_comes_from_imageio_ffmpeg_when_none_is_on_the_path(tmp_path):
    environ = clean_environ(tmp_path, **BASE, PATH=str(tmp_path / "empty-bin"))
    binary = settings_json(environ, "settings.FFMPEG_BINARY")
    assert binary == imageio_ffmpeg.get_ffmpeg_exe()
    version = subprocess.run([binary, "-version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("ffmpeg version")


def test_broker_and_cache_default_to_redis_url_and_can_each_be_overridden(tmp_path):
    expression = "[settings.CELERY_BROKER_URL, settings.CACHES['default']['LOCATION']]"
    shared = clean_environ(tmp_path, **BASE, REDIS_URL="redis://shared:6379/0")
    assert settings_json(shared, expression) == ["redis://shared:6379/0", "redis://shared:6379/0"]
    split = dict(shared, CELERY_BROKER_URL="redis://broker:6379/0", CACHE_URL="redis://cache:6379/1")
    assert settings_json(split, expression) == ["redis://broker:6379/0", "redis://cache:6379/1"]


def test_database_url_selects_postgresql(tmp_path):
    environ = clean_environ(tmp_path, **BASE, DATABASE_URL="postgres://u:p@db.example:5432/books")
    database = settings_json(environ, "settings.DATABASES['default']")
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["NAME"], database["CONN_HEALTH_CHECKS"]) == (
        "db.example",
        "books",
        True,
    )


def test_r2_variables_select_a_private_s3_storage_on_the_account_endpoint(tmp_path):
    environ = clean_environ(
        tmp_path,
        **BASE,
        R2_ACCOUNT_ID="acct",
        R2_ACCESS_KEY_ID="id",
        R2_SECRET_ACCESS_KEY="key",
        R2_BUCKET_NAME="books",
    )
    storage = settings_json(environ, "settings.STORAGES['default']")
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    options = storage["OPTIONS"]
    assert options["endpoint_url"] == "https://acct.r2.cloudflarestorage.com"
    assert (options["region_name"], options["bucket_name"]) == ("auto", "books")
    assert (options["default_acl"], options["querystring_auth"]) == (None, True)
    assert options["querystring_expire"] <= 15 * 60
    config = settings_json(
        environ,
        "[getattr(settings.STORAGES['default']['OPTIONS']['client_config'], name) for name in "
        "('connect_timeout', 'read_timeout', 'signature_version', 'retries')]",
    )
    assert config == [5.0, 30.0, "s3v4", {"mode": "standard", "max_attempts": 2}], "not botocore's 60 s"


def test_any_s3_endpoint_can_be_used_instead_of_r2(tmp_path):
    environ = clean_environ(
        tmp_path,
        **BASE,
        AWS_S3_ENDPOINT_URL="http://127.0.0.1:9000",
        AWS_ACCESS_KEY_ID="id",
        AWS_SECRET_ACCESS_KEY="key",
        AWS_STORAGE_BUCKET_NAME="books",
    )
    options = settings_json(environ, "settings.STORAGES['default']['OPTIONS']")
    assert (options["endpoint_url"], options["bucket_name"]) == ("http://127.0.0.1:9000", "books")


def test_email_google_fernet_and_tts_device_come_from_the_environment(tmp_path):
    environ = clean_environ(
        tmp_path,
        **BASE,
        EMAIL_URL="smtp+tls://user:pw@smtp.example:587",
        GOOGLE_OAUTH_CLIENT_ID="gid",
        GOOGLE_OAUTH_CLIENT_SECRET="gsecret",
        FERNET_KEYS="new-key,old-key",
        TTS_DEVICE="cuda",
    )
    found = settings_json(
        environ,
        "[settings.EMAIL_DELIVERY_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS,"
        " settings.GOOGLE_OAUTH_CLIENT_ID, settings.GOOGLE_OAUTH_CLIENT_SECRET,"
        " settings.FERNET_KEYS, settings.TTS_DEVICE]",
    )
    assert found == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example",
        587,
        True,
        "gid",
        "gsecret",
        ["new-key", "old-key"],
        "cuda",
    ]


def test_production_check_deploy_prints_no_warning(tmp_path):
    result = manage(["check", "--deploy", "--fail-level", "WARNING"], production_environ(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.django_db(transaction=True)  # the manage.py processes read this test's database
def test_production_never_makes_the_demo_account_and_check_deploy_reports_one_that_exists(tmp_path):
    from django.db import connection

    from accounts.demo import DEMO_EMAIL
    from accounts.models import User
    from ebookvoice.local_services import database_url_for

    database = database_url_for(os.environ["DATABASE_URL"], str(connection.settings_dict["NAME"]))
    environ = production_environ(tmp_path, DATABASE_URL=database)
    refused = manage(["ensure_demo_user"], environ)
    assert refused.returncode == 1
    assert "only the local profile creates it" in refused.stderr
    assert not User.objects.filter(email=DEMO_EMAIL).exists()
    assert manage(["check", "--deploy", "--fail-level", "WARNING"], environ).returncode == 0

    User.objects.create_user(DEMO_EMAIL, "listen-to-books")
    reported = manage(["check", "--deploy"], environ)
    assert reported.returncode == 1
    assert f"(accounts.E001) The local demo account {DEMO_EMAIL} exists" in reported.stderr


def test_production_uses_s3_storage_cached_sessions_and_hashed_static_files(tmp_path):
    found = settings_json(
        production_environ(tmp_path),
        "[settings.STORAGES['default']['BACKEND'], settings.STORAGES['staticfiles']['BACKEND'],"
        " settings.SESSION_ENGINE, settings.DEBUG]",
    )
    assert found == [
        "storages.backends.s3.S3Storage",
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
        "django.contrib.sessions.backends.cached_db",
        False,
    ]


@pytest.mark.parametrize(
    "removed",
    ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "EMAIL_URL",
     "FERNET_KEYS", "R2_SECRET_ACCESS_KEY", "R2_BUCKET_NAME"],
)  # fmt: skip
def test_production_refuses_to_start_without_each_secret(tmp_path, removed):
    result = manage(["check"], production_environ(tmp_path, **{removed: ""}))
    assert result.returncode != 0
    assert "Production settings refused to start" in result.stderr
    assert f"missing environment variables: {removed}" in result.stderr


def test_production_names_every_missing_variable_at_once(tmp_path):
    result = manage(["check"], production_environ(tmp_path, SECRET_KEY="", FERNET_KEYS=""))
    assert "missing environment variables: SECRET_KEY, FERNET_KEYS" in result.stderr


def test_production_refuses_one_redis_for_both_broker_and_cache(tmp_path):
    environ = production_environ(tmp_path, CACHE_URL="redis://:broker-secret@broker:6379/0")
    result = manage(["check"], environ)
    assert result.returncode != 0
    assert "CELERY_BROKER_URL and CACHE_URL must be different Redis servers" in result.stderr


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("CELERY_BROKER_URL", "redis://broker:6379/0"),
        ("CACHE_URL", "rediss://user@cache:6380/0"),
        ("CELERY_RESULT_BACKEND", "redis://results:6379/0"),
    ],
)
def test_production_refuses_a_redis_url_without_a_password(tmp_path, name, url):
    result = manage(["check"], production_environ(tmp_path, **{name: url}))
    assert result.returncode != 0
    scheme = url.split(":", 1)[0]
    assert f"{name} has no password: set requirepass on that Redis and put it in the URL" in result.stderr
    assert f"({scheme}://:PASSWORD@host:6379/0)" in result.stderr


def test_production_accepts_redis_on_a_unix_socket_without_a_password(tmp_path):
    environ = production_environ(tmp_path, CACHE_URL=f"unix://{tmp_path}/cache.sock")
    result = manage(["check", "--deploy", "--fail-level", "WARNING"], environ)
    assert result.returncode == 0, result.stderr


def test_production_refuses_sqlite(tmp_path):
    result = manage(["check"], production_environ(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/db"))
    assert "DATABASE_URL must name a PostgreSQL database in production" in result.stderr


def test_production_requires_both_halves_of_the_google_client(tmp_path):
    result = manage(["check"], production_environ(tmp_path, GOOGLE_OAUTH_CLIENT_ID="gid"))
    assert "missing environment variables: GOOGLE_OAUTH_CLIENT_SECRET" in result.stderr


STRIPE = {
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
    "STRIPE_PRICES": "pack-5=price_a,pack-20=price_b,pack-50=price_c,premium=price_d",
}


@pytest.mark.parametrize("given", ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_PRICES"])
def test_production_refuses_half_a_stripe_configuration(tmp_path, given):
    result = manage(["check"], production_environ(tmp_path, **{given: STRIPE[given]}))
    assert result.returncode != 0
    missing = ", ".join(name for name in STRIPE if name != given)
    assert f"missing environment variables: {missing}" in result.stderr


def test_production_refuses_stripe_prices_that_leave_a_pack_or_the_plan_without_a_price(tmp_path):
    environ = production_environ(tmp_path, **{**STRIPE, "STRIPE_PRICES": "pack-5=price_a,pack-20=price_b"})
    result = manage(["check"], environ)
    assert result.returncode != 0
    assert "Billing settings refused: STRIPE_PRICES has no price id for pack-50, premium" in result.stderr


def test_production_with_the_whole_stripe_configuration_checks_clean(tmp_path):
    result = manage(["check", "--deploy", "--fail-level", "WARNING"], production_environ(tmp_path, **STRIPE))
    assert result.returncode == 0, result.stderr


def test_production_accepts_any_s3_endpoint_in_place_of_r2(tmp_path):
    environ = production_environ(
        tmp_path,
        R2_ACCOUNT_ID="",
        R2_ACCESS_KEY_ID="",
        R2_SECRET_ACCESS_KEY="",
        R2_BUCKET_NAME="",
        AWS_S3_ENDPOINT_URL="https://s3.example",
        AWS_ACCESS_KEY_ID="id",
        AWS_SECRET_ACCESS_KEY="key",
        AWS_STORAGE_BUCKET_NAME="books",
    )
    result = manage(["check", "--deploy", "--fail-level", "WARNING"], environ)
    assert result.returncode == 0, result.stderr


def test_the_test_profile_refuses_to_run_without_real_services(tmp_path):
    environ = clean_environ(tmp_path, DJANGO_SETTINGS_MODULE="ebookvoice.settings.test")
    result = manage(["check"], environ)
    assert result.returncode != 0
    assert "Tests need DATABASE_URL and REDIS_URL" in result.stderr


@pytest.mark.django_db
def test_tests_run_on_real_postgresql_and_redis(settings):
    from django.core.cache import cache
    from django.db import connection

    assert connection.vendor == "postgresql"
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    cache.set("probe", "value", 5)
    assert cache.get("probe") == "value"
    assert os.environ["REDIS_URL"]
