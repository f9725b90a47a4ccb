"""The manager page's settings form (POST /projects/{id}/settings) through the in-process client.

It pre-fills the project's current values and sends all of its fields to update_project: overlap, guidelines,
status and pay for every project, a numeric project's range and tolerance, a pairwise project's ties. Success
is a 303 back to the manage page; a refused value re-renders the page with the message next to its field, the
typed values kept and nothing changed; annotators (403), outsiders (404) and a bad CSRF value (403) change
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.web.web_support import Site, csrf_of
from truthline.errors import Conflict
from truthline.services import importing, label_import, projects, tasks

Login = Callable[[str], httpx.Client]


def _manage(client: httpx.Client, pid: int) -> str:
    r = client.get(f"/projects/{pid}/manage")
    assert r.status_code == 200, r.text
    return r.text


def _form(html: str) -> dict[str, str]:
    """What the settings form would send as it stands (its pre-filled values)."""
    form = html.split('class="stacked settings-form"')[1].split("</form>")[0]
    values = dict(re.findall(r'<input (?:type="hidden" )?(?:id="\w+" )?name="(\w+)" value="([^"]*)"', form))
    status = re.search(r'<select id="status" name="status"[^>]*>(.*?)</select>', form, re.S)
    assert status is not None
    selected = re.findall(r'<option value="(\w+)" selected>', status.group(1))
    values["status"] = selected[0] if selected else ""  # a status not listed: none selected
    guidelines = re.search(r'<textarea id="guidelines" name="guidelines"[^>]*>\n(.*?)</textarea>', form, re.S)
    assert guidelines is not None
    values["guidelines"] = guidelines.group(1)
    for box, ticked in re.findall(r'<input type="checkbox" id="(\w+)" name="\w+" value="true"( checked)?', form):
        if ticked:  # a browser sends a ticked box only
            values[box] = "true"
    return values


def _error(html: str, field: str) -> str:
    return html.split(f'id="{field}-error">')[1].split("</p>")[0]


def _post(client: httpx.Client, pid: int, **change: str | None) -> httpx.Response:
    """Send the settings form as the page fills it, with `change` typed over it (None: a box left unticked)."""
    data = _form(_manage(client, pid))
    for key, value in change.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return client.post(f"/projects/{pid}/settings", data=data)


def _saved(client: httpx.Client, r: httpx.Response, pid: int) -> str:
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/projects/{pid}/manage?done=settings-saved#settings-h"
    html = client.get(r.headers["location"]).text
    assert "Settings saved." in html
    return html


def _state(site: Site, pid: int) -> tuple[Any, ...]:
    p = projects.get_project(site.engine, site.admin, pid)
    return p.overlap, p.guidelines, p.status, p.pay_cents, p.labels, p.config


# -- every project --------------------------------------------------------------------------------------------
def test_the_form_is_filled_with_the_current_settings(login: Login, site: Site) -> None:
    pid = site.project_id
    projects.update_project(site.engine, site.manager, pid, {"overlap": 2, "pay_cents": 7, "status": "paused"})
    html = _manage(login("manager"), pid)
    values = _form(html)
    assert values["csrf"] == csrf_of(html)
    assert (values["overlap"], values["pay_cents"], values["status"]) == ("2", "7", "paused")
    assert values["guidelines"] == (
        "# Animals\n\nPick the **animal** in the text.\n\n&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;")
    assert 'id="range_min"' not in html and 'id="ties"' not in html  # classification: neither
    assert "<details class=\"settings-edit\">" in html  # folded until it has something to say
    assert " style=" not in html and "<script>" not in html.split("<main")[1]


def test_a_manager_changes_overlap_guidelines_status_and_pay(login: Login, site: Site) -> None:
    client = login("manager")
    pid = site.project_id
    r = _post(client, pid, overlap="3", guidelines="# New\r\nLook closely.\r\n", status="paused", pay_cents="25")
    html = _saved(client, r, pid)
    project = projects.get_project(site.engine, site.admin, pid)
    assert (project.overlap, project.guidelines, project.status, project.pay_cents) == (
        3, "# New\nLook closely.\n", "paused", 25)
    assert project.labels == ["cat", "dog", "bird"] and project.name == "Animals"  # untouched
    assert "Overlap 3 · pay 0.25 per answer" in html and '<span class="badge">paused</span>' in html
    values = _form(html)
    assert (values["overlap"], values["status"], values["pay_cents"]) == ("3", "paused", "25")
    # the new overlap applies to the items too; an annotator now gets no task (paused)
    assert client.get(f"/api/v1/projects/{pid}").json()["overlap"] == 3
    with pytest.raises(Conflict, match="is paused"):
        tasks.next_task(site.engine, site.annotator, pid)
    # saving the form unchanged keeps everything, and archiving works the same way
    before = _state(site, pid)
    _saved(client, _post(client, pid), pid)
    assert _state(site, pid) == before
    _saved(client, _post(client, pid, status="archived"), pid)
    assert projects.get_project(site.engine, site.admin, pid).status == "archived"


def test_an_admin_who_is_not_a_member_may_change_settings(login: Login, site: Site) -> None:
    client = login("admin")
    _saved(client, _post(client, site.project_id, overlap="2"), site.project_id)
    assert projects.get_project(site.engine, site.admin, site.project_id).overlap == 2


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"overlap": "x"}, "overlap", "must be a whole number"),
    ({"overlap": "0"}, "overlap", "from 1 to 1000"),
    ({"overlap": ""}, "overlap", "must be a whole number"),
    ({"overlap": "1001"}, "overlap", "from 1 to 1000"),
    ({"pay_cents": "-1"}, "pay_cents", "must be a whole number"),
    ({"pay_cents": "1.5"}, "pay_cents", "must be a whole number"),
    ({"status": "deleted"}, "status", "status must be one of: active, paused, archived"),
    ({"guidelines": "bad \x00 text"}, "guidelines", "NUL"),
])
def test_a_bad_value_is_refused_by_its_field_and_changes_nothing(login: Login, site: Site, change: dict[str, str],
                                                                  field: str, says: str) -> None:
    client = login("manager")
    pid = site.project_id
    before = _state(site, pid)
    typed = {"pay_cents": "40", "guidelines": "Typed <b>guidelines</b>", **change}
    r = _post(client, pid, **typed)
    assert r.status_code == 422, r.text
    assert "text/html" in r.headers["content-type"]
    assert says in _error(r.text, field), _error(r.text, field)
    assert f'id="{field}" name="{field}"' in r.text and 'aria-invalid="true"' in r.text
    assert '<details class="settings-edit" open>' in r.text
    values = _form(r.text)  # what was typed is kept
    for key, value in typed.items():
        if key not in ("guidelines", "status") and "\x00" not in value:
            assert values[key] == value, key
    if "\x00" not in typed["guidelines"]:
        assert values["guidelines"] == "Typed &lt;b&gt;guidelines&lt;/b&gt;"
    assert _state(site, pid) == before


def test_annotators_outsiders_and_bad_csrf_change_nothing(login: Login, site: Site,
                                                          browser_client: Callable[[], httpx.Client]) -> None:
    pid = site.project_id
    before = _state(site, pid)
    manager = login("manager")
    data = {**_form(_manage(manager, pid)), "overlap": "5", "status": "archived"}
    path = f"/projects/{pid}/settings"
    ann = login("ann")
    r = ann.post(path, data={**data, "csrf": csrf_of(ann.get("/").text)})
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    outsider = login("outsider")
    assert outsider.post(path, data={**data, "csrf": csrf_of(outsider.get("/").text)}).status_code == 404
    assert manager.post(path, data={k: v for k, v in data.items() if k != "csrf"}).status_code == 403
    r = manager.post(path, data={**data, "csrf": "0" * 64})
    assert r.status_code == 403 and "CSRF" in r.text
    r = manager.post(path, data=data, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert _state(site, pid) == before
    # signed out: to the login page, and back here after
    r = browser_client().post(path, data=data)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=%2Fprojects%2F{pid}%2Fmanage"
    assert _state(site, pid) == before


# -- numeric --------------------------------------------------------------------------------------------------
def _numeric(site: Site, answers: dict[str, float] | None = None, **spec: Any) -> int:
    spec = {"name": "Birds", "task_type": "numeric", "overlap": 1, **spec}
    pid = projects.create_project(site.engine, site.manager, spec).id
    importing.import_items(site.engine, site.manager, pid, [
        (k + 1, {"external_id": f"c{k}", "data": {"text": f"count {k}"}}) for k in range(3)])
    if answers:
        rows = [{"external_id": ext, "worker": "w1", "answer": a} for ext, a in answers.items()]
        label_import.import_annotations(site.engine, site.admin, pid, enumerate(rows, start=1), create_workers=True)
    return pid


def test_a_numeric_project_takes_a_range_and_tolerance(login: Login, site: Site) -> None:
    client = login("manager")
    pid = _numeric(site, {"c0": 12, "c1": 40.5})
    html = _manage(client, pid)
    assert _form(html)["range_min"] == "" and _form(html)["tolerance"] == "0"
    assert "To change the range or tolerance, send" not in html  # the form does it now
    html = _saved(client, _post(client, pid, range_min="0", range_max="100", tolerance="2.5"), pid)
    project = projects.get_project(site.engine, site.admin, pid)
    assert (project.range, project.tolerance) == ({"min": 0, "max": 100}, 2.5)
    assert '<span id="numeric-settings">values: 0 to 100 · tolerance 2.5</span>' in html
    values = _form(html)
    assert (values["range_min"], values["range_max"], values["tolerance"]) == ("0", "100", "2.5")
    # unchanged, it saves again (the stored answers are within the range)
    _saved(client, _post(client, pid, overlap="2"), pid)
    project = projects.get_project(site.engine, site.admin, pid)
    assert (project.range, project.tolerance, project.overlap) == ({"min": 0, "max": 100}, 2.5, 2)
    # an end left empty takes that bound off; both empty, any number; a blank tolerance is 0
    html = _saved(client, _post(client, pid, range_max=""), pid)
    assert projects.get_project(site.engine, site.admin, pid).range == {"min": 0, "max": None}
    assert "values: at least 0 · tolerance 2.5" in html
    _saved(client, _post(client, pid, range_min="", tolerance=""), pid)
    project = projects.get_project(site.engine, site.admin, pid)
    assert (project.range, project.tolerance) == ({"min": None, "max": None}, 0)
    assert "range" not in project.config


def test_narrowing_a_numeric_range_past_an_answer_is_refused_by_the_field(login: Login, site: Site) -> None:
    client = login("manager")
    pid = _numeric(site, {"c0": 12, "c1": 40.5}, range={"min": 0, "max": 100})
    before = _state(site, pid)
    r = _post(client, pid, range_max="20", overlap="3", guidelines="New words")
    assert r.status_code == 422, r.text
    error = _error(r.text, "range")
    assert "1 labels lie outside the new range (e.g. 40.5)" in error, error
    assert 'id="range_max" name="range_max" value="20"' in r.text and 'aria-invalid="true"' in r.text
    values = _form(r.text)
    assert (values["overlap"], values["guidelines"]) == ("3", "New words")  # typed values kept
    assert '<span id="numeric-settings">values: 0 to 100 · tolerance 0</span>' in r.text  # what is stored
    assert _state(site, pid) == before  # nothing changed, not even the overlap
    # a bad number and an upside-down range are named too
    r = _post(client, pid, range_min="ten")
    assert r.status_code == 422 and "must be a number, got &#39;ten&#39;" in _error(r.text, "range")
    r = _post(client, pid, range_min="50", range_max="10")
    assert r.status_code == 422 and "must be above range.min (50), got 10" in _error(r.text, "range")
    r = _post(client, pid, tolerance="-1")
    assert r.status_code == 422 and "must be 0 or more" in _error(r.text, "tolerance")
    assert _state(site, pid) == before


# -- pairwise -------------------------------------------------------------------------------------------------
def _pairwise(site: Site, ties: bool, answers: dict[str, str] | None = None) -> int:
    spec = {"name": "Duel", "task_type": "pairwise", "ties": ties, "overlap": 1}
    pid = projects.create_project(site.engine, site.manager, spec).id
    importing.import_items(site.engine, site.manager, pid, [
        (k + 1, {"external_id": f"p{k}", "data": {"text": f"prompt {k}", "a": "A", "b": "B"}}) for k in range(3)])
    if answers:
        rows = [{"external_id": ext, "worker": "w1", "answer": a} for ext, a in answers.items()]
        label_import.import_annotations(site.engine, site.admin, pid, enumerate(rows, start=1), create_workers=True)
    return pid


def test_a_pairwise_project_turns_ties_on_and_off(login: Login, site: Site) -> None:
    client = login("manager")
    pid = _pairwise(site, ties=False, answers={"p0": "a", "p1": "b"})
    html = _manage(client, pid)
    assert re.search(r'<input type="checkbox" id="ties" name="ties" value="true"\s*>', html)  # unticked
    assert 'id="range_min"' not in html
    _saved(client, _post(client, pid), pid)  # unchanged: still no ties, a and b answers untouched
    assert projects.get_project(site.engine, site.admin, pid).ties is False
    html = _saved(client, _post(client, pid, ties="true"), pid)
    project = projects.get_project(site.engine, site.admin, pid)
    assert (project.ties, project.labels) == (True, ["a", "b", "tie"])
    assert "answers: a (A is better), b (B is better), tie · ties allowed" in html
    assert 'name="ties" value="true" checked' in html
    _saved(client, _post(client, pid, overlap="2"), pid)  # ticked and unchanged: kept
    assert projects.get_project(site.engine, site.admin, pid).ties is True
    _saved(client, _post(client, pid, ties=None), pid)  # no tie answers yet: unticking works
    project = projects.get_project(site.engine, site.admin, pid)
    assert (project.ties, project.labels) == (False, ["a", "b"])


def test_ties_cannot_be_turned_off_while_a_tie_answer_exists(login: Login, site: Site) -> None:
    client = login("manager")
    pid = _pairwise(site, ties=True, answers={"p0": "tie", "p1": "a"})
    before = _state(site, pid)
    _saved(client, _post(client, pid), pid)  # unchanged ties with a tie answer: fine
    assert _state(site, pid) == before
    r = _post(client, pid, ties=None, overlap="4")
    assert r.status_code == 422, r.text
    error = _error(r.text, "ties")
    assert error.startswith("would drop the label &#39;tie&#39;, which 1 labels use"), error
    assert "keep ties as it is, or start a new project" in error
    assert 'aria-describedby="ties-error"' in r.text and 'id="labels-error"' not in r.text
    assert re.search(r'name="ties" value="true"\s*aria-invalid', r.text)  # unticked, as sent
    assert _form(r.text)["overlap"] == "4"
    assert _state(site, pid) == before


@pytest.mark.parametrize("kind", ["classification", "numeric", "pairwise"])
def test_the_manage_page_keeps_its_ids_unique(login: Login, site: Site, kind: str) -> None:
    pid = {"classification": lambda: site.project_id, "numeric": lambda: _numeric(site),
           "pairwise": lambda: _pairwise(site, ties=True)}[kind]()
    r = _post(login("manager"), pid, overlap="x")  # with an error shown: the most ids
    assert r.status_code == 422
    ids = re.findall(r'\sid="([^"]+)"', r.text)
    assert sorted({i for i in ids if ids.count(i) > 1}) == []
    described = re.findall(r'aria-(?:describedby|labelledby)="([^"]+)"', r.text)
    assert {ref for refs in described for ref in refs.split()} <= set(ids)
