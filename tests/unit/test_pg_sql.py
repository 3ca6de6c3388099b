"""The PostgreSQL store speaks the store's one SQL: its parameters translated, its text left alone."""

from __future__ import annotations

import pytest

from orderproc.engine import is_server_url
from orderproc.engine.store.postgres import shown_url, translate
from orderproc.engine.store.tables import schema_ddl


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT a FROM t WHERE id = ? AND b = ?", "SELECT a FROM t WHERE id = %s AND b = %s"),
    ("UPDATE t SET x = x + :amount WHERE id = :id", "UPDATE t SET x = x + %(amount)s WHERE id = %(id)s"),
    ("SELECT '?', ':not_a_name', 'it''s' FROM t WHERE a = ?", "SELECT '?', ':not_a_name', 'it''s' FROM t WHERE a = %s"),
    ("SELECT 100 % 7 FROM t WHERE a = ?", "SELECT 100 %% 7 FROM t WHERE a = %s"),
    ("SELECT x::text FROM t", "SELECT x::text FROM t"),
])
def test_parameters_are_translated_and_quoted_text_is_not(sql: str, expected: str) -> None:
    assert translate(sql) == expected


def test_a_url_names_a_server_and_its_password_is_never_shown() -> None:
    assert is_server_url("postgresql://u:pw@db.example:5432/ledger")
    assert is_server_url("postgres://u@h/ledger")
    assert not is_server_url("ledger.db")
    assert not is_server_url("/home/me/postgresql:/x.db")
    assert shown_url("postgresql://u:pw@db.example:5432/ledger") == "postgresql://u:***@db.example:5432/ledger"
    assert shown_url("postgresql://u@h/ledger") == "postgresql://u@h/ledger"


def test_the_postgresql_schema_keeps_sqlite_s_64_bit_integers_and_byte_order_text() -> None:
    ddl = "\n".join(schema_ddl(dialect="postgresql"))
    assert " SERIAL" not in ddl and "BIGSERIAL" in ddl
    assert "amount BIGINT NOT NULL" in ddl and "quantity BIGINT NOT NULL" in ddl  # cents and units
    assert "disabled INTEGER NOT NULL" in ddl  # flags 0/1, as the store's SQL writes them
    assert "VARCHAR" not in ddl and 'TEXT COLLATE "C"' in ddl
    assert "WHERE status = 'new'" in ddl  # the partial index of open orders
