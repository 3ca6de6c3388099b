"""orderproc's HTTP API: the Engine protocol over FastAPI, served by `orderproc serve`.

Every route validates its input, calls the engine and returns the engine's DTO; routes never
touch the database. The whole API, under `/v1` (JSON, decimals as strings):

    method  path                          body / query                       engine call
    POST    /v1/auth/register             {username, password}               register      -> 201 User
    POST    /v1/auth/login                {username, password}               login         -> Session
    POST    /v1/auth/logout                                                  logout        -> 204
    GET     /v1/me                                                           whoami        -> User
    PATCH   /v1/me                        {display_name?, email?}            update_profile -> User
    POST    /v1/me/password               {old_password, new_password}       change_password -> Session
    GET     /v1/accounts                                                     accounts      -> [AccountInfo]
    POST    /v1/accounts                  {name}                             create_account -> 201 AccountInfo
    POST    /v1/accounts/switch           {name}                             switch_account -> Session
    POST    /v1/accounts/reset            {cash}                             reset_account -> Transaction
    POST    /v1/keys                      {name?, read_only?}                create_api_key -> 201 NewApiKey
    GET     /v1/keys                                                         api_keys      -> [ApiKey]
    DELETE  /v1/keys/{key_id}                                                revoke_api_key -> ApiKey
    GET     /v1/cash                                                         balance       -> Balance
    POST    /v1/cash/deposit              {amount}        + Idempotency-Key  deposit       -> 201 Transaction
    POST    /v1/cash/withdraw             {amount}        + Idempotency-Key  withdraw      -> 201 Transaction
    GET     /v1/transactions              ?kind&offset&limit                 history       -> Page[Transaction]
    GET     /v1/assets                    ?search&category&sort&descending   list_assets   -> [Asset]
    GET     /v1/assets/{symbol}                                              get_asset     -> Asset
    GET     /v1/assets/{symbol}/history   ?hours&points                      price_history -> [PricePoint]
    GET     /v1/assets/{symbol}/candles   ?range&limit                       candles       -> Candles
    GET     /v1/assets/{symbol}/bars      ?interval&end&limit                bars          -> [PricePoint]
    GET     /v1/quotes                    ?symbols=BTC,ETH                   quotes        -> [Quote]
    GET     /v1/quotes/{symbol}                                              quote         -> Quote
    GET     /v1/stream/quotes             ?interval&count&symbols            stream_quotes -> SSE
    POST    /v1/orders                    OrderRequest    + Idempotency-Key  place_order   -> 201 Order
    GET     /v1/orders                    ?offset&limit&symbol&status&open   orders        -> Page[Order]
    DELETE  /v1/orders                    ?symbol                            cancel_orders -> [Order]
    POST    /v1/orders/preview            OrderRequest                       preview_order -> OrderPreview
    GET     /v1/orders/{order_id}                                            get_order     -> Order
    DELETE  /v1/orders/{order_id}                                            cancel_order  -> Order
    GET     /v1/portfolio                                                    portfolio     -> Portfolio
    GET     /v1/lots                      ?symbol&closed                     lots          -> [Lot]
    GET     /v1/pnl                                                          pnl           -> PnlReport
    GET     /v1/journal                   ?account&since                     journal       -> Journal
    GET     /v1/stream/account                                               stream_account -> SSE
    GET     /v1/settings                                                     ledger_settings -> LedgerSettings
    GET     /v1/leaderboard               ?sort=equity|return&limit          leaderboard   -> [LeaderboardEntry]
    GET     /v1/admin/users                                                  admin_users   -> [User]
    PATCH   /v1/admin/users/{username}    {role?, disabled?}                 admin_set_role / admin_set_disabled -> User
    GET     /v1/admin/audit               ?offset&limit                      admin_audit   -> Page[AuditEvent]
    PATCH   /v1/admin/settings            SettingsUpdate                     admin_update_settings -> LedgerSettings
    GET     /v1/admin/verify                                                 admin_verify  -> VerifyReport
    GET     /healthz                                                         {"status": "ok"}
    GET     /metrics                                                         Prometheus text

- Private routes take `Authorization: Bearer <token>` (the token `login` returned, or an API
  key's `<key_id>.<secret>`: reads of its account, and unless read-only cash and orders; the
  rest is `session_required`, 403).
- Errors: the HTTP status of the domain error and the body
  `{"error": {"code": ..., "message": ..., "details": {...}}}`; a malformed request is
  `validation_error` (422), an unknown path `not_found` (404), a body over the limit
  `payload_too_large` (413), a body that does not say `Content-Type: application/json`
  `unsupported_media_type` (415), too many requests `rate_limited` (429 with `Retry-After`;
  `/healthz` and `/metrics` are never limited).
- A GET answer of 1400 bytes or more is gzipped for a client that sends `Accept-Encoding: gzip`
  (the event streams never are).
- `Idempotency-Key` on a POST that moves money is the engine's idempotency key (for orders the
  same as `client_order_id`; giving both with different values is a validation error).
- The quote stream is server-sent events: one `event: quotes` whose `data` is a JSON list of
  quotes (every asset's, or those of `symbols=BTC,ETH`: an unknown one is `unknown_asset`, 404)
  every `interval` seconds (default 1), ending after `count` events if given. Its `id:` counts
  the events (on from a numeric `Last-Event-ID`).
- The account stream (private) is server-sent events too: `event: account` whose `data` is an
  AccountEvent (`orderproc.engine.events`), the account's marks at once and then each time
  fills, cash moves, order changes or anyone's journal entry (the leaderboard) move them; its
  `id:` is the marks (`entry-order-order_change-ledger-alert`): reconnecting with it as
  `Last-Event-ID`, the first event's kinds say what moved meanwhile; `event: error` with an
  error body when the session ends. Both streams send `retry: 3000` first and a `: keepalive`
  comment after 15 s of nothing, and end when the server stops (SIGTERM, Ctrl+C).
- Every response carries `X-Request-ID` (the client's, if it sent a sane one).
- Alpaca's crypto market data under `/v1beta3/crypto/{feed}/` (`orderproc.server.alpaca`), for
  alpaca-py: in Alpaca's shapes and errors, not in the OpenAPI document.
"""
