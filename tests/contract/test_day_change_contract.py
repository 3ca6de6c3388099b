"""Today's change and cost per unit read the same through every engine (local and remote, on
SQLite and PostgreSQL): the figure is the engine's, not the surface's."""

from __future__ import annotations

from decimal import Decimal

from conftest import Clock

from orderproc.engine.protocol import Engine
from orderproc.engine.schemas import OrderRequest, SettingsUpdate
from orderproc.engine.service import LocalEngine
from contract_helpers import engine, ledger_checks_out, signed_up  # noqa: F401 - fixtures


async def test_todays_change_is_the_days_pnl_through_every_engine(
    api: Engine, engine: LocalEngine, clock: Clock
) -> None:
    token = await signed_up(api, cash="10000")
    await engine.admin_update_settings(engine.operator_token, SettingsUpdate(taker_fee_bps=Decimal(25)))
    bought = await api.place_order(token, OrderRequest(symbol="ETH", side="buy", quantity="0.5"))
    clock.advance(60)
    await api.place_order(token, OrderRequest(symbol="ETH", side="sell", quantity="0.2"))
    clock.advance(60)

    portfolio = await api.portfolio(token)
    report = await api.pnl(token)
    assert bought.receipt is not None and bought.receipt.fee > 0
    assert portfolio.day_change == report.total_pnl  # the account opened today: all its P&L is today's
    [position] = portfolio.positions
    [lot] = await api.lots(token)
    assert position.average_cost == lot.unit_cost
