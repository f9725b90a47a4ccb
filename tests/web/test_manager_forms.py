"""The requester's forms through the in-process client: new project (home), import items and members (manage).

Each form: success is a 303 to a page (post-redirect-get); refusals for annotators (403), outsiders (404), a
missing or wrong CSRF value or another site's Origin (403); bad input re-renders the form naming the field with
the input kept and nothing written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.asgi import PortalTransport
from tests.web.web_support import PASSWORD, Site, csrf_of
from truthline.api.app import create_app
from truthline.services import projects
from truthline.settings import Settings, get_settings
from truthline.store import tables

Login = Callable[[str], httpx.Client]


def _csrf(client: httpx.Client, path: str = "/") -> str:
    return csrf_of(client.get(path).text)


def _count(engine: Any, table: sa.Table, **where: Any) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for key, value in where.items():
        query = query.where(table.c[key] == value)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _project_named(engine: Any, name: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(tables.projects.c.id).where(tables.projects.c.name == name)).scalar_one())


def _jsonl(*records: dict[str, Any]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


NEW = {"name": "Birds", "task_type": "classification", "labels": "crow\n\n  finch \nwren\n", "overlap": "3",
       "guidelines": "# Birds\nPick the bird."}


# -- new project ---------------------------------------------------------------------------------
def test_home_shows_the_new_project_form_with_the_task_types(login: Login, site: Site) -> None:
    html = login("outsider").get("/").text  # creators default to everyone
    assert '<form class="stacked" method="post" action="/projects"' in html
    assert '<option value="classification" selected>' in html and '<option value="multilabel">' in html
    assert f'name="csrf" value="{csrf_of(html)}"' in html
    assert "<details class=\"card new-project\" open>" in html  # no projects yet: the form is open


def test_creating_a_project_redirects_to_its_manage_page(login: Login, site: Site) -> None:
    client = login("outsider")
    r = client.post("/projects", data={**NEW, "csrf": _csrf(client)})
    assert r.status_code == 303, r.text
    pid = _project_named(site.engine, "Birds")
    assert r.headers["location"] == f"/projects/{pid}/manage?done=project-created"
    project = projects.get_project(site.engine, site.admin, pid)
    assert (project.labels, project.overlap, project.guidelines) == (["crow", "finch", "wren"], 3, "# Birds\nPick the bird.")
    assert projects.project_role(site.engine, projects_user(site, "outsider"), pid) == "manager"
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and "Project created." in page.text
    assert f"/projects/{pid}/manage" in client.get("/").text


def projects_user(site: Site, name: str) -> Any:
    from truthline.services import users

    return users.authenticate(site.engine, name, PASSWORD)


@pytest.mark.parametrize(("change", "field", "status", "says"), [
    ({"name": "  "}, "name", 422, "name is required"),
    ({"labels": "only-one"}, "labels", 422, "needs between"),
    ({"labels": "a\nb\na"}, "labels", 422, "repeated: a"),
    ({"overlap": "two"}, "overlap", 422, "whole number"),
    ({"overlap": "0"}, "overlap", 422, "from 1 to 1000"),
    ({"task_type": "poem"}, "task_type", 422, "unknown task type"),
    ({"name": "Animals"}, "name", 409, "already named"),  # the manager's other project
])
def test_bad_project_input_reshows_the_form_naming_the_field(login: Login, site: Site, change: dict[str, str],
                                                              field: str, status: int, says: str) -> None:
    client = login("manager")
    before = _count(site.engine, tables.projects)
    r = client.post("/projects", data={**NEW, **change, "csrf": _csrf(client)})
    assert r.status_code == status, r.text
    assert "text/html" in r.headers["content-type"]
    error = r.text.split(f'id="{field}-error">')[1].split("</p>")[0]
    assert says in error, error
    assert f'id="{field}" ' in r.text and 'aria-invalid="true"' in r.text
    kept = {**NEW, **change}
    if field != "name":
        assert f'value="{kept["name"]}"' in r.text  # the input is kept
    assert "<details class=\"card new-project\" open>" in r.text
    assert _count(site.engine, tables.projects) == before


def test_project_form_escapes_what_the_user_typed(login: Login, site: Site) -> None:
    client = login("manager")
    evil = '"><script>alert(1)</script>'
    r = client.post("/projects", data={**NEW, "name": evil, "labels": "x", "guidelines": "</textarea><b>hi</b>",
                                       "csrf": _csrf(client)})
    assert r.status_code == 422
    assert "<script>alert(1)" not in r.text and "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert "</textarea><b>hi" not in r.text and "&lt;/textarea&gt;&lt;b&gt;hi" in r.text
    r = client.post("/projects", data={**NEW, "name": evil, "labels": "<i>a</i>\nb", "csrf": _csrf(client)})
    assert r.status_code == 303
    home = client.get("/").text
    assert "<script>alert(1)" not in home and "&lt;script&gt;alert(1)&lt;/script&gt;" in home
    manage = client.get(r.headers["location"]).text
    assert "<i>a</i>" not in manage and "&lt;i&gt;a&lt;/i&gt;" in manage


def test_project_form_refuses_other_sites_and_missing_csrf(login: Login, site: Site) -> None:
    client = login("manager")
    csrf = _csrf(client)
    before = _count(site.engine, tables.projects)
    for data, headers in (({**NEW}, {}), ({**NEW, "csrf": "0" * 64}, {}), ({**NEW, "csrf": "é"}, {}),
                          ({**NEW, "csrf": csrf}, {"Origin": "https://evil.example"})):
        r = client.post("/projects", data=data, headers=headers)
        assert r.status_code == 403, (data.get("csrf"), headers)
        assert "text/html" in r.headers["content-type"] and "CSRF" in r.text
    assert _count(site.engine, tables.projects) == before
    assert client.post("/projects", data={**NEW, "csrf": csrf}, headers={"Origin": "http://testserver"}).status_code == 303


def test_project_form_without_a_session_goes_to_login(browser_client: Callable[[], httpx.Client], site: Site) -> None:
    r = browser_client().post("/projects", data={**NEW, "csrf": "x"})
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F"


def test_only_admins_create_projects_when_so_configured(engine: Any, site: Site, portal: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUTHLINE_PROJECT_CREATORS", "admins")  # what the service reads
    get_settings.cache_clear()
    app = create_app(Settings(project_creators="admins"), engine=engine)  # what the page reads
    try:
        for who, allowed in (("manager", False), ("admin", True)):
            with httpx.Client(transport=PortalTransport(app, portal), base_url="http://testserver") as client:
                client.post("/login", data={"username": who, "password": PASSWORD})
                home = client.get("/").text
                assert ('action="/projects"' in home) is allowed
                r = client.post("/projects", data={**NEW, "name": f"By {who}", "csrf": csrf_of(home)})
                assert r.status_code == (303 if allowed else 403), r.text
                if not allowed:
                    assert "only admins create projects" in r.text
                    assert _count(engine, tables.projects, name="By manager") == 0
    finally:
        monkeypatch.delenv("TRUTHLINE_PROJECT_CREATORS")
        get_settings.cache_clear()


# -- import items --------------------------------------------------------------------------------
def _import(client: httpx.Client, pid: int, name: str, body: bytes, csrf: str | None = "page") -> httpx.Response:
    data = {} if csrf is None else {"csrf": _csrf(client, f"/projects/{pid}/manage") if csrf == "page" else csrf}
    return client.post(f"/projects/{pid}/items", data=data, files={"file": (name, body, "application/octet-stream")})


def test_importing_a_file_reports_created_updated_unchanged(login: Login, site: Site) -> None:
    client = login("manager")
    pid = site.project_id
    body = _jsonl({"external_id": "a0", "data": {"text": "animal text 0"}},  # as seeded: unchanged
                  {"external_id": "a1", "data": {"text": "changed"}},
                  {"external_id": "n1", "data": {"text": "new one"}}, {"external_id": "n2", "data": {"text": "two"}})
    r = _import(client, pid, "more.jsonl", body)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/projects/{pid}/manage?created=2&updated=1&unchanged=1#import-h"
    assert "Imported: 2 created, 1 updated, 1 unchanged." in client.get(r.headers["location"]).text
    assert _count(site.engine, tables.items, project_id=pid) == 6
    csv_body = b"external_id,text\nc1,from csv\n"
    r = _import(client, pid, "rows.CSV", csv_body)  # the format comes from the file name
    assert r.status_code == 303 and "created=1" in r.headers["location"], r.text


def test_a_file_past_the_json_body_cap_imports(login: Login, site: Site) -> None:
    """Every body but an item import is capped at 2 MiB; the page's import form posts to the import path
    without the API's prefix, and was capped too (a 413 in JSON for a 3.7 MB file)."""
    client = login("manager")
    body = _jsonl(*({"external_id": f"big{i}", "data": {"text": "x" * 300}} for i in range(10_000)))
    assert len(body) > 3 * 2**20
    r = _import(client, site.project_id, "big.jsonl", body)
    assert r.status_code == 303 and "created=10000" in r.headers["location"], r.text[:300]


