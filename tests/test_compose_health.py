"""The production stack's health checks, read from the compose file (CI validates it with docker-compose)."""

from __future__ import annotations

import yaml

from ebookvoice.paths import BASE_DIR

SERVICES = yaml.safe_load((BASE_DIR / "compose" / "docker-compose.yml").read_text())["services"]


def test_every_service_has_a_health_check():
    assert [name for name, service in SERVICES.items() if "healthcheck" not in service] == []


def test_each_worker_is_healthy_when_it_answers_a_ping_under_its_own_name():
    for service, name in (("worker-light", "light"), ("worker-cpu", "cpu"), ("worker-gpu", "gpu")):
        test = " ".join(SERVICES[service]["healthcheck"]["test"])
        assert f"inspect ping --destination {name}@$$HOSTNAME" in test, service
        assert f"--hostname={name}@%h" in SERVICES[service]["command"], service


def test_the_web_check_is_liveness_only_and_does_not_depend_on_workers():
    test = " ".join(SERVICES["web"]["healthcheck"]["test"])
    assert "/healthz" in test
    depends = set(SERVICES["web"].get("depends_on", {}))
    assert not depends & {"worker-light", "worker-cpu", "worker-gpu", "beat"}


def test_postgres_and_both_redis_servers_are_checked_with_their_own_tools():
    assert SERVICES["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    # CMD-SHELL for the grep: with requirepass, a refused AUTH must not pass as healthy.
    assert SERVICES["broker"]["healthcheck"]["test"] == ["CMD-SHELL", "redis-cli ping | grep -qx PONG"]
    assert SERVICES["cache"]["healthcheck"]["test"] == ["CMD-SHELL", "redis-cli ping | grep -qx PONG"]


def test_web_processes_share_their_request_metrics_and_log_json():
    web = SERVICES["web"]
    assert web["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/tmp/prometheus"
    assert "exec gunicorn" in web["command"][-1]
    assert "--access-logfile" not in web["command"][-1]
    assert web["environment"]["LOG_FORMAT"] == "json"
    assert web["environment"]["METRICS_TOKEN"] == "${METRICS_TOKEN:-}"
