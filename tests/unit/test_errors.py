"""Domain errors carry stable, unique codes that every surface (and a remote client) can rebuild."""

from __future__ import annotations

import pytest

from orderproc.engine import errors
from orderproc.engine.errors import ERRORS_BY_CODE, OrderprocError, error_for_code


def _all_error_classes() -> list[type[OrderprocError]]:
    """The engine's error classes: a surface's own (the Alpaca API's, in orderproc.server.alpaca)
    are answered by that surface and never reach a remote client, and exist only once imported."""
    found: list[type[OrderprocError]] = []
    pending: list[type[OrderprocError]] = [OrderprocError]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("orderproc.engine."):
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


ALL = _all_error_classes()
CLIENT_MISTAKES = {
    "validation_error": 422,
    "invalid_amount": 422,
    "auth_required": 401,
    "invalid_credentials": 401,
    "forbidden": 403,
    "not_found": 404,
    "unknown_asset": 404,
    "conflict": 409,
    "username_taken": 409,
    "insufficient_funds": 422,
    "price_moved": 409,
    "rate_limited": 429,
}


def test_every_error_class_has_its_own_code() -> None:
    codes = [cls.code for cls in ALL]
    assert len(codes) == len(set(codes)), sorted(codes)


def test_the_codes_the_specification_names_all_exist() -> None:
    assert set(CLIENT_MISTAKES) <= set(ERRORS_BY_CODE)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.code)
def test_error_for_code_rebuilds_exactly_the_class_with_its_message_and_details(cls: type[OrderprocError]) -> None:
    rebuilt = error_for_code(cls.code, "something went wrong", {"field": "amount"})
    assert type(rebuilt) is cls
    assert rebuilt.message == str(rebuilt) == "something went wrong"
    assert rebuilt.details == {"field": "amount"}
    assert rebuilt.to_dict() == {"code": cls.code, "message": "something went wrong", "details": {"field": "amount"}}


def test_an_unknown_code_from_a_newer_server_still_becomes_a_domain_error() -> None:
    rebuilt = error_for_code("brand_new_code", "a newer server said no")
    assert type(rebuilt) is OrderprocError
    assert rebuilt.message == "a newer server said no"
    assert rebuilt.details == {}


@pytest.mark.parametrize(("code", "status"), sorted(CLIENT_MISTAKES.items()))
def test_a_clients_mistake_maps_to_the_fitting_4xx_status(code: str, status: int) -> None:
    assert ERRORS_BY_CODE[code].status == status


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.code)
def test_every_status_is_an_http_error_status(cls: type[OrderprocError]) -> None:
    assert 400 <= cls.status <= 599


def test_conditions_on_the_server_side_map_to_5xx_and_busy_ones_to_503() -> None:
    assert errors.SchemaMismatch.status >= 500
    assert errors.LedgerBusy.status == errors.EngineUnavailable.status == 503


def test_specific_errors_can_be_caught_as_their_general_kind() -> None:
    assert issubclass(errors.InvalidAmount, errors.ValidationError)
    assert issubclass(errors.UnknownAsset, errors.NotFound)
    assert issubclass(errors.UsernameTaken, errors.Conflict)
    assert all(issubclass(cls, Exception) for cls in ALL)


def test_an_error_without_details_reports_an_empty_dict() -> None:
    assert errors.Forbidden("no").to_dict() == {"code": "forbidden", "message": "no", "details": {}}
