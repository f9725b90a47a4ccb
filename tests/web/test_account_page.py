"""The account page: a user changes their own password in the browser (it ended every other token)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from tests.web.web_support import PASSWORD, Site
from truthline.errors import Unauthorized
from truthline.services import users as user_service

Login = Callable[[str], httpx.Client]


def _csrf(client: httpx.Client) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', client.get("/account").text)
    assert match
    return match.group(1)


def test_a_user_changes_their_password_and_other_sessions_end(login: Login, site: Site,
                                                              browser_client: Callable[[], httpx.Client]) -> None:
    client, other = login("ann"), login("ann")
    token = user_service.create_token(site.engine, site.annotator)
    page = client.get("/account")
    assert page.status_code == 200 and "Change your password" in page.text and 'href="/account"' in page.text
    r = client.post("/account/password", data={"csrf": _csrf(client), "current_password": PASSWORD,
                                               "new_password": "a-new-password"})
    assert r.status_code == 303 and r.headers["location"] == "/account?done=password"
    assert "Password changed" in client.get(r.headers["location"]).text  # this browser stays logged in
    assert other.get("/").status_code == 303  # the other session ended: back to the login page
    with pytest.raises(Unauthorized):  # and so did the API token
        user_service.user_for_token(site.engine, token)
    assert browser_client().post("/login", data={"username": "ann", "password": "a-new-password"}).status_code == 303


def test_a_wrong_current_password_or_a_short_new_one_is_named(login: Login, site: Site) -> None:
    client = login("ann")
    wrong = client.post("/account/password", data={"csrf": _csrf(client), "current_password": "not-it",
                                                   "new_password": "a-new-password"})
    assert wrong.status_code == 403 and 'id="current_password-error"' in wrong.text
    short = client.post("/account/password", data={"csrf": _csrf(client), "current_password": PASSWORD,
                                                   "new_password": "short"})
    assert short.status_code == 422 and 'id="new_password-error"' in short.text
    assert client.get("/account").status_code == 200  # nothing changed: still logged in with the old password


def test_the_password_form_refuses_a_missing_csrf_and_anonymous_users(login: Login, site: Site,
                                                                      browser_client: Callable[[], httpx.Client]) -> None:
    client = login("ann")
    r = client.post("/account/password", data={"csrf": "forged", "current_password": PASSWORD,
                                               "new_password": "a-new-password"})
    assert r.status_code == 403
    anon = browser_client()
    assert anon.get("/account").status_code == 303
    assert anon.post("/account/password", data={"csrf": "x", "current_password": PASSWORD,
                                                "new_password": "a-new-password"}).headers["location"].startswith("/login")
    assert browser_client().post("/login", data={"username": "ann", "password": PASSWORD}).status_code == 303
