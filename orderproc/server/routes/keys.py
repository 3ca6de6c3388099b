"""API keys for programs: make one (its secret answered once), list them, revoke one.

Managed with a session's token only: a key sent here is refused (`session_required`, 403).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, WithJsonSchema

from orderproc.engine.apikeys import ApiKey, NewApiKey
from orderproc.server.deps import EngineDep, Token
from orderproc.server.openapi import answers

router = APIRouter(prefix="/v1", tags=["keys"])


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # `format: printable`: what Python's str.isprintable() takes, as for a display name (schemas.py)
    name: Annotated[str, WithJsonSchema({"type": "string", "maxLength": 64, "format": "printable",
                                         "description": "For you: what the key is for (at most 64 printable "
                                                        "characters)", "examples": ["rebalancer"]})] = ""
    read_only: StrictBool = Field(False, description="Reads only (balance, portfolio, orders, quotes): no cash, "
                                                     "no orders")


# any string: an id that is no key of yours is `not_found`, as the engine says it
KeyId = Annotated[str, Path(description="The key's public id (`PK` and 18 letters and digits)",
                            examples=["PK4J7Q2M9XW3B8N1C5ZT"])]


@router.post("/keys", status_code=status.HTTP_201_CREATED, responses=answers(409))
async def create_key(body: KeyRequest, engine: EngineDep, token: Token) -> NewApiKey:
    """A key for this session's account. Its `secret` is in this answer only (the ledger keeps a
    hash): send `token` (`<key_id>.<secret>`) as `Authorization: Bearer <token>`."""
    return await engine.create_api_key(token, name=body.name, read_only=body.read_only)


@router.get("/keys")
async def list_keys(engine: EngineDep, token: Token) -> list[ApiKey]:
    """Your keys, oldest first, revoked ones too (never a secret)."""
    return await engine.api_keys(token)


@router.delete("/keys/{key_id}", responses=answers(404))
async def revoke_key(key_id: KeyId, engine: EngineDep, token: Token) -> ApiKey:
    """Revoke one of your keys: no request with it is taken once this answers (again: no change)."""
    return await engine.revoke_api_key(token, key_id)
