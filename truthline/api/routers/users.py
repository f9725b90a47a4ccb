"""Who am I, create users (admins), create more API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from truthline.services import users as service

from ..deps import current_user, get_engine
from ..schemas import TokenIn, TokenOut, UserIn, UserOut

router = APIRouter(tags=["users"])


@router.get("/me", response_model=UserOut, summary="The authenticated user")
def me(user: Any = Depends(current_user)) -> Any:
    return user


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a user (admins only)")
def create_user(body: UserIn, user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> Any:
    return service.create_user(engine, user, body.username, body.password, role=body.role)


@router.post("/tokens", response_model=TokenOut, status_code=201, summary="Create another API token for yourself")
def create_token(body: TokenIn | None = None, user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> TokenOut:
    return TokenOut(token=service.create_token(engine, user, name=body.name if body else "api", kind="api"))
