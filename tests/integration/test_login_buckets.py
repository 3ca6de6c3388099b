"""The login limits' buckets in the ledger (schema 3), which every server on it shares
(test_pg_servers.py shows two servers counting together): a schema-2 ledger gets them when it
opens, on SQLite and on PostgreSQL, and keeps everything else; and the table stays small.
A schema-3 ledger likewise gets schema 4's tables (watchlists, user settings, alerts, API keys)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Clock
from orderproc.engine.service import LocalEngine
from orderproc.engine.store.backend import open_backend
from orderproc.engine.store.ledger import SCHEMA_VERSION

PASSWORD = "correct horse battery"
SCHEMA_4_TABLES = ("watchlist", "user_settings", "alerts", "api_keys")
AS_SCHEMA_3 = (*(f"DROP TABLE {table}" for table in SCHEMA_4_TABLES),
               "UPDATE meta SET value = '3' WHERE key = 'schema_version'")


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else str(tmp_path / "ledger.db")


def _sql(location: str, *statements: str) -> list[tuple[object, ...]]:
    """Run statements in one transaction; the last one's rows."""
    db = open_backend(location, synchronous="NORMAL")
    conn = db.connect()
    try:
        db.begin_write(conn)
        rows: list[tuple[object, ...]] = []
        for statement in statements:
            cursor = conn.execute(statement)
            rows = list(cursor.fetchall()) if cursor.description else []
        conn.execute("COMMIT")
        return rows
    finally:
        conn.close()


async def _alice_with_cash(location: str) -> None:
    """A ledger with alice, who deposited $1,234.56."""
    engine = LocalEngine(location, hash_profile="fast")
    try:
        await engine.register("alice", PASSWORD)
        token = (await engine.login("alice", PASSWORD)).token
        await engine.deposit(token, "1234.56", key="first")
    finally:
        await engine.close()


async def test_a_schema_2_ledger_gets_the_shared_login_buckets_and_keeps_its_money(location: str) -> None:
    await _alice_with_cash(location)
    _sql(location, *AS_SCHEMA_3, "DROP TABLE rate_buckets", "UPDATE meta SET value = '2' WHERE key = 'schema_version'")

    engine = LocalEngine(location, hash_profile="fast")
    try:
        assert engine.meta["schema_version"] == str(SCHEMA_VERSION)
        token = (await engine.login("alice", PASSWORD)).token
        assert str((await engine.balance(token)).cash) == "1234.56"
        assert (await engine.admin_verify(engine.operator_token)).ok
        # the limits at once: a burst of two, then a wait of a second's tokens
        assert await engine.throttle([("account:alice", 1.0, 2.0)]) == 0
        assert await engine.throttle([("account:alice", 1.0, 2.0)]) == 0
        assert 0 < await engine.throttle([("account:alice", 1.0, 2.0)]) <= 1.0
    finally:
        await engine.close()
    assert _sql(location, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert _sql(location, "SELECT key FROM rate_buckets") == [("account:alice",)]


async def test_a_schema_3_ledger_gets_the_tables_of_schema_4_empty_and_keeps_its_money(location: str) -> None:
    await _alice_with_cash(location)
    _sql(location, *AS_SCHEMA_3)

    engine = LocalEngine(location, hash_profile="fast")
    try:
        assert engine.meta["schema_version"] == "4"
        token = (await engine.login("alice", PASSWORD)).token
        assert str((await engine.balance(token)).cash) == "1234.56"
        assert (await engine.admin_verify(engine.operator_token)).ok
    finally:
        await engine.close()
    for table in SCHEMA_4_TABLES:
        assert _sql(location, f"SELECT COUNT(*) FROM {table}") == [(0,)]
    _sql(location, "INSERT INTO watchlist (user_id, symbol, position, added_at) VALUES (1, 'BTC', 0, 'now')")
    assert _sql(location, "SELECT symbol FROM watchlist WHERE user_id = 1") == [("BTC",)]


async def test_the_buckets_are_forgotten_once_full_again_so_the_table_stays_small(
    engine: LocalEngine, clock: Clock, ledger_path: Path
) -> None:
    for n in range(50):  # an attacker's spray of account names
        await engine.throttle([(f"account:user{n}", 0.1, 3.0)])
    assert _sql(str(ledger_path), "SELECT COUNT(*) FROM rate_buckets") == [(50,)]
    clock.advance(9.0)  # one token back (0.1 a second): not full yet
    assert await engine.throttle([("address:10.0.0.1", 1.0, 5.0)]) == 0
    assert _sql(str(ledger_path), "SELECT COUNT(*) FROM rate_buckets") == [(51,)]
    clock.advance(2.0)  # 11 s: every account's bucket is full again
    assert await engine.throttle([("address:10.0.0.1", 1.0, 5.0)]) == 0
    assert _sql(str(ledger_path), "SELECT key FROM rate_buckets") == [("address:10.0.0.1",)]
