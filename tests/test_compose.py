"""The production stack's invariants, read from the compose file itself.

CI also validates the file with docker-compose; these check what a schema
cannot: that the broker can't lose tasks and the cache can't fill up.
"""

from __future__ import annotations

import re

import yaml

from ebookvoice.paths import BASE_DIR

COMPOSE = yaml.safe_load((BASE_DIR / "compose" / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_the_stack_has_web_workers_beat_postgresql_and_two_redis_servers():
    assert set(SERVICES) >= {
        "web", "worker-light", "worker-cpu", "worker-gpu", "beat", "postgres", "broker", "cache", "migrate",
    }  # fmt: skip


def test_the_broker_never_evicts_and_keeps_an_append_only_file():
    command = " ".join(SERVICES["broker"]["command"])
    assert "--maxmemory-policy noeviction" in command
    assert "--appendonly yes" in command


def test_the_cache_evicts_least_recently_used_keys():
    assert "--maxmemory-policy allkeys-lru" in " ".join(SERVICES["cache"]["command"])


def test_broker_and_cache_are_separate_servers_for_the_app():
    environment = SERVICES["web"]["environment"]
    assert environment["CELERY_BROKER_URL"].endswith("@broker:6379/0")
    assert environment["CACHE_URL"].endswith("@cache:6379/0")
    assert environment["DJANGO_SETTINGS_MODULE"] == "ebookvoice.settings.production"


def test_workers_take_separate_queues_and_the_gpu_worker_uses_the_cuda_image():
    assert "--queues=light" in SERVICES["worker-light"]["command"]
    assert "--queues=synthesis" in SERVICES["worker-cpu"]["command"]
    gpu = SERVICES["worker-gpu"]
    assert "--queues=synthesis" in gpu["command"]
    assert gpu["build"]["dockerfile"] == "compose/Dockerfile.cuda"
    assert gpu["profiles"] == ["gpu"]
    assert gpu["environment"]["TTS_DEVICE"] == "cuda"


def test_both_redis_servers_require_a_password_and_the_app_urls_carry_it():
    environment = SERVICES["web"]["environment"]
    for service, url, password in (
        ("broker", "CELERY_BROKER_URL", "BROKER_REDIS_PASSWORD"),
        ("cache", "CACHE_URL", "CACHE_REDIS_PASSWORD"),
    ):
        required = f"${{{password}:?set {password} in compose/.env}}"
        command = SERVICES[service]["command"]
        assert command[command.index("--requirepass") + 1] == required, service
        assert environment[url] == f"redis://:{required}@{service}:6379/0", url
        # The health check's redis-cli authenticates too, and fails without a PONG.
        assert SERVICES[service]["environment"]["REDISCLI_AUTH"] == required, service
        assert SERVICES[service]["healthcheck"]["test"] == ["CMD-SHELL", "redis-cli ping | grep -qx PONG"]


def test_every_required_variable_is_in_the_env_example():
    example = (BASE_DIR / "compose" / ".env.example").read_text()
    names = set(re.findall(r"\$\{([A-Z0-9_]+):\?", (BASE_DIR / "compose" / "docker-compose.yml").read_text()))
    assert {"BROKER_REDIS_PASSWORD", "CACHE_REDIS_PASSWORD"} <= names
    assert [name for name in sorted(names) if not re.search(rf"^{name}=", example, re.M)] == []
    assert "redis://:<BROKER_REDIS_PASSWORD>@broker:6379/0" in example
    assert "redis://:<CACHE_REDIS_PASSWORD>@cache:6379/0" in example


def test_secrets_are_required_rather_than_defaulted():
    environment = SERVICES["web"]["environment"]
    for name in ("SECRET_KEY", "ALLOWED_HOSTS", "EMAIL_URL", "FERNET_KEYS"):
        assert environment[name].startswith(f"${{{name}:?"), name


def test_both_dockerfiles_exist_and_the_web_image_collects_static_files():
    cpu = (BASE_DIR / "compose" / "Dockerfile.cpu").read_text()
    assert "collectstatic" in cpu
    assert "ebookvoice.settings.build" in cpu
    assert (BASE_DIR / "compose" / "Dockerfile.cuda").exists()
