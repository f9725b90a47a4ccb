"""Numeric projects on the server-rendered pages: the manager page (interval alpha, error against hidden truth,
each worker's bias and noise, value bins), the home page's card and new-project form, the workspace page."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.asgi import PortalTransport
from tests.web.web_support import PASSWORD, Site, csrf_of
from truthline.api.app import create_app
from truthline.services import importing, label_import, projects
from truthline.settings import Settings
from truthline.web import dashboard

Login = Callable[[str], httpx.Client]

# 30 items of 0, 3, ..., 87 birds: "exact" counts right, "over" 2 too many; the first two items are gold.
TRUTH = {f"c{i}": 3 * i for i in range(30)}


def _numeric(site: Site, name: str = "Birds", **spec: Any) -> int:
    spec = {"name": name, "task_type": "numeric", "range": {"min": 0}, "overlap": 2, **spec}
    pid = projects.create_project(site.engine, site.manager, spec).id
    projects.add_member(site.engine, site.manager, pid, "ann", "annotator")
    return pid


def _counted(site: Site) -> int:
    pid = _numeric(site)
    importing.import_items(site.engine, site.manager, pid, [
        (k + 1, {"external_id": ext, "data": {"text": ext}, "truth": t, **({"gold": t} if k < 2 else {})})
        for k, (ext, t) in enumerate(TRUTH.items())])
    rows = [{"external_id": ext, "worker": who, "answer": t + shift, "active_ms": 1500}
            for ext, t in TRUTH.items() for who, shift in (("exact", 0), ("over", 2))]
    label_import.import_annotations(site.engine, site.admin, pid, enumerate(rows, start=1), create_workers=True)
    return pid


def _cells(html: str, worker: str) -> list[str]:
    row = re.search(rf'<th scope="row">{worker}</th>(.*?)</tr>', html, re.S)
    assert row is not None, html
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def test_manager_page_shows_what_numbers_need(login: Login, site: Site) -> None:
    pid = _counted(site)
    manager = login("manager")
    report = manager.get(f"/api/v1/projects/{pid}/quality").json()
    r = manager.get(f"/projects/{pid}/manage")
    assert r.status_code == 200, r.text
    html = r.text
    # only the methods a numeric project takes: glad or mace on it would be a 422 page
    picker = html.split('id="method"')[1].split("</select>")[0]
    assert re.findall(r'<option value="(\w+)"', picker) == ["auto", "ds", "mv"]
    # agreement on the values: nominal, interval (with ordinal), no kappa; the error against hidden truth
    interval = report["agreement"]["krippendorff_alpha_interval"]
    assert interval > 0.9 and f'id="alpha-interval"><span class="value">{interval:.3f}<' in html
    assert f'ordinal (by rank): {report["agreement"]["krippendorff_alpha_ordinal"]:.3f}' in html
    assert "Fleiss" not in html
    error = report["error_vs_truth"]
    assert 0 < error < 1
    assert f'id="error-vs-truth"><span class="value">{error:.4g}<' in html
    assert "vs hidden truth (28 items, gold left out)" in html  # the 2 gold items are clamped: not counted
    assert "right = equal to the truth" in html
    # workers: bias and noise instead of the spammer score and habitual slip (None for numbers)
    head = html.split('id="workers"')[1].split("</thead>")[0]
    assert ">Bias</th>" in head and ">Noise</th>" in head
    assert "Spammer score" not in head and "Habitual slip" not in head
    rows = {w["username"]: w for w in report["workers"]}
    for who in ("exact", "over"):
        cells = _cells(html, who)
        assert cells[0] == "30" and cells[1] == f'{100 * rows[who]["accuracy"]:.1f}%'
        assert cells[3:5] == [f'{rows[who]["bias"]:+.4g}', f'{rows[who]["noise"]:.4g}'], cells
        assert cells[-2:] == [("2 / 2" if who == "exact" else "0 / 2"), "1.5 s"]
    assert rows["over"]["bias"] > 1 and _cells(html, "over")[3].startswith("+")
    # no confusions, no per-label sections, no soft labels (the API refuses them for numbers)
    for absent in ('id="confusion-h"', 'id="label-misses"', 'id="auto-per-label"', 'id="export-soft"',
                   "probabilities=true", "labels: "):
        assert absent not in html, absent
    assert '<span id="numeric-settings">values: at least 0 · tolerance 0</span>' in html
    plain = html.split('id="export-plain"')[1].split("</p>")[0]  # the plain exports stay
    assert all(f"export?format={fmt}&amp;method=" in plain for fmt in ("jsonl", "csv", "parquet"))
    # the value chart: 30 distinct values fall in 10 bins like "0–8.9", every one drawn
    counts = manager.get(f"/api/v1/projects/{pid}/summary").json()["label_distribution"]
    assert len(counts) == 10 and "0–8.9" in counts
    chart = html.split('id="distribution"')[1].split("</svg>")[0]
    assert chart.count('<rect class="bar"') == 10
    assert all(f"{key}: {n}." in chart for key, n in counts.items())
    assert ">Values given <" in html
    # confidence against hidden truth, in the words numbers need
    assert 'id="calibration"' in html and "share of them that are equal to the hidden truth" in html


def test_manager_page_of_numbers_with_mv_and_a_tolerance(login: Login, site: Site) -> None:
    pid = _counted(site)
    projects.update_project(site.engine, site.manager, pid, {"tolerance": 2.5, "range": {"min": 0, "max": 200}})
    manager = login("manager")
    report = manager.get(f"/api/v1/projects/{pid}/quality", params={"method": "mv"}).json()
    html = manager.get(f"/projects/{pid}/manage?method=mv").text
    assert 'value="mv" selected' in html
    assert "values: 0 to 200 · tolerance 2.5" in html
    assert "right = within ±2.5 of the truth" in html and "labels within ±2.5 of mv's answers" in html
    assert f'id="error-vs-truth"><span class="value">{report["error_vs_truth"]:.4g}<' in html
    mv = {w["username"]: w for w in report["workers"]}
    assert _cells(html, "over")[3] == f'{mv["over"]["bias"]:+.4g}'  # mv assumes no bias: +0
    assert manager.get(f"/projects/{pid}/manage?method=glad").status_code == 422  # named, as the API does


def test_a_default_method_a_numeric_project_refuses_falls_back_to_auto(engine: Any, site: Site, portal: Any) -> None:
    pid = _counted(site)
    app = create_app(Settings(default_method="glad"), engine=engine)
    with httpx.Client(transport=PortalTransport(app, portal), base_url="http://testserver") as client:
        client.post("/login", data={"username": "manager", "password": PASSWORD})
        r = client.get(f"/projects/{pid}/manage")
        assert r.status_code == 200, r.text
        assert 'value="auto" selected' in r.text
        assert 'value="glad" selected' in client.get(f"/projects/{site.project_id}/manage").text  # others keep it


def test_manager_page_of_a_numeric_project_before_and_after_its_first_answers(login: Login, site: Site) -> None:
    pid = _numeric(site, range={"min": 0, "max": 10})
    importing.import_items(site.engine, site.manager, pid, [(1, {"external_id": "x", "data": {"text": "x"}})])
    manager = login("manager")
    html = manager.get(f"/projects/{pid}/manage").text
    assert "No answers yet." in html and 'id="workers"' not in html and 'id="error-vs-truth"' not in html
    assert "needs items with 2+ labels" in html.split('id="alpha-interval"')[1].split("</p>")[0]
    rows = [{"external_id": "x", "worker": "a", "answer": 2.5}, {"external_id": "x", "worker": "b", "answer": 3}]
    label_import.import_annotations(site.engine, site.admin, pid, enumerate(rows, start=1), create_workers=True)
    html = manager.get(f"/projects/{pid}/manage").text
    chart = html.split('id="distribution"')[1].split("</svg>")[0]
    assert "2.5: 1. 3: 1." in chart  # few distinct values: one bar each
    assert 'id="error-vs-truth"' not in html  # no hidden truth: no figure
    assert ">Bias</th>" in html and re.search(r'<td class="num bias">[+-][\d.]', html)


def test_home_page_card_says_numbers_and_their_range(login: Login, site: Site) -> None:
    _numeric(site, name="Birds", range={"min": 0, "max": 100})
    _numeric(site, name="Prices", range={"max": 5})
    html = login("ann").get("/").text
    card = re.sub(r"\s+", " ", html.split(">Birds</a>")[1].split("</p>")[0])
    assert "numeric · numbers, 0 to 100 · active" in card and "labels" not in card
    assert "numeric · numbers, at most 5 · active" in html
    assert dashboard.range_text({}) == "any number" == dashboard.range_text({"min": None, "max": None})
    assert "3 labels" in html  # the classification project keeps its count


NEW = {"name": "Counts", "task_type": "numeric", "labels": "", "overlap": "2", "guidelines": "Count the birds.",
       "range_min": "0", "range_max": "", "tolerance": ""}


def test_the_new_project_form_creates_a_numeric_project(login: Login, site: Site) -> None:
    client = login("manager")
    form = client.get("/").text
    assert '<option value="numeric">' in form
    for field in ("range_min", "range_max", "tolerance"):
        assert f'name="{field}"' in form
    r = client.post("/projects", data={**NEW, "range_max": " 250.5 ", "tolerance": "1", "csrf": csrf_of(form)})
    assert r.status_code == 303, r.text
    pid = int(r.headers["location"].split("/")[2])
    project = projects.get_project(site.engine, site.manager, pid)
    assert (project.task_type, project.labels, project.overlap) == ("numeric", [], 2)
    assert project.range == {"min": 0, "max": 250.5} and project.tolerance == 1  # numbers, not the form's text
    assert "values: 0 to 250.5 · tolerance 1" in client.get(r.headers["location"]).text
    # range and tolerance left empty: no bounds, tolerance 0
    r = client.post("/projects", data={**NEW, "name": "Any", "range_min": "", "csrf": csrf_of(form)})
    assert r.status_code == 303, r.text
    project = projects.get_project(site.engine, site.manager, int(r.headers["location"].split("/")[2]))
    assert project.range == {"min": None, "max": None} and project.tolerance == 0
    # the fields left empty change nothing for the other task types
    r = client.post("/projects", data={**NEW, "name": "Pets", "task_type": "classification", "labels": "cat\ndog",
                                       "range_min": "", "csrf": csrf_of(form)})
    assert r.status_code == 303, r.text


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"range_min": "10", "range_max": "5"}, "range", "must be above range.min (10)"),
    ({"range_min": "ten"}, "range", "must be a number"),
    ({"tolerance": "-1"}, "tolerance", "must be 0 or more"),
    ({"labels": "few\nmany"}, "labels", "a numeric project has no labels"),
    ({"task_type": "classification", "labels": "cat\ndog"}, "range", "only to numeric projects"),
])
def test_bad_numeric_project_input_reshows_the_form_naming_the_field(login: Login, site: Site, change: dict[str, str],
                                                                       field: str, says: str) -> None:
    client = login("manager")
    r = client.post("/projects", data={**NEW, **change, "csrf": csrf_of(client.get("/").text)})
    assert r.status_code == 422, r.text
    error = r.text.split(f'id="{field}-error">')[1].split("</p>")[0]
    assert says in error, error
    kept = {**NEW, **change}
    assert f'id="range_min" name="range_min" value="{kept["range_min"]}"' in r.text  # the input is kept
    assert "Counts" not in [p.name for p in projects.list_projects(site.engine, site.manager)]


def test_numeric_workspace_page_loads_its_widget_with_the_range(login: Login, site: Site) -> None:
    pid = _numeric(site, range={"min": 0, "max": 100})
    client = login("ann")
    html = client.get(f"/projects/{pid}/annotate").text
    config = json.loads(re.search(r'id="workspace-config">(.*?)</script>', html).group(1))
    assert config["widget"] == "numeric" and config["labels"] == []
    assert config["range"]["min"] == 0 and config["range"]["max"] == 100
    assert 'src="/static/widget-numeric.js' in html and "widget-classification.js" not in html
    legend = html.split('id="keys-labels">')[1].split("</li>")[0]
    assert "Type the number" in legend and "choose a label" not in html
    assert 'aria-label="Answer"' in html and "does not support the task type" not in html
    js = client.get("/static/widget-numeric.js")
    assert js.status_code == 200 and "Truthline.widgets.numeric" in js.text
