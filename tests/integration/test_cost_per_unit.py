"""One rounding rule for cost per unit: a position's average cost and the unit cost of its only
open lot are the same figure, before and after partial sales; and `admin verify` checks every
sell's realized P&L against the lot closes it made (on SQLite and on PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import Clock
from depth_helpers import buy, execute, sell, trader

from orderproc.engine.service import LocalEngine


@pytest.mark.parametrize(("bought", "sold"), [("0.5", "0.3"), ("1.3", "0.0007"), ("0.77", "0.7")])
async def test_the_average_cost_of_a_position_of_one_lot_is_that_lots_unit_cost_after_a_partial_sale(
    engine: LocalEngine, clock: Clock, bought: str, sold: str
) -> None:
    token = await trader(engine, "alice", "10000")
    await engine.place_order(token, buy("ETH", bought))
    clock.advance(60)
    await engine.place_order(token, sell("ETH", sold))

    [position] = (await engine.portfolio(token)).positions
    [lot] = await engine.lots(token)
    assert position.average_cost == lot.unit_cost
    assert (position.cost_basis, position.quantity) == (lot.remaining_cost, lot.remaining)


async def test_a_lot_sold_out_keeps_the_unit_cost_it_was_bought_at(engine: LocalEngine, clock: Clock) -> None:
    token = await trader(engine, "alice", "10000")
    await engine.place_order(token, buy("ETH", "0.5"))
    clock.advance(60)
    await engine.place_order(token, sell("ETH", "0.5"))

    [lot] = await engine.lots(token, closed=True)
    assert lot.remaining == 0
    assert lot.unit_cost == pytest.approx(lot.cost / lot.quantity, rel=Decimal("1e-11"))


def _tamper_sqlite(location: Path | str, sql: str, params: tuple[Any, ...]) -> None:
    assert isinstance(location, Path)
    execute(location, sql, params)


def _tamper_postgres(location: Path | str, sql: str, params: tuple[Any, ...]) -> None:
    import psycopg

    assert isinstance(location, str)
    with psycopg.connect(location, autocommit=True) as conn:
        conn.execute(sql.replace("?", "%s"), params)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    if request.param == "sqlite":
        return tmp_path / "ledger.db"
    return str(request.getfixturevalue("pg_url"))


async def test_verify_reports_a_sell_whose_realized_pnl_is_not_what_its_lot_closes_give(
    ledger_location: Path | str, clock: Clock
) -> None:
    engine = LocalEngine(ledger_location, clock=clock, hash_profile="fast", market_seed=7)
    try:
        token = await trader(engine, "alice", "10000")
        await engine.place_order(token, buy("ETH", "0.5"))
        clock.advance(60)
        await engine.place_order(token, buy("ETH", "0.25"))
        clock.advance(60)
        sale = await engine.place_order(token, sell("ETH", "0.6"))
        report = await engine.admin_verify(engine.operator_token)
        assert report.ok, report.problems

        tamper = _tamper_sqlite if isinstance(ledger_location, Path) else _tamper_postgres
        tamper(ledger_location, "UPDATE orders SET realized = realized + 1 WHERE id = ?", (sale.id,))
        report = await engine.admin_verify(engine.operator_token)
        assert not report.ok
        [problem] = report.problems
        assert f"sell {sale.id}" in problem and "realized" in problem and "lot closes" in problem, problem

        tamper(ledger_location, "UPDATE orders SET realized = NULL WHERE id = ?", (sale.id,))
        [problem] = (await engine.admin_verify(engine.operator_token)).problems
        assert f"sell {sale.id}" in problem, problem
    finally:
        await engine.close()
