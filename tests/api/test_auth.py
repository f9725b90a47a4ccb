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


def _login(client: Any, username: str, password: str) -> Any:
    return client.post("/auth/login", json={"username": username, "password": password})


def test_an_admin_can_contain_a_stolen_account(root: Any, ann: Any, anon: Any, make_client: Any, world: Any,
                                              assert_error: Any) -> None:
    """Deactivate ends every token at once; a new password ends them too; reactivating lets the user back."""
    stolen = _login(anon, "ann", "password123").json()["token"]
    assert make_client(stolen).get("/me").status_code == 200
    assert_error(ann.patch("/users/ann2", json={"active": False}), 403)  # admins only
    r = root.patch("/users/ann", json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["tokens_revoked"] == 2
    assert_error(make_client(stolen).get("/me"), 401)
    assert_error(ann.get("/me"), 401)
    assert_error(_login(anon, "ann", "password123"), 401)
    assert {u["username"]: u["active"] for u in root.get("/users").json()}["ann"] is False
    assert root.patch("/users/ann", json={"active": True, "password": "new-password-1"}).json()["active"] is True
    assert_error(_login(anon, "ann", "password123"), 401)
    fresh = _login(anon, "ann", "new-password-1").json()["token"]
    r = root.patch("/users/ann", json={"password": "newer-password-2"})
    assert r.json()["tokens_revoked"] == 1
    assert_error(make_client(fresh).get("/me"), 401)
    assert_error(root.patch("/users/ann", json={"password": "short"}), 422, field="password")
    assert_error(root.patch("/users/nobody", json={"active": False}), 404, field="username")
    assert_error(make_client(world.ann2_token).get("/users"), 403)


def test_the_last_admin_cannot_be_locked_out(root: Any, assert_error: Any) -> None:
    assert_error(root.patch("/users/admin", json={"active": False}), 409, field="username")
    assert_error(root.patch("/users/admin", json={"role": "member"}), 409, field="username")
    assert root.post("/users", json={"username": "admin2", "password": "password123", "role": "admin"}).status_code == 201
    r = root.patch("/users/admin", json={"role": "member"})
    assert r.status_code == 200 and r.json()["role"] == "member" and r.json()["tokens_revoked"] >= 1


def test_revoking_every_token_of_a_user(root: Any, ann: Any, anon: Any, make_client: Any, assert_error: Any) -> None:
    laptop = ann.post("/tokens", json={"name": "laptop"}).json()["token"]
    assert_error(ann.delete("/users/ann2/tokens"), 404, field="username")  # not another's
    assert ann.delete("/users/ann/tokens").json() == {"tokens_revoked": 2}
    assert_error(make_client(laptop).get("/me"), 401)
    phone = _login(anon, "ann", "password123").json()["token"]
    assert root.delete("/users/ann/tokens").json() == {"tokens_revoked": 1}
    assert_error(make_client(phone).get("/me"), 401)


def test_changing_your_password_ends_your_other_tokens(ann: Any, anon: Any, make_client: Any,
                                                      assert_error: Any) -> None:
    other = _login(anon, "ann", "password123").json()["token"]
    assert_error(ann.post("/me/password", json={"current_password": "wrong-one", "new_password": "password456"}),
                 403, field="current_password")
    r = ann.post("/me/password", json={"current_password": "password123", "new_password": "password456"})
    assert r.status_code == 200 and r.json() == {"tokens_revoked": 1}
    assert ann.get("/me").status_code == 200  # the token the change came with stays
    assert_error(make_client(other).get("/me"), 401)
    assert _login(anon, "ann", "password456").status_code == 200


def test_logins_are_limited_and_say_when_to_retry(anon: Any, world: Any, assert_error: Any, engine: Any) -> None:
    for _ in range(10):
        assert_error(_login(anon, "ann", "wrong-guess"), 401)
    r = _login(anon, "ann", "password123")
    assert_error(r, 429)
    assert 1 <= int(r.headers["retry-after"]) <= 900 and "try again in" in r.json()["error"]["message"]
    with engine.connect() as conn:  # tokens from a login expire; the limit did not stop other users
        token = _login(anon, "ann2", "password123").json()["token"]
        row = conn.exec_driver_sql("SELECT created_at, expires_at FROM tokens WHERE token_hash = '%s'"
                                   % user_service.hash_token(token)).one()
    assert row[1] - row[0] == user_service.LOGIN_TOKEN_SECONDS


def test_servers_on_one_database_share_the_login_limits(anon: Any, world: Any, db_url: str, api_settings: Any,
                                                        portal: Any, assert_error: Any) -> None:
    """A second app with its own engine stands for another `serve` process (or machine) on the database."""
    import httpx

    from tests.asgi import PortalTransport
    from truthline.api.app import create_app
    from truthline.store.db import make_engine

    engine = make_engine(db_url)
    with httpx.Client(transport=PortalTransport(create_app(api_settings, engine=engine), portal),
                      base_url="http://testserver/api/v1") as other:
        for client in (anon, other) * 5:
            assert_error(_login(client, "ann", "wrong-guess"), 401)
        for client in (anon, other):
            r = _login(client, "ann", "password123")
            assert_error(r, 429)
            assert 890 <= int(r.headers["retry-after"]) <= 900
    engine.dispose()


def test_a_flood_of_logins_holds_at_most_the_gate_in_threads(anon: Any, make_client: Any, world: Any,
                                                            monkeypatch: Any) -> None:
    """60 logins at once held every worker thread behind the password checks: an authenticated request
    waited 1.7 s (11 s before the checks were limited). Logins past the gate now wait in the event loop."""
    import threading
    import time

    from truthline.api.app import LOGIN_GATE

    running, peak, lock = 0, 0, threading.Lock()
    real = user_service.authenticate

    def slow(*args: Any) -> Any:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        try:
            return real(*args)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(user_service, "authenticate", slow)
    threads = [threading.Thread(target=lambda n=n: _login(make_client(), f"nobody{n}", "guess-guess"))
               for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert peak == LOGIN_GATE
