"""Schemathesis hooks for test_api_schemathesis.py (loaded by the `schemathesis run` it starts,
through SCHEMATHESIS_HOOKS; the server's URL in SCHEMATHESIS_ORDERPROC_URL).

- Auth: every operation runs as the customer `fuzz-user`, the admin routes as the admin
  `fuzz-admin`; a token the run ended (logout, a password change) is fetched again on a 401, and
  a `fuzz-user` an admin request disabled is enabled again.
- Data: half the generated orders name a listed asset (the rest keep their generated symbol, an
  unknown one), and the account is topped up before an order if the run's withdrawals and resets
  left it short, so that orders reach the ledger rather than all stop at `unknown_asset`.
- `format: printable` (display names, emails: what Python's str.isprintable() takes, which no
  JSON Schema pattern can say): printable text, and addresses the email pattern matches.
- One more check, `ledger_refusals_only`: schemathesis.toml lets three operations refuse
  schema-valid requests with 422, and this check says which refusals: only those no schema can
  state (they depend on the ledger, or join a header to the body). Any other 422 to a
  schema-valid request fails the run.
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis
from hypothesis import strategies as st

URL = os.environ.get("SCHEMATHESIS_ORDERPROC_URL", "")
PASSWORD = "correct horse battery"
USER, ADMIN = "fuzz-user", "fuzz-admin"
SYMBOLS = ["BTC", "ETH", "DOGE", "SOL", "XRP"]
TOP_UP = "999999999999.00"  # the largest deposit the API takes
EMAIL = r"^[^@\s]*@[^@\s]*\.[^@\s]*$"  # ProfileUpdate.email's pattern

# (operation, code, field or None for any): the refusals of a schema-valid request that depend on
# the ledger (the account's balance and lots, the asset's precision and size limits, the current
# price for a stop) or on a header and the body together (Idempotency-Key and client_order_id
# must agree), none of which a schema can state
LEDGER_REFUSALS = {
    ("POST /v1/orders", "insufficient_funds", None), ("POST /v1/orders", "invalid_amount", None),
    ("POST /v1/orders", "validation_error", "client_order_id"),
    ("POST /v1/orders/preview", "insufficient_funds", None), ("POST /v1/orders/preview", "invalid_amount", None),
    ("POST /v1/cash/withdraw", "insufficient_funds", None),
    ("POST /v1/alerts", "validation_error", "price"),  # a price the market has reached already
}


def _login(name: str) -> str:
    answer = requests.post(f"{URL}/v1/auth/login", json={"username": name, "password": PASSWORD}, timeout=10)
    if answer.status_code == 403 and name == USER:  # an admin request of the run disabled it
        requests.patch(f"{URL}/v1/admin/users/{USER}", json={"disabled": False},
                       headers={"Authorization": f"Bearer {_login(ADMIN)}"}, timeout=10).raise_for_status()
        answer = requests.post(f"{URL}/v1/auth/login", json={"username": name, "password": PASSWORD}, timeout=10)
    answer.raise_for_status()
    token: str = answer.json()["token"]
    return token


def _bearer(case: Any, token: str) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@schemathesis.auth().apply_to(path_regex="^/v1/admin/")
class AdminAuth:
    def get(self, case: Any, ctx: Any) -> str:
        return _login(ADMIN)

    def set(self, case: Any, data: str, ctx: Any) -> None:
        _bearer(case, data)


@schemathesis.auth().skip_for(path_regex="^/v1/admin/")
class UserAuth:
    def get(self, case: Any, ctx: Any) -> str:
        return _login(USER)

    def set(self, case: Any, data: str, ctx: Any) -> None:
        _bearer(case, data)


schemathesis.openapi.format(
    "printable", st.one_of(st.text(), st.from_regex(EMAIL, fullmatch=True)).filter(str.isprintable))


@schemathesis.hook
def flatmap_body(ctx: Any, body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("symbol"), str):  # not a symbol of the wrong type
        return st.one_of(st.just(body), st.sampled_from(SYMBOLS).map(lambda symbol: {**body, "symbol": symbol}))
    return st.just(body)


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: Any) -> None:
    if case.operation.label not in ("POST /v1/orders", "POST /v1/orders/preview"):
        return
    authorization = (case.headers or {}).get("Authorization")
    if authorization is None:
        return
    headers = {"Authorization": authorization}
    cash = requests.get(f"{URL}/v1/cash", headers=headers, timeout=10)
    if cash.status_code == 200 and float(cash.json()["available"]) < 1e9:
        requests.post(f"{URL}/v1/cash/deposit", json={"amount": TOP_UP}, headers=headers, timeout=10)


@schemathesis.check
def ledger_refusals_only(ctx: Any, response: Any, case: Any) -> bool | None:
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return None
    error = response.json()["error"]
    field = (error.get("details") or {}).get("field")
    label = case.operation.label
    if (label, error["code"], None) not in LEDGER_REFUSALS and (label, error["code"], field) not in LEDGER_REFUSALS:
        raise AssertionError(f"a schema-valid request was refused: {error['code']} ({error['message']})")
    return None