def test_bad_lines_are_listed_and_nothing_is_imported(login: Login, site: Site) -> None:
    client = login("manager")
    pid = site.project_id
    lines = [{"external_id": "ok1", "data": {"text": "fine"}}, {"external_id": "", "data": {"text": "x"}}]
    lines += [{"external_id": f"b{i}", "data": {}} for i in range(30)]
    body = _jsonl(*lines) + b"{not json\n"
    r = _import(client, pid, "bad.jsonl", body)
    assert r.status_code == 422
    error = r.text.split('id="import-error">')[1].split("</div>")[0]
    assert "32 bad record(s); nothing was imported" in error
    assert error.count("<li>") == 20 and "line 2, external_id: is required" in error and "line 3, data:" in error
    assert "… and 12 more." in error
    assert _count(site.engine, tables.items, project_id=pid) == 4 and _count(site.engine, tables.items, external_id="ok1") == 0


@pytest.mark.parametrize(("name", "body", "status", "says"), [
    ("items.txt", b'{"external_id": "x", "data": {"text": "x"}}\n', 422, "cannot tell the format"),
    ("empty.jsonl", b"", 422, "holds no item records"),
    ("", b"", 422, "choose a file"),
])
def test_file_problems_are_named_next_to_the_file_field(login: Login, site: Site, name: str, body: bytes,
                                                         status: int, says: str) -> None:
    r = _import(login("manager"), site.project_id, name, body)
    assert r.status_code == status, r.text
    assert says in r.text.split('id="file-error">')[1].split("</p>")[0]
    assert _count(site.engine, tables.items, project_id=site.project_id) == 4


