"""An Alpaca-compatible API on `orderproc serve`, for bots written against Alpaca's SDKs
(alpaca-py's TradingClient and CryptoHistoricalDataClient with `url_override`): trading under
`/v2` (trading.py) and crypto market data under `/v1beta3` (market_data.py), over the same
engine and ledger as `/v1`. What they share is in common.py."""
