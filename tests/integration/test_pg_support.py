"""The throwaway PostgreSQL server of tests/pg_support.py: each test gets an empty database of its
own that it can write to, and a missing server skips (or fails, in CI) saying why."""

from __future__ import annotations

import pytest

from pg_support import PgServer, drop_database, new_database, unavailable

# psycopg is imported inside the tests: pg_server turns a missing driver into a skip (or a CI failure)


def test_a_database_takes_a_table_and_gives_back_its_rows(pg_url: str) -> None:
    import psycopg

    assert pg_url.startswith("postgresql://postgres@127.0.0.1:")
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, symbol text NOT NULL, qty numeric NOT NULL)")
        conn.execute("INSERT INTO orders (symbol, qty) VALUES ('BTC', 0.01), ('ETH', 2.5)")
        conn.commit()
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT symbol, qty::text FROM orders ORDER BY id").fetchall()
    assert rows == [("BTC", "0.01"), ("ETH", "2.5")]


def test_two_databases_are_independent(pg_server: PgServer, pg_url: str) -> None:
    import psycopg

    other = new_database(pg_server)
    try:
        assert other != pg_url
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (x int)")
            conn.execute("INSERT INTO t VALUES (1)")
        with psycopg.connect(other, autocommit=True) as conn:
            assert conn.execute("SELECT to_regclass('public.t')").fetchone() == (None,)
            conn.execute("CREATE TABLE t (x int)")
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    finally:
        drop_database(pg_server, other)
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
    assert other.rsplit("/", 1)[1] not in names
    assert pg_url.rsplit("/", 1)[1] in names


def test_the_server_listens_on_loopback_only_and_keeps_its_socket_in_its_directory(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('listen_addresses', 'unix_socket_directories', 'max_connections', 'fsync')"
        ).fetchall()
    settings: dict[str, str] = dict(rows)
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["max_connections"] == "200"
    assert settings["fsync"] == "off"
    assert "/orderproc-pg-" in settings["unix_socket_directories"]


def test_without_postgres_a_test_is_skipped_saying_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORDERPROC_REQUIRE_PG", raising=False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL unavailable \\(no initdb"):
        unavailable("no initdb")


@pytest.mark.parametrize("variable", ["ORDERPROC_REQUIRE_PG", "CI"])
def test_without_postgres_in_ci_a_test_fails_saying_why(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.delenv("ORDERPROC_REQUIRE_PG", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv(variable, "1")
    with pytest.raises(pytest.fail.Exception, match=f"PostgreSQL is required \\({variable} is set\\) but unavailable: no initdb"):
        unavailable("no initdb")