def test_an_upload_over_max_upload_bytes_is_refused(engine: Any, site: Site, portal: Any) -> None:
    app = create_app(Settings(max_upload_bytes=2000), engine=engine)
    with httpx.Client(transport=PortalTransport(app, portal), base_url="http://testserver") as client:
        client.post("/login", data={"username": "manager", "password": PASSWORD})
        records = [{"external_id": f"big{i}", "data": {"text": "x" * 50}} for i in range(40)]  # ~3 KB
        r = _import(client, site.project_id, "big.jsonl", _jsonl(*records))
        assert r.status_code == 413, r.text
        assert "text/html" in r.headers["content-type"] and "max_upload_bytes" in r.text
        assert _count(engine, tables.items, project_id=site.project_id) == 4
        r = _import(client, site.project_id, "small.jsonl", _jsonl(*records[:3]))  # under the limit: fine
        assert r.status_code == 303 and "created=3" in r.headers["location"], r.text


def test_import_refuses_annotators_outsiders_and_missing_csrf(login: Login, site: Site) -> None:
    pid = site.project_id
    body = _jsonl({"external_id": "sneaky", "data": {"text": "x"}})
    ann = login("ann")
    r = _import(ann, pid, "x.jsonl", body, csrf=_csrf(ann))
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    assert _import(login("outsider"), pid, "x.jsonl", body, csrf=_csrf(login("outsider"))).status_code == 404
    manager = login("manager")
    assert _import(manager, pid, "x.jsonl", body, csrf=None).status_code == 403
    assert _import(manager, pid, "x.jsonl", body, csrf="f" * 64).status_code == 403
    r = manager.post(f"/projects/{pid}/items", data={"csrf": _csrf(manager)}, headers={"Origin": "http://evil.example"},
                     files={"file": ("x.jsonl", body)})
    assert r.status_code == 403
    assert _count(site.engine, tables.items, external_id="sneaky") == 0


# -- members -------------------------------------------------------------------------------------
def _members(client: httpx.Client, pid: int) -> list[tuple[str, str]]:
    import re

    table = client.get(f"/projects/{pid}/manage").text.split('id="members"')[1].split("</table>")[0]
    return sorted(re.findall(r'<td class="member-name">([^<]*)</td>\s*<td>([^<]*)</td>', table))


