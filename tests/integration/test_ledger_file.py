"""The ledger file: created private and versioned, reopened intact, and refused clearly when it is not ours."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from conftest import PASSWORD, Clock

from orderproc.engine.errors import OrderprocError, SchemaMismatch
from orderproc.engine.schemas import OrderRequest
from orderproc.engine.service import LocalEngine


def _open(path: Path, clock: Clock, **kwargs: object) -> LocalEngine:
    return LocalEngine(path, clock=clock, hash_profile="fast", **kwargs)  # type: ignore[arg-type]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _secret(ledger: Path) -> Path:
    return ledger.with_name(ledger.name + ".secret")


async def test_a_new_ledger_records_the_current_schema_version_in_meta(ledger_path: Path, clock: Clock) -> None:
    engine = _open(ledger_path, clock, market_seed=7)
    await engine.close()
    assert _query(ledger_path, "SELECT value FROM meta WHERE key = 'schema_version'") == [("4",)]


async def test_reopening_a_ledger_keeps_users_cash_orders_sessions_and_prices(ledger_path: Path, clock: Clock) -> None:
    first = _open(ledger_path, clock, market_seed=7)
    await first.register("alice", PASSWORD)
    token = (await first.login("alice", PASSWORD)).token
    await first.deposit(token, "1000.00")
    order = await first.place_order(token, OrderRequest(symbol="ETH", side="buy", quantity="0.1"))
    price = (await first.quote("BTC")).price
    await first.close()

    # another seed on reopening must not change the market everyone on this ledger sees
    second = _open(ledger_path, clock, market_seed=99)
    try:
        assert (await second.whoami(token)).username == "alice"
        assert (await second.balance(token)).cash == 1000 - order.notional
        assert (await second.orders(token)).items == [order]
        assert (await second.quote("BTC")).price == price
        relogged = await second.login("alice", PASSWORD)
        assert (await second.whoami(relogged.token)).username == "alice"
        assert (await second.admin_verify(second.operator_token)).ok
    finally:
        await second.close()


async def test_a_ledger_written_by_a_newer_schema_fails_to_open_and_says_to_upgrade(
    ledger_path: Path, clock: Clock
) -> None:
    engine = _open(ledger_path, clock)
    await engine.close()
    conn = sqlite3.connect(ledger_path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()

    with pytest.raises(SchemaMismatch) as caught:
        _open(ledger_path, clock)
    assert caught.value.code == "schema_mismatch"
    assert "upgrade" in caught.value.message
    # nothing was rewritten: the newer version is still recorded
    assert _query(ledger_path, "SELECT value FROM meta WHERE key = 'schema_version'") == [("99",)]


def test_a_file_that_is_not_sqlite_is_refused_as_schema_mismatch_and_left_as_it_was(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "notes.txt"
    content = b"these are my notes, not a ledger\n" * 200
    path.write_bytes(content)

    with pytest.raises(SchemaMismatch) as caught:
        _open(path, clock)
    assert caught.value.code == "schema_mismatch"
    assert str(path) in caught.value.message
    assert path.read_bytes() == content


def test_a_sqlite_file_of_another_application_is_refused_as_schema_mismatch(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "other-app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.execute("INSERT INTO recipes VALUES ('soup')")
    conn.commit()
    conn.close()

    with pytest.raises(SchemaMismatch) as caught:
        _open(path, clock)
    assert "not an orderproc ledger" in caught.value.message
    assert _query(path, "SELECT name FROM sqlite_master WHERE type = 'table'") == [("recipes",)]
    assert _query(path, "SELECT name FROM recipes") == [("soup",)]
    assert not _secret(path).exists()


def test_opening_a_sqlite_file_of_another_application_does_not_change_its_journal_mode(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "other-app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    assert _query(path, "PRAGMA journal_mode") == [("delete",)]

    with pytest.raises(SchemaMismatch):
        _open(path, clock)
    assert _query(path, "PRAGMA journal_mode") == [("delete",)]


async def test_the_ledger_file_its_journal_and_its_key_file_are_readable_by_the_owner_only(
    ledger_path: Path, clock: Clock
) -> None:
    old_umask = os.umask(0o022)
    try:
        engine = _open(ledger_path, clock)
    finally:
        os.umask(old_umask)
    try:
        await engine.register("alice", PASSWORD)
        assert _mode(ledger_path) == 0o600
        assert _mode(_secret(ledger_path)) == 0o600
        wal = ledger_path.with_name(ledger_path.name + "-wal")
        assert wal.exists() and _mode(wal) == 0o600
    finally:
        await engine.close()


async def test_a_key_file_that_others_can_read_is_refused(ledger_path: Path, clock: Clock) -> None:
    engine = _open(ledger_path, clock)
    await engine.close()
    _secret(ledger_path).chmod(0o640)

    with pytest.raises(OrderprocError) as caught:
        _open(ledger_path, clock)
    assert "chmod 600" in caught.value.message

    _secret(ledger_path).chmod(0o600)
    await _open(ledger_path, clock).close()


async def test_a_key_file_shorter_than_32_bytes_is_refused(ledger_path: Path, clock: Clock) -> None:
    engine = _open(ledger_path, clock)
    await engine.close()
    _secret(ledger_path).write_bytes(b"0123456789")

    with pytest.raises(OrderprocError, match="shorter than 32 bytes"):
        _open(ledger_path, clock)


async def test_the_ledger_runs_in_wal_mode(ledger_path: Path, clock: Clock) -> None:
    engine = _open(ledger_path, clock)
    try:
        await engine.register("alice", PASSWORD)
        assert _query(ledger_path, "PRAGMA journal_mode") == [("wal",)]
    finally:
        await engine.close()
    assert _query(ledger_path, "PRAGMA journal_mode") == [("wal",)]


async def test_a_copied_ledger_file_with_its_key_opens_with_everything_in_it(
    ledger_path: Path, tmp_path: Path, clock: Clock
) -> None:
    engine = _open(ledger_path, clock)
    await engine.register("alice", PASSWORD)
    token = (await engine.login("alice", PASSWORD)).token
    await engine.deposit(token, "12.34")
    await engine.close()

    copy = tmp_path / "backup" / "copy.db"
    copy.parent.mkdir()
    shutil.copy2(ledger_path, copy)
    shutil.copy2(_secret(ledger_path), _secret(copy))
    restored = _open(copy, clock)
    try:
        session = await restored.login("alice", PASSWORD)
        assert str((await restored.balance(session.token)).cash) == "12.34"
    finally:
        await restored.close()
