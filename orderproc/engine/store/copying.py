"""`admin copy`: a whole ledger from one backend to another (a SQLite file to PostgreSQL, and
back), row for row, in one transaction on each side, checked before the target commits."""

from __future__ import annotations

from typing import Any

from orderproc.engine.errors import Conflict, SchemaMismatch
from orderproc.engine.store import checks, ledger
from orderproc.engine.store.backend import Backend
from orderproc.engine.store.rows import CopyReport

BATCH = 5000  # rows read and written at a time


def copy_ledger(source: Backend, target: Backend) -> CopyReport:
    """Copy `source` (an orderproc ledger) into `target`, which must be empty. A source of an older
    schema is migrated inside the copy's read of it, and left as it was. The target commits only
    if its checker passes and every balance equals the source's. The token-signing key is not
    copied: sessions of the source do not carry over."""
    from orderproc.engine.store.tables import schema_ddl, table_columns

    src = source.adopt()  # the source's write lock: nothing changes in it while it is read
    try:
        if "meta" not in source.table_names(src):
            raise SchemaMismatch(f"{source.location} is not an orderproc ledger")
        version = int(ledger.read_meta(src)["schema_version"])
        if version < ledger.SCHEMA_VERSION:
            ledger.migrate(src, version)  # rolled back with the rest: the source is not changed
        dst = target.adopt()
        try:
            if target.table_names(dst):
                raise Conflict(f"{target.location} is not empty: copy into a new database or file",
                               {"target": target.location})
            for statement in schema_ddl(dialect=target.dialect):
                dst.execute(statement)
            tables = table_columns()
            rows = {name: _copy_table(src, dst, name, columns) for name, columns in tables}
            target.after_copy(dst, [name for name, columns in tables if "id" in columns])
            found = checks.ledger_problems(dst)
            if found.problems:
                raise SchemaMismatch(f"the copy does not verify: {found.problems[:3]}")
            balances = "SELECT account_id, asset, amount, cost, reserved FROM balances ORDER BY account_id, asset"
            if src.execute(balances).fetchall() != dst.execute(balances).fetchall():
                raise SchemaMismatch("the copy's balances differ from the source's")
            dst.execute("COMMIT")
        except BaseException:
            if dst.in_transaction:
                dst.execute("ROLLBACK")
            raise
        finally:
            dst.close()
    finally:
        if src.in_transaction:
            src.execute("ROLLBACK")  # nothing is written to the source (a migration is undone too)
        src.close()
    return CopyReport(source=source.location, target=target.location, rows=rows, orders=found.counts["orders"])


def _copy_table(src: Any, dst: Any, table: str, columns: list[str]) -> int:
    names = ", ".join(columns)
    insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"
    cur = src.execute(f"SELECT {names} FROM {table}")
    copied = 0
    while batch := cur.fetchmany(BATCH):
        if table == "meta":
            batch = [row for row in batch if row[0] != ledger.SECRET_KEY]
        dst.executemany(insert, batch)
        copied += len(batch)
    return copied
