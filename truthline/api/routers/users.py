"""Who am I, users (admins create, list, deactivate and reset them), API tokens, password changes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from truthline.services import users as service

from ..deps import SESSION_COOKIE, current_user, get_engine
from ..schemas import (PasswordChangeIn, RevokedOut, TokenIn, TokenOut, UserChangedOut, UserIn, UserOut,
                       UserPatchIn)

router = APIRouter(tags=["users"])


@router.get("/me", response_model=UserOut, summary="The authenticated user")
def me(user: Any = Depends(current_user)) -> Any:
    return user


@router.post("/me/password", response_model=RevokedOut,
             summary="Change your password; every other session and API token of yours ends")
async def change_password(body: PasswordChangeIn, request: Request, user: Any = Depends(current_user),
                          engine: Any = Depends(get_engine)) -> RevokedOut:
    auth = request.headers.get("authorization", "")
    used = auth[7:].strip() if auth[:7].lower() == "bearer " else request.cookies.get(SESSION_COOKIE)
    async with request.app.state.login_gate:  # a password check, like a login: it waits outside the threads
        revoked = await run_in_threadpool(service.change_password, engine, user, body.current_password,
                                          body.new_password, used)
    return RevokedOut(tokens_revoked=revoked)


@router.get("/users", response_model=list[UserOut], summary="Every user (admins only)")
def list_users(user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> Any:
    return service.list_users(engine, user)


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a user (admins only)")
def create_user(body: UserIn, user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> Any:
    return service.create_user(engine, user, body.username, body.password, role=body.role)


@router.patch("/users/{username}", response_model=UserChangedOut,
              summary="Deactivate or reactivate a user, change their role or set a new password (admins only)")
def update_user(username: str, body: UserPatchIn, user: Any = Depends(current_user),
                engine: Any = Depends(get_engine)) -> UserChangedOut:
    updated, revoked = service.update_user(engine, user, username, active=body.active, role=body.role,
                                           password=body.password)
    return UserChangedOut(**updated.as_dict(), tokens_revoked=revoked)


@router.delete("/users/{username}/tokens", response_model=RevokedOut,
               summary="End every session and API token of a user (admins; anyone for themselves)")
def revoke_tokens(username: str, user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> RevokedOut:
    return RevokedOut(tokens_revoked=service.revoke_tokens(engine, user, username))


@router.post("/tokens", response_model=TokenOut, status_code=201, summary="Create another API token for yourself")
def create_token(body: TokenIn | None = None, user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> TokenOut:
    return TokenOut(token=service.create_token(engine, user, name=body.name if body else "api", kind="api"))
