"""Registration, sessions and the caller's own profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from orderproc.engine.catalog import PASSWORD_MAX, PASSWORD_MIN
from orderproc.engine.schemas import ProfileUpdate, Session, User
from orderproc.server.deps import Client, EngineDep, LoginLimitsDep, Token
from orderproc.server.openapi import answers

router = APIRouter(prefix="/v1", tags=["auth"])


NewPassword = Annotated[str, Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX,
                                    description=f"{PASSWORD_MIN}-{PASSWORD_MAX} characters")]


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=r"^[A-Za-z0-9_.\-]{3,32}$", description="3-32 letters, digits, '_', '.' or '-'",
                          examples=["alice"])
    password: NewPassword


class Credentials(BaseModel):
    """What `register` was given (anything else is just wrong: 401)."""

    model_config = ConfigDict(extra="forbid")
    username: str
    password: str


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old_password: str
    new_password: NewPassword


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, responses=answers(409))
async def register(body: Registration, engine: EngineDep, client: Client, limits: LoginLimitsDep) -> User:
    await limits.check(client, None)
    return await engine.register(body.username, body.password, source=client)


@router.post("/auth/login", responses=answers(401, 403))
async def login(body: Credentials, engine: EngineDep, client: Client, limits: LoginLimitsDep) -> Session:
    await limits.check(client, body.username)
    return await engine.login(body.username, body.password, source=client)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(engine: EngineDep, token: Token) -> Response:
    await engine.logout(token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me")
async def whoami(engine: EngineDep, token: Token) -> User:
    return await engine.whoami(token)


@router.patch("/me")
async def update_profile(body: ProfileUpdate, engine: EngineDep, token: Token) -> User:
    return await engine.update_profile(token, body)


@router.post("/me/password")
async def change_password(body: PasswordChange, engine: EngineDep, token: Token, client: Client,
                          limits: LoginLimitsDep) -> Session:
    await limits.check(client, None)
    return await engine.change_password(token, body.old_password, body.new_password)
