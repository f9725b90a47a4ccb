"""Log in with a username and password to get an API token; log out to revoke it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from truthline.services import users as service

from ..deps import bearer_token, current_user, get_engine
from ..schemas import LoginIn, TokenOut

router = APIRouter(tags=["auth"])


@router.post("/auth/login", response_model=TokenOut,
             summary="Exchange username and password for a new API token (valid for 30 days)")
async def login(body: LoginIn, request: Request, engine: Any = Depends(get_engine)) -> TokenOut:
    client = request.client and request.client.host
    async with request.app.state.login_gate:  # a flood of logins waits here, not in the threads other requests need
        user = await run_in_threadpool(service.authenticate, engine, body.username, body.password, client)
    token = await run_in_threadpool(service.create_token, engine, user, "login", "api", service.LOGIN_TOKEN_SECONDS)
    return TokenOut(token=token)


@router.post("/auth/logout", status_code=204, summary="Revoke the API token this request was sent with")
def logout(token: str = Depends(bearer_token), user: Any = Depends(current_user), engine: Any = Depends(get_engine)) -> Response:
    service.revoke_token(engine, token, actor=user)
    return Response(status_code=204)
