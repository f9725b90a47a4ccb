"""Login, tokens, /me, user creation, and the session-cookie + CSRF path the web pages use."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from truthline.api.deps import CSRF_HEADER, SESSION_COOKIE, csrf_token
from truthline.services import users as user_service


def test_login_returns_a_working_token(anon: Any, make_client: Any, world: Any) -> None:
    r = anon.post("/auth/login", json={"username": "ann", "password": "password123"})
    assert r.status_code == 200
    me = make_client(r.json()["token"]).get("/me")
    assert me.status_code == 200 and me.json()["username"] == "ann"
    assert "password" not in me.text


def test_wrong_password_and_bad_tokens_are_401(anon: Any, make_client: Any, world: Any, assert_error: Any) -> None:
    r = anon.post("/auth/login", json={"username": "ann", "password": "nope-nope"})
    assert_error(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    assert_error(anon.get("/me"), 401)
    assert_error(make_client("not-a-token").get("/me"), 401)
    assert_error(anon.get("/me", headers={"Authorization": "Basic YTpi"}), 401, field="Authorization")


def test_logout_revokes_the_token(make_client: Any, world: Any, assert_error: Any) -> None:
    token = make_client().post("/auth/login", json={"username": "ann", "password": "password123"}).json()["token"]
    client = make_client(token)
    assert client.post("/auth/logout").status_code == 204
    assert_error(client.get("/me"), 401)


def test_tokens_and_users(root: Any, ann: Any, make_client: Any, assert_error: Any) -> None:
    r = ann.post("/tokens", json={"name": "laptop"})
    assert r.status_code == 201
    assert make_client(r.json()["token"]).get("/me").json()["username"] == "ann"

    assert_error(ann.post("/users", json={"username": "eve", "password": "password123"}), 403)
    r = root.post("/users", json={"username": "eve", "password": "password123", "role": "member"})
    assert r.status_code == 201 and r.json()["username"] == "eve" and r.json()["role"] == "member"
    assert_error(root.post("/users", json={"username": "eve", "password": "password123"}), 409, field="username")
    assert_error(root.post("/users", json={"username": "x", "password": "short"}), 422, field="password")
    assert_error(root.post("/users", json={"username": "x", "password": "password123", "role": "god"}), 422, field="role")


def test_session_cookie_needs_csrf_header_for_writes(
    engine: Any, app: Any, make_client: Any, world: Any, assert_error: Any
) -> None:
    ann = user_service.get_user_by_name(engine, None, "ann")
    session = user_service.create_token(engine, ann, name="web", kind="session")
    browser = make_client()
    browser.cookies.set(SESSION_COOKIE, session)
    assert browser.get("/me").json()["username"] == "ann"  # reads need no header

    assert_error(browser.post(f"/projects/{world.project_id}/next"), 403, field=CSRF_HEADER)
    assert_error(browser.post(f"/projects/{world.project_id}/next", headers={CSRF_HEADER: "forged"}), 403)

    good = csrf_token(SimpleNamespace(app=app), session)  # type: ignore[arg-type]  # needs only request.app
    r = browser.post(f"/projects/{world.project_id}/next", headers={CSRF_HEADER: good})
    assert r.status_code == 204  # authorized; nothing imported yet

    # An API token in a cookie is not a session.
    other = make_client()
    other.cookies.set(SESSION_COOKIE, world.ann_token)
    assert_error(other.get("/me"), 401)
