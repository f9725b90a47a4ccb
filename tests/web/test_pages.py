"""Web pages through the in-process client: login/logout, home, workspace, manager page, CSRF, headers."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any

import httpx

from tests.asgi import PortalTransport
from tests.quality.crowd_data import blind_spot, hard_items
from tests.web.web_support import PASSWORD, Site, csrf_of
from truthline.api.app import create_app
from truthline.services import importing, label_import, projects, tasks
from truthline.settings import Settings

Login = Callable[[str], httpx.Client]


def test_login_page_renders_a_form(browser_client: Callable[[], httpx.Client], site: Site) -> None:
    r = browser_client().get("/login")
    assert r.status_code == 200
    assert '<form method="post" action="/login">' in r.text
    assert 'autocomplete="current-password"' in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_pages_need_login(browser_client: Callable[[], httpx.Client], site: Site) -> None:
    client = browser_client()
    for path in ("/", f"/projects/{site.project_id}/annotate", f"/projects/{site.project_id}/manage"):
        r = client.get(path)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")


def test_wrong_password_says_so(browser_client: Callable[[], httpx.Client], site: Site) -> None:
    r = browser_client().post("/login", data={"username": "ann", "password": "nope"})
    assert r.status_code == 401
    assert "Wrong username or password" in r.text
    assert "set-cookie" not in r.headers


def test_login_sets_a_safe_session_cookie_and_redirects(browser_client: Callable[[], httpx.Client], site: Site) -> None:
    client = browser_client()
    r = client.post("/login", data={"username": "ann", "password": PASSWORD, "next": f"/projects/{site.project_id}/annotate"})
    assert r.status_code == 303
    assert r.headers["location"] == f"/projects/{site.project_id}/annotate"
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith("truthline_session=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # settings.secure_cookies is off in tests
    assert client.get("/").status_code == 200


def test_login_never_redirects_off_site(browser_client: Callable[[], httpx.Client], site: Site) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        r = browser_client().post("/login", data={"username": "ann", "password": PASSWORD, "next": target})
        assert r.headers["location"] == "/"


def test_cross_site_login_post_is_refused(browser_client: Callable[[], httpx.Client], site: Site) -> None:
    r = browser_client().post(
        "/login", data={"username": "ann", "password": PASSWORD}, headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 403
    assert "set-cookie" not in r.headers


def test_home_lists_only_my_projects_with_manage_links_for_managers(login: Login, site: Site) -> None:
    ann = login("ann").get("/").text
    assert "Animals" in ann and f"/projects/{site.project_id}/annotate" in ann
    assert f"/projects/{site.project_id}/manage" not in ann
    assert f"/projects/{site.project_id}/manage" in login("manager").get("/").text
    assert f"/projects/{site.project_id}/manage" in login("admin").get("/").text
    outsider = login("outsider").get("/").text
    assert "Animals" not in outsider and "not a member of any project" in outsider


def test_workspace_renders_for_an_annotator(login: Login, site: Site) -> None:
    r = login("ann").get(f"/projects/{site.project_id}/annotate")
    assert r.status_code == 200
    html = r.text
    config = json.loads(re.search(r'<script type="application/json" id="workspace-config">(.*?)</script>', html).group(1))
    assert config == {"project_id": site.project_id, "task_type": "classification", "widget": "classification",
                      "labels": ["cat", "dog", "bird"]}
    for script in ("truthline.js", "widget-classification.js", "workspace.js"):
        assert f'src="/static/{script}' in html
    assert len(csrf_of(html)) == 64
    # Guidelines are Markdown rendered with raw HTML escaped.
    assert "<strong>animal</strong>" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "manage" not in html.lower().split("<main")[0]  # no manage link for annotators


def test_workspace_of_someone_elses_project_is_not_found(login: Login, site: Site) -> None:
    client = login("outsider")
    r = client.get(f"/projects/{site.project_id}/annotate")
    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"] and "not found" in r.text.lower()
    for bad in ("0", "99999", str(2**70), "abc"):
        r = client.get(f"/projects/{bad}/annotate")
        assert r.status_code in (404, 422) and "text/html" in r.headers["content-type"], (bad, r.status_code)


def test_pages_answer_head(login: Login, site: Site) -> None:
    client = login("manager")
    for path in ("/login", "/", f"/projects/{site.project_id}/manage"):
        r = client.head(path)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"], (path, r.status_code)
    assert login("outsider").head(f"/projects/{site.project_id}/annotate").status_code == 404  # same access rules


def test_manager_page_is_for_managers_and_admins_only(login: Login, site: Site) -> None:
    path = f"/projects/{site.project_id}/manage"
    r = login("ann").get(path)
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"] and "managers" in r.text
    assert login("outsider").get(path).status_code == 404
    for who in ("manager", "admin"):
        r = login(who).get(path)
        assert r.status_code == 200, (who, r.text)
        assert "<progress" in r.text and 'id="workers"' not in r.text  # no labels yet: no workers table


def test_manager_page_shows_progress_distribution_and_workers(login: Login, site: Site) -> None:
    for answer in ("cat", "dog"):
        task = tasks.next_task(site.engine, site.annotator, site.project_id)
        assert task is not None
        tasks.submit(site.engine, site.annotator, task.lease_id, answer, active_ms=1500, idempotency_key=answer)
    html = login("manager").get(f"/projects/{site.project_id}/manage?method=mv").text
    assert re.search(r'<progress id="progress" max="4" value="2"', html), html
    assert "<strong>2</strong> of 4 items complete" in html
    assert 'id="workers"' in html and ">ann<" in html
    row = re.search(r">ann</th>(.*?)</tr>", html, re.S)
    assert row is not None and ">Gold right</th>" in html
    assert [c.strip() for c in re.findall(r'<td class="num">([^<]*)</td>', row.group(1))][-2:] == ["1 / 1", "1.5 s"]  # a0's gold is cat
    assert "cat: 1." in html and "dog: 1." in html  # the chart's text description
    assert 'value="mv" selected' in html and 'id="auto-models"' not in html
    assert 'id="calibration"' not in html  # no hidden truth, no chart of confidence against it
    soft = re.search(r'id="export-soft">\s*<a class="button" href="([^"]+)"', html)
    assert soft is not None, html
    r = login("manager").get(soft.group(1).replace("&amp;", "&"))  # the link downloads soft labels
    assert r.status_code == 200
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert sorted(tuple(sorted(row["probabilities"].items())) for row in rows if row["probabilities"]) == [
        (("bird", 0.0), ("cat", 0.0), ("dog", 1.0)), (("bird", 0.0), ("cat", 1.0), ("dog", 0.0))]
    link = re.search(r'id="workers-csv" href="([^"]+)"', html)
    assert link is not None, html
    r = login("manager").get(link.group(1).replace("&amp;", "&"))  # the workers table as a file
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [(w["worker"], w["n_labels"], w["gold_correct"]) for w in table] == [("ann", "2", "1")]
    auto = login("manager").get(f"/projects/{site.project_id}/manage").text  # the default method
    assert re.search(r'id="auto-models".*1</span>.*model chosen by auto<br>pooled 100', auto), auto  # 2 labels


def test_manager_page_says_when_auto_tempered_its_confidence(login: Login, site: Site) -> None:
    # everyone guesses on 30% of the items: auto's models grow too sure there, and it tempers them
    crowd, truth = hard_items()
    pid = projects.create_project(site.engine, site.manager, {"name": "Hard", "task_type": "classification",
                                                                "labels": ["no", "yes"], "overlap": 10}).id
    importing.import_items(site.engine, site.manager, pid, (
        (i + 1, {"external_id": f"h{i}", "data": {"text": f"h{i}"}, "truth": ["no", "yes"][t]})
        for i, t in enumerate(truth.tolist())))
    rows = ({"external_id": f"h{i}", "worker": f"w{w}", "answer": ["no", "yes"][k]}
            for i, w, k in zip(crowd.items.tolist(), crowd.workers.tolist(), crowd.labels.tolist()))
    label_import.import_annotations(site.engine, site.admin, pid, enumerate(rows, start=1), create_workers=True)
    manager = login("manager")
    report = manager.get(f"/api/v1/projects/{pid}/quality").json()
    tau = report["temperature"]
    assert 0.1 <= tau <= 0.8
    html = manager.get(f"/projects/{pid}/manage").text
    assert 'id="auto-temperature"' in html and f"confidence tempered: τ&nbsp;{tau:.2f}" in html
    ds = manager.get(f"/api/v1/projects/{pid}/quality", params={"method": "ds"}).json()
    assert ds["temperature"] is None
    ds_html = manager.get(f"/projects/{pid}/manage?method=ds").text
    assert 'id="auto-temperature"' not in ds_html
    # the hidden truth shows how far each method's confidence can be trusted: auto's, tempered, more than DS's
    cal, ds_cal = report["calibration"], ds["calibration"]
    assert cal["items"] == ds_cal["items"] == 600 and sum(b["items"] for b in cal["bins"]) == 600
    assert all(0 <= b["lower"] <= b["confidence"] <= b["upper"] <= 1 and 0 <= b["accuracy"] <= 1 for b in cal["bins"])
    assert cal["error"] < ds_cal["error"]
    for page, figures in ((html, cal), (ds_html, ds_cal)):
        assert 'id="calibration"' in page and f'id="calibration-error">{figures["error"]:.3f}<' in page
        chart = page.split('id="calibration"')[1].split("</svg>")[0]
        assert chart.count('<rect class="bar"') == len(figures["bins"])  # one bar per bin that holds items


def test_manager_page_shows_which_classes_workers_confuse(login: Login, site: Site) -> None:
    # on cat items two of five workers say dog; dog and bird items are labelled right
    names = ["cat", "dog", "bird"]
    pid = projects.create_project(site.engine, site.manager, {"name": "Pets", "task_type": "classification",
                                                                "labels": names, "overlap": 5}).id
    importing.import_items(site.engine, site.manager, pid, (
        (i + 1, {"external_id": f"p{i}", "data": {"text": f"p{i}"}}) for i in range(30)))
    rows = [{"external_id": f"p{i}", "worker": f"w{w}",
             "answer": "dog" if i % 3 == 0 and w in (i % 5, (i + 1) % 5) else names[i % 3]}
            for i in range(30) for w in range(5)]
    label_import.import_annotations(site.engine, site.admin, pid, enumerate(rows, start=1), create_workers=True)
    manager = login("manager")
    cm = manager.get(f"/api/v1/projects/{pid}/quality", params={"method": "mv"}).json()["confusion"]
    assert cm["labels"] == names
    assert cm["counts"] == [[30, 20, 0], [0, 50, 0], [0, 0, 50]]  # 10 cat items x 5 labels
    assert cm["top"] == [{"answer": "cat", "given": "dog", "labels": 20, "share": 0.4}]  # nothing else confused
    html = manager.get(f"/projects/{pid}/manage?method=mv").text
    assert "<strong>cat</strong> items labelled <strong>dog</strong>: 40.0% of their labels (20)" in html
    matrix = html.split('id="confusion-matrix"')[1].split("</svg>")[0]
    assert matrix.count('<rect class="heat"') == 9
    assert 'fill-opacity="0.400"' in matrix and 'fill-opacity="0.600"' in matrix  # the cat row: 60% cat, 40% dog
    # each worker took 4 of the 10 cat items for dogs: the same habit, shown per worker
    workers = manager.get(f"/api/v1/projects/{pid}/workers", params={"method": "mv"}).json()["workers"]
    assert [w["top_slip"] for w in workers] == [{"kind": "confused", "answer": "cat", "given": "dog", "labels": 4,
                                                 "of": 10}] * 5
    assert html.count('<td class="slip">cat → dog <span class="muted">(4 of 10)</span></td>') == 5
    tags = projects.create_project(site.engine, site.manager, {"name": "Tags", "task_type": "multilabel",
                                                                 "labels": names, "overlap": 1}).id
    importing.import_items(site.engine, site.manager, tags, [(1, {"external_id": "t", "data": {"text": "t"}})])
    label_import.import_annotations(site.engine, site.admin, tags,
                                    [(1, {"external_id": "t", "worker": "w0", "answer": ["cat"]})], create_workers=True)
    assert manager.get(f"/api/v1/projects/{tags}/quality").json()["confusion"] is None  # each label is yes/no
    assert 'id="confusion-h"' not in manager.get(f"/projects/{tags}/manage").text


def test_manager_page_shows_what_auto_chose_for_each_label(login: Login, site: Site) -> None:
    # a multilabel project: each label is its own yes/no crowd, so auto chooses (and tempers) per label
    import numpy as np

    tags = ["red", "round", "sweet"]
    pid = projects.create_project(site.engine, site.manager, {"name": "Tags", "task_type": "multilabel",
                                                                "labels": [*tags, "spare"], "overlap": 5}).id
    rng = np.random.default_rng(0)
    truth = rng.random((40, 3)) < 0.4
    importing.import_items(site.engine, site.manager, pid, (
        (i + 1, {"external_id": f"t{i}", "data": {"text": f"t{i}"}}) for i in range(40)))
    rows = []
    for i in range(40):
        for w in range(5):  # four careful workers; the fifth ticks at random
            chosen = rng.random(3) < 0.5 if w == 4 else truth[i] ^ (rng.random(3) < 0.1)
            rows.append({"external_id": f"t{i}", "worker": f"w{w}", "answer": [t for t, c in zip(tags, chosen) if c]})
    label_import.import_annotations(site.engine, site.admin, pid, enumerate(rows, start=1), create_workers=True)
    manager = login("manager")
    report = manager.get(f"/api/v1/projects/{pid}/quality").json()
    assert report["models"] == {} and report["temperature"] is None  # no pooled fit to describe
    assert [row["label"] for row in report["per_label"]] == [*tags, "spare"]
    chosen = [sum(t in r["answer"] for r in rows) for t in tags]
    assert [row["selected"] for row in report["per_label"]] == [*chosen, 0]  # nobody ticks "spare"
    assert {row["answers"] for row in report["per_label"]} == {200}
    for row in report["per_label"]:
        assert row["models"] and abs(sum(row["models"].values()) - 1) < 1e-3
        assert 0.1 <= row["temperature"] <= 1 and row["temperature_gold_items"] == 0
    html = manager.get(f"/projects/{pid}/manage").text
    table = html.split('id="auto-per-label"')[1].split("</table>")[0]
    assert '<th scope="row">spare</th><td><span class="muted">chosen by no answer: no on every item</span>' in table
    misses = html.split('id="label-misses"')[1].split("</table>")[0]  # nobody missed it, nobody added it
    assert '<th scope="row">spare</th><td class="num">–</td><td class="num">0.0% <span class="muted">(0 of 200)' in misses
    for row in report["per_label"][:3]:
        shown = re.search(rf'<th scope="row">{row["label"]}</th><td>(.*?)</td><td class="num">([\d.]+)', table)
        assert shown is not None, table
        assert all(name in shown.group(1) for name in row["models"]) and shown.group(2) == f'{row["temperature"]:.2f}'
    assert manager.get(f"/api/v1/projects/{pid}/quality", params={"method": "ds"}).json()["per_label"] == []
    assert 'id="auto-per-label"' not in manager.get(f"/projects/{pid}/manage?method=ds").text


def test_manager_page_says_when_gold_softened_the_confidence(login: Login, site: Site) -> None:
    # a quarter of the items fool most workers the same way: only the 60 gold items can show it
    crowd, truth = blind_spot()
    names = ["no", "yes"]
    pid = projects.create_project(site.engine, site.manager, {"name": "Blind", "task_type": "classification",
                                                                "labels": names, "overlap": 7}).id
    importing.import_items(site.engine, site.manager, pid, (
        (i + 1, {"external_id": f"b{i}", "data": {"text": f"b{i}"},
                 **({"gold": names[t]} if i < 60 else {"truth": names[t]})})
        for i, t in enumerate(truth.tolist())))
    rows = ({"external_id": f"b{i}", "worker": f"w{w}", "answer": names[k]}
            for i, w, k in zip(crowd.items.tolist(), crowd.workers.tolist(), crowd.labels.tolist()))
    label_import.import_annotations(site.engine, site.admin, pid, enumerate(rows, start=1), create_workers=True)
    manager = login("manager")
    report = manager.get(f"/api/v1/projects/{pid}/quality").json()
    tau = report["temperature"]
    assert report["temperature_gold_items"] == 60 and tau < 0.5
    assert report["calibration"]["items"] == 540 and report["calibration"]["error"] < 0.1  # gold left out
    html = manager.get(f"/projects/{pid}/manage").text
    assert f"confidence tempered: τ&nbsp;{tau:.2f}, checked against 60 gold items" in html
    assert f"(τ&nbsp;{tau:.2f}) to match held-out labels and 60 gold answers" in html
    assert "DS accuracy vs hidden truth (540 items, gold left out)" in html


def test_cookie_api_writes_need_the_csrf_header(login: Login, site: Site) -> None:
    client = login("ann")
    csrf = csrf_of(client.get(f"/projects/{site.project_id}/annotate").text)
    url = f"/api/v1/projects/{site.project_id}/next"
    assert client.post(url).status_code == 403
    assert client.post(url, headers={"X-Truthline-CSRF": "0" * 64}).status_code == 403
    assert client.post(url, headers={"X-Truthline-CSRF": "é".encode()}).status_code == 403  # not a 500
    r = client.post(url, headers={"X-Truthline-CSRF": csrf})
    assert r.status_code == 200, r.text
    assert "gold" not in r.text


def test_csrf_values_hold_across_server_processes(login: Login, site: Site, portal: Any) -> None:
    """Two app instances (as two `serve` processes or a restart) accept each other's pages' CSRF values,
    with no key configured; a configured key gives different values."""
    client = login("ann")
    csrf = csrf_of(client.get(f"/projects/{site.project_id}/annotate").text)
    other = httpx.Client(transport=PortalTransport(create_app(Settings(), engine=site.engine), portal),
                         base_url="http://testserver", cookies=client.cookies)
    with other:
        r = other.post(f"/api/v1/projects/{site.project_id}/next", headers={"X-Truthline-CSRF": csrf})
        assert r.status_code == 200, r.text
    keyed = httpx.Client(transport=PortalTransport(create_app(Settings(secret_key="k" * 32), engine=site.engine),
                                                   portal), base_url="http://testserver", cookies=client.cookies)
    with keyed:
        page = keyed.get(f"/projects/{site.project_id}/annotate").text
        assert csrf_of(page) != csrf
        assert keyed.post("/logout", data={"csrf": csrf}).status_code == 403


def test_logout_ends_the_session(login: Login, site: Site) -> None:
    client = login("ann")
    csrf = csrf_of(client.get("/").text)
    assert client.post("/logout", data={"csrf": "wrong"}).status_code == 403
    assert client.post("/logout", data={"csrf": "é"}).status_code == 403  # non-ASCII: refused, not a 500
    r = client.post("/logout", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/").status_code == 303


def test_a_stolen_cookie_stops_working_after_logout(login: Login, browser_client: Callable[[], httpx.Client], site: Site) -> None:
    client = login("ann")
    token = client.cookies["truthline_session"]
    client.post("/logout", data={"csrf": csrf_of(client.get("/").text)})
    other = browser_client()
    other.cookies.set("truthline_session", token)
    r = other.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_static_assets_are_served(browser_client: Callable[[], httpx.Client], site: Site) -> None:
    client = browser_client()
    for name in ("app.css", "truthline.js", "workspace.js", "widget-classification.js", "widget-multilabel.js"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200, name
        assert "http://" not in r.text and "https://" not in r.text  # nothing loads from elsewhere


def test_multilabel_workspace_loads_its_widget(login: Login, site: Site) -> None:
    from truthline.services import projects as project_service

    project = project_service.create_project(
        site.engine, site.manager, {"name": "Tags", "task_type": "multilabel", "labels": ["red", "round", "sweet"]}
    )
    project_service.add_member(site.engine, site.manager, project.id, "ann", "annotator")
    html = login("ann").get(f"/projects/{project.id}/annotate").text
    assert 'src="/static/widget-multilabel.js' in html and "widget-classification.js" not in html
    assert "toggle a label" in html


def test_unknown_method_on_the_manager_page_is_a_clear_422_page(login: Login, site: Site) -> None:
    r = login("manager").get(f"/projects/{site.project_id}/manage?method=nope")
    assert r.status_code == 422
    assert "text/html" in r.headers["content-type"] and "nope" in r.text


def test_session_cookie_is_secure_when_configured(engine: Any, site: Site, portal: Any) -> None:
    app = create_app(Settings(secure_cookies=True), engine=engine)
    with httpx.Client(transport=PortalTransport(app, portal), base_url="https://testserver") as client:
        r = client.post("/login", data={"username": "ann", "password": PASSWORD})
    assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()
