"""Names the surfaces validate before loading the engine: asset sort fields, transaction kinds."""

from __future__ import annotations

ASSET_SORT_FIELDS = ("rank", "symbol", "name", "price", "change", "category")
TX_KINDS = ("deposit", "withdrawal", "buy", "sell")
