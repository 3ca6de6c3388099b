"""How JSON carries a request's numbers and keys: rules the API's schema states and the server
enforces alike.

Every money, quantity, price and basis-point field travels as a decimal string in plain notation
("0.5", "250.00"): never a JSON number (most clients hold one as a binary float: 0.1 + 0.2 is not
0.3 there), never "1E-8", no sign, no leading zero, no spaces. Answers write them so; requests
must. Each kind of field has its rule (`DecimalText`): its `pattern` and `maxLength` are the
OpenAPI document's, and `check` is what the server applies to the JSON it reads, so that what the
document accepts the server accepts, and the other way round. Rules that depend on the ledger
(the asset's precision, the account's balance, the current price) are the engine's, and cannot be
in a schema.

Python callers are not held to the wire: the models still take a Decimal, an int or a string in
any notation `parse_decimal` reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from collections.abc import Callable

from pydantic import BeforeValidator, ValidationInfo, WithJsonSchema

from orderproc.engine import errors
from orderproc.engine.domain.money import PRICE_DIGITS

_ZERO = r"^0(?:\.0+)?$"


def _significant(digits: int) -> str:
    """Positive decimals in plain notation with at most `digits` significant digits (trailing zeros
    of the number are not significant: 1200 has 2, 0.0120 has 2)."""
    whole_only = rf"[1-9][0-9]{{0,{digits - 1}}}0*(?:\.0+)?"
    mixed = [rf"[1-9][0-9]{{{w - 1}}}\.[0-9]{{0,{digits - w - 1}}}[1-9]0*" for w in range(1, digits)]
    below_one = rf"0\.0*[1-9](?:[0-9]{{0,{digits - 2}}}[1-9])?0*"
    return "^(?:" + "|".join([whole_only, *mixed, below_one]) + ")$"


@dataclass(frozen=True)
class DecimalText:
    """A decimal field on the wire: a string matching `pattern`, at most `max_length` characters,
    zero refused if `positive`."""

    pattern: str
    description: str
    example: str
    positive: bool = True
    max_length: int = 31  # with it, no value is out of parse_decimal's range (1e-30 to 1e31)
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", re.compile(self.pattern, re.ASCII))

    def json_schema(self, *, nullable: bool = False) -> dict[str, Any]:
        text: dict[str, Any] = {"type": "string", "pattern": self.pattern, "maxLength": self.max_length}
        if self.positive and self._regex.fullmatch("0"):
            text["not"] = {"pattern": _ZERO}
        schema = {"anyOf": [text, {"type": "null"}]} if nullable else text
        return {**schema, "description": self.description, "examples": [self.example]}

    def schema(self, description: str | None = None) -> WithJsonSchema:
        """The schema of a `str` field of a route's own model that takes this rule (with
        `validator()`: `Annotated[str, RULE.schema(), RULE.validator()]`)."""
        schema = self.json_schema()
        if description:
            schema["description"] = f"{description}: {self.description}"
        return WithJsonSchema(schema)

    def validator(self) -> BeforeValidator:
        """This check on a `str` field, raising InvalidAmount as the engine would."""
        def check(value: object, info: ValidationInfo) -> object:
            self.check(value, info.field_name or "amount")
            return value

        return BeforeValidator(check)

    def accepts(self, value: object) -> bool:
        return (isinstance(value, str) and len(value) <= self.max_length and self._regex.fullmatch(value) is not None
                and not (self.positive and re.fullmatch(_ZERO, value)))

    def check(self, value: object, name: str) -> None:
        """Raise InvalidAmount (with the field) unless `value` is written as this rule says."""
        if self.accepts(value):
            return
        if isinstance(value, bool) or not isinstance(value, str):
            said = "a JSON number" if isinstance(value, int | float) and not isinstance(value, bool) else "not a string"
            raise errors.InvalidAmount(f"{name} is a decimal string such as {self.example!r}, {said}", {"field": name})
        raise errors.InvalidAmount(f"{name}: {self.description}", {"field": name})


def _plain(whole: int, decimals: int | None) -> str:
    fraction = r"(?:\.[0-9]+)?" if decimals is None else rf"(?:\.[0-9]{{1,{decimals}}})?"
    return rf"^(?:0|[1-9][0-9]{{0,{whole - 1}}}){fraction}$"


USD = DecimalText(
    _plain(12, 2),
    "USD, a decimal string above zero: at most 12 digits before the point and 2 after it", "250.00")
QUANTITY = DecimalText(
    _plain(17, 8),
    "A quantity of the asset, a decimal string above zero: at most 17 digits before the point and 8 after it "
    "(the asset allows at most its own precision's decimals)", "0.5")
PRICE_GUARD = DecimalText(
    _plain(31, None), "A price in USD, a decimal string above zero (at most 31 characters)", "65000")
ORDER_PRICE = DecimalText(
    _significant(PRICE_DIGITS),
    f"A price in USD, a decimal string above zero of at most {PRICE_DIGITS} significant digits (at most 31 "
    "characters)", "64250.5")
BPS = DecimalText(
    r"^(?:(?:0|[1-9][0-9]{0,2})(?:\.[0-9]+)?|1000(?:\.0+)?)$",
    "Basis points, a decimal string from 0 to 1000 (at most 31 characters)", "7.5", positive=False)

# the largest id a JSON number carries exactly in every client (JavaScript's Number.MAX_SAFE_INTEGER)
MAX_ID = 2**53 - 1

# an idempotency key as a header can carry it: 1-128 printable characters of Latin-1 (a header's
# bytes are Latin-1; the engine takes any printable key), no space at either end (HTTP strips it)
_KEY_CHAR = "!-~\u00a1-\u00ac\u00ae-\u00ff"  # printable, as str.isprintable() says, but the space
KEY_PATTERN = f"^[{_KEY_CHAR}](?:[ {_KEY_CHAR}]{{0,126}}[{_KEY_CHAR}])?$"
_KEY = re.compile(KEY_PATTERN, re.ASCII)


def check_key(value: object, name: str) -> None:
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise errors.ValidationError(f"{name} is 1-128 printable Latin-1 characters, no space at either end",
                                     {"field": name})


# -- the shapes of requests, as their schemas state them ---------------------------------------

NULL: dict[str, Any] = {"type": "null"}
_GIVEN: dict[str, Any] = {"type": "string"}


def one_at_least(*fields: str) -> Callable[[dict[str, Any]], None]:
    """A patch's `json_schema_extra`: at least one of `fields` given, and not null (else nothing
    would change, which the engine refuses)."""
    def extra(schema: dict[str, Any]) -> None:
        schema["anyOf"] = [{"properties": {name: {"not": NULL}}, "required": [name]} for name in fields]
    return extra


def order_shapes(schema: dict[str, Any]) -> None:
    """OrderRequest's `json_schema_extra`: the shapes an order takes (`rules.check_shape`): a
    market order by quantity or by USD amount (either, not both), maybe guarded by `price_limit`,
    immediate; a limit, stop or stop-limit order by quantity with its prices, resting (gtc, the
    default) or, a limit order only, ioc; a `lot_id` only on a sell. A field an order does not
    take is left out or null. And examples of each."""
    def shape(kind: str, given: list[str], absent: list[str], tif: list[str | None] | None) -> dict[str, Any]:
        properties: dict[str, Any] = {"type": {"const": kind}, **{f: _GIVEN for f in given},
                                      **{f: NULL for f in absent}}
        if tif is not None:
            properties["time_in_force"] = {"enum": tif}
        return {"properties": properties, "required": ([] if kind == "market" else ["type"]) + given}

    market: list[str | None] = ["ioc", None]
    resting: list[str | None] = ["gtc", None]
    schema["allOf"] = [
        {"anyOf": [
            shape("market", ["quantity"], ["notional", "limit_price", "stop_price"], market),
            shape("market", ["notional"], ["quantity", "limit_price", "stop_price"], market),
            shape("limit", ["quantity", "limit_price"], ["notional", "price_limit", "stop_price"], None),
            shape("stop", ["quantity", "stop_price"], ["notional", "price_limit", "limit_price"], resting),
            shape("stop_limit", ["quantity", "limit_price", "stop_price"], ["notional", "price_limit"], resting),
        ]},
        {"anyOf": [{"properties": {"side": {"const": "sell"}}, "required": ["side"]},
                   {"properties": {"lot_id": NULL}}]},
    ]
    schema["examples"] = [
        {"symbol": "BTC", "side": "buy", "quantity": "0.01"},
        {"symbol": "ETH", "side": "buy", "notional": "250.00", "price_limit": "1000000"},
        {"symbol": "ETH", "side": "sell", "quantity": "0.01", "price_limit": "1"},
        {"symbol": "SOL", "side": "buy", "type": "limit", "quantity": "2", "limit_price": "1", "time_in_force": "gtc"},
        {"symbol": "BTC", "side": "sell", "type": "stop", "quantity": "0.001", "stop_price": "1000"},
    ]