def test_managers_add_change_and_remove_members(login: Login, site: Site) -> None:
    client = login("manager")
    pid = site.project_id
    assert _members(client, pid) == [("ann", "annotator"), ("manager", "manager")]
    csrf = _csrf(client, f"/projects/{pid}/manage")
    r = client.post(f"/projects/{pid}/members", data={"csrf": csrf, "username": " outsider ", "role": "annotator"})
    assert r.status_code == 303 and r.headers["location"] == f"/projects/{pid}/manage?done=member-saved#members-h"
    assert "Member saved." in client.get(r.headers["location"]).text
    assert ("outsider", "annotator") in _members(client, pid)
    assert "Animals" in login("outsider").get("/").text  # the new member sees the project
    r = client.post(f"/projects/{pid}/members", data={"csrf": csrf, "username": "outsider", "role": "manager"})
    assert r.status_code == 303 and ("outsider", "manager") in _members(client, pid)
    r = client.post(f"/projects/{pid}/members/remove", data={"csrf": csrf, "username": "outsider"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=member-removed#members-h")
    assert "outsider" not in dict(_members(client, pid))
    assert login("outsider").get(f"/projects/{pid}/annotate").status_code == 404


def test_a_manager_who_removes_themselves_goes_home(login: Login, site: Site) -> None:
    client = login("manager")
    pid = site.project_id
    alone = client.post(f"/projects/{pid}/members/remove", data={"csrf": _csrf(client), "username": "manager"})
    assert alone.status_code == 409 and "only manager; make someone else manager first" in alone.text  # kept
    demoted = client.post(f"/projects/{pid}/members",
                          data={"csrf": _csrf(client), "username": "manager", "role": "annotator"})
    assert demoted.status_code == 409
    promoted = client.post(f"/projects/{pid}/members", data={"csrf": _csrf(client), "username": "ann", "role": "manager"})
    assert promoted.status_code == 303
    r = client.post(f"/projects/{pid}/members/remove", data={"csrf": _csrf(client), "username": "manager"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert client.get(f"/projects/{pid}/manage").status_code == 404


@pytest.mark.parametrize(("data", "field", "status", "says"), [
    ({"username": "nobody", "role": "annotator"}, "username", 404, "not found"),
    ({"username": "ann", "role": "owner"}, "role", 422, "role must be one of"),
])
def test_bad_member_input_reshows_the_form_naming_the_field(login: Login, site: Site, data: dict[str, str],
                                                             field: str, status: int, says: str) -> None:
    client = login("manager")
    pid = site.project_id
    r = client.post(f"/projects/{pid}/members", data={**data, "csrf": _csrf(client)})
    assert r.status_code == status, r.text
    assert says in r.text.split(f'id="{field}-error">')[1].split("</p>")[0]
    assert f'value="{data["username"]}"' in r.text
    assert _members(client, pid) == [("ann", "annotator"), ("manager", "manager")]


def test_removing_someone_who_is_not_a_member_says_so(login: Login, site: Site) -> None:
    client = login("manager")
    r = client.post(f"/projects/{site.project_id}/members/remove",
                    data={"csrf": _csrf(client), "username": "<b>outsider</b>"})
    assert r.status_code == 404
    error = r.text.split('id="member-error">')[1].split("</div>")[0]
    assert "is not a member" in error and "<b>outsider" not in error and "&lt;b&gt;outsider" in error


def test_member_forms_refuse_annotators_outsiders_and_missing_csrf(login: Login, site: Site) -> None:
    pid = site.project_id
    before = _count(site.engine, tables.project_members, project_id=pid)
    for path, data in ((f"/projects/{pid}/members", {"username": "outsider", "role": "manager"}),
                       (f"/projects/{pid}/members/remove", {"username": "manager"})):
        ann = login("ann")
        assert ann.post(path, data={**data, "csrf": _csrf(ann)}).status_code == 403
        outsider = login("outsider")
        assert outsider.post(path, data={**data, "csrf": _csrf(outsider)}).status_code == 404
        manager = login("manager")
        assert manager.post(path, data=data).status_code == 403
        assert manager.post(path, data={**data, "csrf": "0" * 64}).status_code == 403
        r = manager.post(path, data={**data, "csrf": _csrf(manager)}, headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    assert _count(site.engine, tables.project_members, project_id=pid) == before
    assert _members(login("manager"), pid) == [("ann", "annotator"), ("manager", "manager")]


def test_members_and_import_forms_carry_the_pages_csrf(login: Login, site: Site) -> None:
    html = login("manager").get(f"/projects/{site.project_id}/manage").text
    csrf = csrf_of(html)
    assert html.count(f'name="csrf" value="{csrf}"') == 1 + 2 + 2 + 1  # settings, import, add member, 2 removes, log out
    assert 'enctype="multipart/form-data"' in html and 'accept=".jsonl,.ndjson,.json,.csv,.parquet"' in html
    assert "<script>" not in html.split("<main")[1] and " style=" not in html  # CSP: no inline code or styles


def test_a_rating_project_takes_its_scale_from_the_labels_box(login: Login, site: Site) -> None:
    client = login("outsider")
    r = client.post("/projects", data={**NEW, "name": "Stars", "task_type": "rating", "labels": "1\n2\n3\n4\n5",
                                       "csrf": _csrf(client)})
    assert r.status_code == 303, r.text
    project = projects.get_project(site.engine, site.admin, _project_named(site.engine, "Stars"))
    assert project.scale == {"min": 1, "max": 5, "step": 1} and project.labels == ["1", "2", "3", "4", "5"]
    home = client.get("/").text
    assert "rating · scale 1–5" in home
    manage = client.get(r.headers["location"]).text
    assert 'id="alpha-interval"' in manage and "on the 1–5 scale" in manage
    bad = client.post("/projects", data={**NEW, "name": "Odd", "task_type": "rating", "labels": "1\n2\n4",
                                         "csrf": _csrf(client)})
    assert bad.status_code == 422 and "rise in equal steps" in bad.text.split('id="labels-error">')[1]
