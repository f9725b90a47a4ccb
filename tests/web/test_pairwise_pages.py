"""Pairwise projects on the server-rendered pages: the new-project form (labels ignored, ties as a checkbox), the
workspace page (its widget, its keys), the blind comparison (an annotator never sees a_id/b_id), and the manager
page's ranking (table in score order with every id escaped, the forest plot, and what it says without ids)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.web.web_support import Site, csrf_of
from truthline.services import importing, label_import, projects
from truthline.web import dashboard

Login = Callable[[str], httpx.Client]

EVIL = '<script>alert("x")</script>'  # an id is user text: it must arrive as text, never as markup
STRONG, WEAK = "model & co", EVIL


def _pairwise(site: Site, name: str = "Duel", ties: bool = True, **spec: Any) -> int:
    spec = {"name": name, "task_type": "pairwise", "ties": ties, "overlap": 1, **spec}
    pid = projects.create_project(site.engine, site.manager, spec).id
    projects.add_member(site.engine, site.manager, pid, "ann", "annotator")
    return pid


def _items(site: Site, pid: int, pairs: list[tuple[str | None, str | None]]) -> list[str]:
    """One item per (a_id, b_id) pair (None: the item names no ids); returns their external ids."""
    records = []
    for k, (a_id, b_id) in enumerate(pairs):
        data: dict[str, Any] = {"text": f"prompt {k}", "a": f"answer A{k}", "b": f"answer B{k}"}
        if a_id is not None:
            data.update(a_id=a_id, b_id=b_id)
        records.append((k + 1, {"external_id": f"p{k}", "data": data}))
    importing.import_items(site.engine, site.manager, pid, records)
    return [f"p{k}" for k in range(len(pairs))]


def _answer(site: Site, pid: int, answers: dict[str, str]) -> None:
    rows = [{"external_id": ext, "worker": "w1", "answer": a} for ext, a in answers.items()]
    label_import.import_annotations(site.engine, site.admin, pid, enumerate(rows, start=1), create_workers=True)


def _ranked(site: Site) -> int:
    """Three sides: STRONG beats both others, `middle` beats WEAK, WEAK loses everything (one tie)."""
    pid = _pairwise(site)
    pairs = [(STRONG, "middle")] * 4 + [("middle", WEAK)] * 4 + [(WEAK, STRONG)] * 4 + [("middle", STRONG)]
    ext = _items(site, pid, pairs)
    winners = ["a"] * 4 + ["a", "a", "a", "tie"] + ["b"] * 4 + ["b"]
    _answer(site, pid, dict(zip(ext, winners, strict=True)))
    return pid


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


# -- the new-project form --------------------------------------------------------------------------------------
NEW = {"name": "Which answer", "task_type": "pairwise", "labels": "", "overlap": "3", "guidelines": "Pick one.",
       "range_min": "", "range_max": "", "tolerance": ""}


def test_the_new_project_form_creates_a_pairwise_project(login: Login, site: Site) -> None:
    client = login("manager")
    form = client.get("/").text
    assert '<option value="pairwise">' in form
    assert re.search(r'<input type="checkbox" id="ties" name="ties" value="true"\s*>', form)  # unticked at first
    assert '<input type="checkbox" id="random_order" name="random_order" value="true" checked>' in form  # ticked
    csrf = csrf_of(form)
    # ties ticked; whatever the (hidden) labels box holds is ignored: a pairwise project's labels are fixed
    r = client.post("/projects", data={**NEW, "ties": "true", "random_order": "true", "labels": "cat\ndog",
                                       "csrf": csrf})
    assert r.status_code == 303, r.text
    project = projects.get_project(site.engine, site.manager, int(r.headers["location"].split("/")[2]))
    assert (project.task_type, project.labels, project.ties, project.overlap, project.random_order) == (
        "pairwise", ["a", "b", "tie"], True, 3, True)
    settings = client.get(r.headers["location"]).text.split('id="pairwise-settings">')[1].split("</span>")[0]
    assert settings == "answers: a (A is better), b (B is better), tie · ties allowed · shown in random order"
    # unticked: no ties, the candidates in the order imported
    r = client.post("/projects", data={**NEW, "name": "No ties", "csrf": csrf})
    assert r.status_code == 303, r.text
    project = projects.get_project(site.engine, site.manager, int(r.headers["location"].split("/")[2]))
    assert (project.labels, project.ties, project.random_order) == (["a", "b"], False, False)
    assert "answers: a (A is better), b (B is better) · no ties · shown in the imported order" in \
        client.get(r.headers["location"]).text
    # the home page's card says what the answers are
    home = _text(client.get("/").text)
    assert "pairwise · A or B or a tie · active" in home and "pairwise · A or B · active" in home
    # other task types keep their labels and ignore a ties box left ticked (it is hidden for them)
    r = client.post("/projects", data={**NEW, "name": "Pets", "task_type": "classification", "labels": "cat\ndog",
                                       "ties": "true", "csrf": csrf})
    assert r.status_code == 303, r.text
    project = projects.get_project(site.engine, site.manager, int(r.headers["location"].split("/")[2]))
    assert (project.labels, project.ties) == (["cat", "dog"], None)


def test_a_refused_pairwise_form_keeps_the_ties_box_ticked(login: Login, site: Site) -> None:
    client = login("manager")
    csrf = csrf_of(client.get("/").text)
    r = client.post("/projects", data={**NEW, "name": "", "ties": "true", "csrf": csrf})
    assert r.status_code == 422, r.text
    assert "name is required" in r.text.split('id="name-error">')[1].split("</p>")[0]
    assert re.search(r'id="ties" name="ties" value="true" checked', r.text)
    assert '<option value="pairwise" selected>' in r.text


# -- the workspace ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ties", [True, False])
def test_pairwise_workspace_page_loads_its_widget_and_keys(login: Login, site: Site, ties: bool) -> None:
    pid = _pairwise(site, ties=ties)
    client = login("ann")
    html = client.get(f"/projects/{pid}/annotate").text
    config = json.loads(re.search(r'id="workspace-config">(.*?)</script>', html).group(1))
    assert config["widget"] == "pairwise" and config["labels"] == (["a", "b", "tie"] if ties else ["a", "b"])
    assert 'src="/static/widget-pairwise.js' in html and "widget-classification.js" not in html
    assert "does not support the task type" not in html
    assert 'aria-label="Which candidate is better"' in html
    legend = _text(html.split('id="keys-labels">')[1].split("</li>")[0])
    assert legend == ("1 A is better · 2 B is better · 3 tie" if ties else "1 A is better · 2 B is better")
    js = client.get("/static/widget-pairwise.js")
    assert js.status_code == 200 and "Truthline.widgets.pairwise" in js.text
    assert "innerHTML" not in js.text and "insertAdjacentHTML" not in js.text  # candidates are text, never markup


def test_an_annotator_never_gets_what_produced_a_candidate(login: Login, site: Site) -> None:
    pid = _pairwise(site)
    secret = ("secret-model-alpha", "secret-model-beta")
    _items(site, pid, [secret, secret[::-1], secret])
    client = login("ann")
    pages = [client.get(f"/projects/{pid}/annotate").text, client.get("/").text]
    csrf = csrf_of(pages[0])
    headers = {"X-Truthline-CSRF": csrf}
    seen = []
    while True:
        r = client.post(f"/api/v1/projects/{pid}/next", headers=headers)
        assert r.status_code in (200, 204), r.text
        pages.append(r.text)
        if r.status_code == 204 or not r.content or r.json() is None:
            break
        task = r.json()
        data = task["item"]["data"]
        assert set(data) == {"text", "a", "b"}, data  # the candidates and the prompt, nothing else
        seen.append(task["item"]["external_id"])
        renewed = client.post(f"/api/v1/leases/{task['lease_id']}/renew", headers=headers)
        pages.append(renewed.text)
        answer = {"answer": "tie", "active_ms": 1000, "idempotency_key": f"k-{len(seen)}"}
        submitted = client.post(f"/api/v1/leases/{task['lease_id']}/submit", json=answer, headers=headers)
        assert submitted.status_code in (200, 201, 204), submitted.text
        pages.append(submitted.text)
    assert sorted(seen) == ["p0", "p1", "p2"]
    pages.append(client.get(f"/api/v1/projects/{pid}").text)
    for text in pages:
        for name in (*secret, "a_id", "b_id"):
            assert name not in text, (name, text[:300])
    # the manager, who may see them, does: the ids were there to hide
    manager = login("manager")
    assert secret[0] in manager.get(f"/projects/{pid}/manage").text


# -- the manager page's ranking ---------------------------------------------------------------------------------
def test_manager_page_ranks_the_sides_best_first_with_ids_escaped(login: Login, site: Site) -> None:
    pid = _ranked(site)
    manager = login("manager")
    api = manager.get(f"/api/v1/projects/{pid}/ranking", params={"method": "auto"}).json()
    ids = [r["id"] for r in api["ranking"]]
    assert ids == [STRONG, "middle", WEAK]  # the data's order, so the page has something to get right
    html = manager.get(f"/projects/{pid}/manage").text
    assert 'value="auto" selected' in html
    assert EVIL not in html and "alert(" in html  # escaped everywhere it appears (table, chart, description)
    section = html.split('id="ranking-h"')[1].split("</section>")[0]
    assert "Bradley-Terry log-strengths" in section and "P(x beats y) = 1/(1+e^(score_y−score_x))" in section
    assert "Fitted on 13 items" in section
    assert 'id="ranking-none"' not in section
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td><th scope=\"row\" class=\"side\">(.*?)</th>(.*?)</tr>",
                      section, re.DOTALL)
    assert [(int(n), side) for n, side, _ in rows] == [(1, "model &amp; co"), (2, "middle"),
                                                       (3, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")]
    for (_, _, cells), r in zip(rows, api["ranking"], strict=True):
        texts = [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.DOTALL)]
        assert texts == [f'{r["score"]:+.2f}', f'{r["lower"]:+.2f} to {r["upper"]:+.2f}', str(r["comparisons"]),
                         f'{r["wins"]} / {r["losses"]} / {r["ties"]}']
    scores = [r["score"] for r in api["ranking"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0 > scores[-1]
    assert [(r["wins"], r["losses"], r["ties"]) for r in api["ranking"]] == [(9, 0, 0), (3, 5, 1), (0, 7, 1)]
    # the forest plot: one dot and one line per side, best on top, and 0 marked
    chart = section.split('id="ranking-chart"')[1].split("</svg>")[0]
    dots = re.findall(r'<circle class="point" cx="([\d.]+)" cy="([\d.]+)"', chart)
    lines = re.findall(r'<line class="interval-line" x1="([\d.]+)" y1="[\d.]+" x2="([\d.]+)"', chart)
    assert len(dots) == len(lines) == 3
    ys = [float(y) for _, y in dots]
    assert ys == sorted(ys)  # best first: top to bottom
    xs = [float(x) for x, _ in dots]
    assert xs == sorted(xs, reverse=True)  # higher score, further right
    zero = float(re.search(r'<line class="zero" x1="([\d.]+)"', chart).group(1))
    assert xs[0] > zero > xs[-1]
    for (x1, x2), x in zip(lines, xs, strict=True):
        assert float(x1) < x < float(x2)
    assert "&lt;script&gt;" in chart and "model &amp; co" in chart
    assert "1. model &amp; co: " in chart.split("<desc")[1].split("</desc>")[0]
    # the preference pairs download, by the page's method; it serves chosen/rejected lines
    link = re.search(r'id="export-preferences"><a class="button" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert link == f"/api/v1/projects/{pid}/export?format=preferences&method=auto"
    pairs = [json.loads(line) for line in manager.get(link).text.splitlines()]
    assert pairs and {"prompt", "chosen", "rejected", "chosen_id", "rejected_id", "confidence"} < set(pairs[0])


def test_ranking_follows_the_pages_method(login: Login, site: Site) -> None:
    pid = _ranked(site)
    manager = login("manager")
    api = manager.get(f"/api/v1/projects/{pid}/ranking", params={"method": "mv"}).json()
    html = manager.get(f"/projects/{pid}/manage?method=mv").text
    section = html.split('id="ranking-h"')[1].split("</section>")[0]
    assert "from mv&#39;s answers" in section or "from mv's answers" in section
    first = _text(section.split('class="num score">')[1].split("</td>")[0])
    assert first == f'{api["ranking"][0]["score"]:+.2f}'


def test_manager_page_says_when_there_is_nothing_to_rank(login: Login, site: Site) -> None:
    pid = _pairwise(site)
    ext = _items(site, pid, [(None, None)] * 3)
    _answer(site, pid, dict(zip(ext, ["a", "b", "tie"], strict=True)))
    html = login("manager").get(f"/projects/{pid}/manage").text
    section = html.split('id="ranking-h"')[1].split("</section>")[0]
    assert "items name no a_id/b_id, so there is nothing to rank" in section
    assert 'id="ranking"' not in section and 'id="ranking-chart"' not in section


def test_manager_page_waits_for_answers_before_ranking(login: Login, site: Site) -> None:
    pid = _pairwise(site)
    _items(site, pid, [("x", "y"), ("y", "z")])
    html = login("manager").get(f"/projects/{pid}/manage").text
    section = html.split('id="ranking-h"')[1].split("</section>")[0]
    assert "The items name 3 sides (models or systems), but none of their pairs has an answer yet" in section
    assert 'id="ranking"' not in section and 'id="ranking-chart"' not in section


def test_other_task_types_have_no_ranking(login: Login, site: Site) -> None:
    html = login("manager").get(f"/projects/{site.project_id}/manage").text
    assert 'id="ranking-h"' not in html and 'id="pairwise-settings"' not in html
    assert 'id="export-preferences"' not in html
    assert "labels: cat, dog, bird" in html


def test_forest_geometry_takes_in_zero_and_unknown_intervals() -> None:
    rows = [{"id": "only-above", "score": 1.5, "lower": 0.5, "upper": 2.5},
            {"id": "x" * 50, "score": 0.7, "lower": None, "upper": None}]
    f = dashboard.forest(rows)
    assert f is not None and dashboard.forest([]) is None
    assert f["left"] < f["zero"] < f["rows"][1]["x"] < f["rows"][0]["x"] < f["right"]  # 0 is on the scale
    assert f["rows"][1]["x1"] is None and f["rows"][0]["x1"] < f["rows"][0]["x"] < f["rows"][0]["x2"]
    assert len(f["rows"][1]["head"]) == dashboard.FOREST_HEAD_CHARS and f["rows"][1]["id"] == "x" * 50
    assert [t["text"] for t in f["ticks"]] == ["0", "+2.50"]  # the lowest value is 0 itself: labelled once
    flat = dashboard.forest([{"id": "a", "score": 0.0, "lower": 0.0, "upper": 0.0}])
    assert flat is not None and flat["left"] < flat["zero"] < flat["right"]


def test_the_workers_table_shows_who_picks_the_first_candidate(login: Login, site: Site) -> None:
    from truthline.services.tasks import next_task, submit

    pid = _pairwise(site)
    _items(site, pid, [("m1", "m2")] * 12)
    while (task := next_task(site.engine, site.annotator, pid)) is not None:  # the first shown, every time
        submit(site.engine, site.annotator, task.lease_id, "a")
    html = login("manager").get(f"/projects/{pid}/manage").text
    table = html.split('id="workers"')[1].split("</table>")[0]
    assert ">First pick</th>" in table
    assert _text(table.split('class="num first-pick">')[1].split("</td>")[0]) == "100% of 12 leans first"
    projects.update_project(site.engine, site.manager, pid, {"random_order": False})  # "first" is then just "a"
    assert ">First pick</th>" not in login("manager").get(f"/projects/{pid}/manage").text
