"""The per-process token cache (services.users.TOKEN_CACHE_SECONDS) that lets auth skip a query and a thread hop:
revocation through the app is immediate; a revocation made elsewhere (another process, straight in the
database) or a session's expiry is honoured within the cache lifetime, never later."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa

from truthline.errors import Unauthorized
from truthline.services import users as user_service
from truthline.store import tables


def test_logout_is_immediate(ann: Any, assert_error: Any) -> None:
    assert ann.get("/me").status_code == 200  # now cached
    assert ann.post("/auth/logout").status_code == 204
    assert_error(ann.get("/me"), 401)


def test_revocation_elsewhere_within_cache_lifetime(
    ann: Any, engine: Any, monkeypatch: pytest.MonkeyPatch, assert_error: Any
) -> None:
    monkeypatch.setattr(user_service, "TOKEN_CACHE_SECONDS", 0.3)
    assert ann.get("/me").status_code == 200
    with engine.begin() as conn:  # what another process's `revoke_token` does
        conn.execute(sa.delete(tables.tokens))
    time.sleep(0.4)
    assert_error(ann.get("/me"), 401)


def test_cache_never_outlives_a_session(engine: Any, make_client: Any, world: Any, assert_error: Any) -> None:
    user = user_service.user_for_token(engine, world.ann_token)
    session = user_service.create_token(engine, user, kind="session", ttl_seconds=0.3)
    assert user_service.user_for_token(engine, session, kind="session") == user  # cached, expiring in 0.3 s
    assert user_service.cached_user_for_token(engine, session, "session") == user
    time.sleep(0.4)
    assert user_service.cached_user_for_token(engine, session, "session") is None
    with pytest.raises(Unauthorized, match="invalid or expired"):
        user_service.user_for_token(engine, session, kind="session")


def test_failed_lookups_are_not_cached(engine: Any, world: Any) -> None:
    assert user_service.cached_user_for_token(engine, "nope", "api") is None
    with pytest.raises(Unauthorized):
        user_service.user_for_token(engine, "nope")
    assert user_service.cached_user_for_token(engine, "nope", "api") is None
