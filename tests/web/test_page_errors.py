"""Where a page refuses a form from another site, and what a crash on a page looks like."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal

from tests.web.web_support import PASSWORD, Site
from truthline.web import dashboard


@pytest.mark.parametrize(("origin", "status"), [
    ("http://testserver", 303),
    ("https://testserver", 303),  # behind a TLS-terminating proxy we see http; the browser says https
    ("http://testserver:8001", 403),  # another port of the host: another site's page (login CSRF)
    ("http://testserver:99999", 403),  # not a port: not our origin, and not a 500
    ("http://evil.example", 403),
])
def test_login_form_posts_must_come_from_our_origin(browser_client: Callable[[], httpx.Client], site: Site,
                                                    origin: str, status: int) -> None:
    r = browser_client().post("/login", data={"username": "ann", "password": PASSWORD}, headers={"Origin": origin})
    assert r.status_code == status
    assert ("set-cookie" in r.headers) == (status == 303)


def test_a_crash_on_a_page_is_an_html_page(web_app: Any, portal: BlockingPortal, site: Site,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(dashboard, "build", broken)

    async def visit() -> httpx.Response:  # raise_app_exceptions=False: see the response a browser gets
        transport = httpx.ASGITransport(app=web_app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            r = await client.post("/login", data={"username": "manager", "password": PASSWORD})
            assert r.status_code == 303
            return await client.get(f"/projects/{site.project_id}/manage")

    r = portal.call(visit)
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "internal server error" in r.text and "a bug" not in r.text


def test_the_login_form_stops_a_password_guesser(browser_client: Callable[[], httpx.Client], site: Site) -> None:
    client = browser_client()
    for _ in range(10):
        assert client.post("/login", data={"username": "ann", "password": "guess-guess"}).status_code == 401
    r = client.post("/login", data={"username": "ann", "password": PASSWORD})
    assert r.status_code == 429 and "set-cookie" not in r.headers
    assert "Too many failed logins; try again in" in r.text and int(r.headers["retry-after"]) > 0
    other = browser_client().post("/login", data={"username": "manager", "password": PASSWORD})
    assert other.status_code == 303  # another user from the same address is not locked out
