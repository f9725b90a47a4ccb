"""The pairwise workspace and manager page in real headless Chromium: the two candidates side by side under the
prompt, keys 1/2/3 choosing A, B or a tie (stored as "a", "b", "tie"), candidates shown as text (never markup)
or as images, no tie where the project takes none; in random order, the key pressed means the candidate
shown there; the new-project form's ties box; the manager's ranking table
and forest plot with a hostile id shown as text."""

from __future__ import annotations

from typing import Any

from tests.web.test_workspace_browser import (
    Open,
    _answers,
    _project,
    _ready,
    expect,
    open_page,
)
from tests.web.web_support import Site
from truthline.services import label_import

__all__ = ["open_page"]  # the fixture, imported so pytest finds it here

EVIL = '<img src=x onerror="window.pwned=1">'  # as a candidate's text or a side's id: shown, never run


def _pairs(n: int, prefix: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"external_id": f"{prefix}{i}",
             "data": {"text": f"prompt {prefix}{i}", "a": f"left answer {i}", "b": f"right answer {i}",
                      "a_id": "hidden-model-one", "b_id": "hidden-model-two", **extra}}
            for i in range(n)]


def _watch(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def test_keys_1_2_3_answer_a_b_and_tie(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    items = _pairs(3, "k")
    items[0]["data"]["a"] = EVIL  # whichever comes first, some item shows it as text
    pid = _project(site, items, task_type="pairwise", labels=None, ties=True, random_order=False)
    page = open_page("ann", f"/projects/{pid}/annotate")
    problems = _watch(page)
    item, buttons = page.locator("#item"), page.locator("#answer .label-button")
    shown: dict[str, str] = {}
    for key, answer in (("1", "a"), ("2", "b"), ("3", "tie")):
        ref = _ready(page).removeprefix("Item ")
        n = ref.removeprefix("k")
        expect(item.locator(".pair-context .item-text")).to_have_text(f"prompt {ref}")
        a, b = item.locator('.candidate[data-side="a"]'), item.locator('.candidate[data-side="b"]')
        expect(a.locator(".candidate-name")).to_have_text("A")
        expect(b.locator(".candidate-name")).to_have_text("B")
        expect(a.locator(".candidate-text")).to_have_text(EVIL if ref == "k0" else f"left answer {n}")
        expect(b.locator(".candidate-text")).to_have_text(f"right answer {n}")
        box_a, box_b = a.bounding_box(), b.bounding_box()
        assert box_a and box_b and box_a["x"] + box_a["width"] <= box_b["x"]  # side by side, A on the left
        assert abs(box_a["y"] - box_b["y"]) < 2
        expect(item).not_to_contain_text("hidden-model")  # what produced each side stays hidden
        expect(item.locator("dl")).to_have_count(0)  # a and b are candidates, not stray fields
        expect(buttons).to_have_text(["1 A is better", "2 B is better", "3 Tie"])
        page.keyboard.press("Enter")  # nothing chosen yet: the page says what to do and stays
        expect(page.locator("#hint")).to_have_text("Choose the better candidate first (1 for A, 2 for B, 3 for a tie).")
        page.keyboard.press(key)
        expect(page.locator("#hint")).to_have_text("")
        expect(page.locator(f'#answer .label-button[data-label="{answer}"]')).to_have_attribute("aria-pressed", "true")
        expect(page.locator('#answer .label-button[aria-pressed="true"]')).to_have_count(1)
        chosen = {"a": ["a"], "b": ["b"], "tie": ["a", "b"]}[answer]
        expect(item.locator(".candidate.chosen")).to_have_count(len(chosen))
        for side in chosen:
            expect(item.locator(f'.candidate[data-side="{side}"]')).to_have_class("candidate chosen")
        page.keyboard.press("Enter")
        shown[ref] = answer
    expect(page.locator("#stage-title")).to_have_text("All done")
    expect(page.locator("#count")).to_have_text("3")
    expect(page.locator("#pending")).to_have_text("0")
    assert page.evaluate("window.pwned") is None and not page.locator("#item img").count()
    assert _answers(site, pid) == {ref: [answer] for ref, answer in shown.items()}
    assert not problems, problems


def test_no_tie_where_the_project_takes_none(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    pid = _project(site, _pairs(2, "n"), task_type="pairwise", labels=None, random_order=False)
    page = open_page("ann", f"/projects/{pid}/annotate")
    first = _ready(page).removeprefix("Item ")
    expect(page.locator("#answer .label-button")).to_have_text(["1 A is better", "2 B is better"])
    expect(page.locator("#keys-labels")).to_have_text("1 A is better · 2 B is better")
    page.keyboard.press("3")  # no tie here: the key chooses nothing
    page.keyboard.press("Enter")
    expect(page.locator("#hint")).to_have_text("Choose the better candidate first (1 for A, 2 for B).")
    assert page.locator("#item-ref").inner_text() == f"Item {first}"
    page.get_by_role("button", name="B is better").click()  # the mouse works too
    page.keyboard.press("Enter")
    second = _ready(page).removeprefix("Item ")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator("#count")).to_have_text("2")
    expect(page.locator("#pending")).to_have_text("0")
    assert _answers(site, pid) == {first: ["b"], second: ["a"]}


def test_in_random_order_the_key_pressed_means_the_candidate_shown(live_site: tuple[str, Site],
                                                                    open_page: Open) -> None:
    _, site = live_site
    pid = _project(site, _pairs(6, "r"), task_type="pairwise", labels=None)  # random order: the default
    page = open_page("ann", f"/projects/{pid}/annotate")
    problems = _watch(page)
    item = page.locator("#item")
    orders = []
    for _ in range(6):  # the "left answer" is the better one, wherever the page shows it
        n = _ready(page).removeprefix("Item r")
        first = item.locator('.candidate[data-side="a"] .candidate-text').inner_text()
        assert {first, item.locator('.candidate[data-side="b"] .candidate-text').inner_text()} == {
            f"left answer {n}", f"right answer {n}"}
        orders.append(first.startswith("left"))
        page.keyboard.press("1" if orders[-1] else "2")
        page.keyboard.press("Enter")
    expect(page.locator("#count")).to_have_text("6")
    expect(page.locator("#pending")).to_have_text("0")
    assert _answers(site, pid) == {f"r{i}": ["a"] for i in range(6)}  # stored as the items' own A
    assert not problems, problems


def test_image_candidates_show_as_images(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    items = [{"external_id": "img0", "data": {"text": "Which icon is sharper?", "a_image_url": "/static/favicon.svg",
                                              "b_image_url": "/static/favicon.svg?v=2"}}]
    pid = _project(site, items, task_type="pairwise", labels=None, ties=True, random_order=False)
    page = open_page("ann", f"/projects/{pid}/annotate")
    _ready(page)
    a = page.locator('.candidate[data-side="a"] img')
    b = page.locator('.candidate[data-side="b"] img')
    expect(a).to_have_attribute("src", "/static/favicon.svg")
    expect(b).to_have_attribute("src", "/static/favicon.svg?v=2")
    expect(a).to_have_attribute("alt", "Candidate A of item img0")
    page.wait_for_function("Array.from(document.querySelectorAll('.candidate img')).every(i => i.complete && i.naturalWidth > 0)")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    expect(page.locator("#count")).to_have_text("1")
    expect(page.locator("#pending")).to_have_text("0")
    assert _answers(site, pid) == {"img0": ["tie"]}


def test_the_new_project_form_offers_ties_for_pairwise_only(live_site: tuple[str, Site], open_page: Open) -> None:
    base, _ = live_site
    page = open_page("manager", "/")
    page.get_by_text("New project", exact=True).click()
    labels, ties = page.locator("#labels"), page.locator("#ties")
    expect(labels).to_be_visible()
    expect(ties).to_be_hidden()  # not a classification project's choice
    page.fill("#name", "Duel")
    page.select_option("#task_type", "pairwise")
    expect(labels).to_be_hidden()  # a pairwise project's labels are fixed
    expect(ties).to_be_visible()
    page.get_by_label("Ties allowed").check()
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url("**/manage?done=project-created")
    expect(page.locator("#pairwise-settings")).to_have_text(
        "answers: a (A is better), b (B is better), tie · ties allowed · shown in random order")  # ticked at first
    page.goto(base + "/")
    page.get_by_text("New project", exact=True).click()
    page.select_option("#task_type", "pairwise")
    page.select_option("#task_type", "classification")  # changed their mind: the labels come back
    expect(labels).to_be_visible()
    expect(ties).to_be_hidden()


def test_manager_page_shows_the_ranking_and_its_chart(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    sides = [("best", "mid"), ("mid", EVIL), (EVIL, "best"), ("best", EVIL)] * 3
    items = [{"external_id": f"r{k}", "data": {"text": f"p{k}", "a": "x", "b": "y", "a_id": a, "b_id": b}}
             for k, (a, b) in enumerate(sides)]
    pid = _project(site, items, task_type="pairwise", labels=None, ties=True)
    winners = ["a", "a", "b", "a"] * 3
    rows = [{"external_id": f"r{k}", "worker": "w", "answer": w} for k, w in enumerate(winners)]
    label_import.import_annotations(site.engine, site.admin, pid, enumerate(rows, start=1), create_workers=True)
    page = open_page("manager", f"/projects/{pid}/manage")
    problems = _watch(page)
    table = page.locator("#ranking")
    expect(table.locator("tbody th")).to_have_text(["best", "mid", EVIL])  # best first, the id as text
    expect(table.locator("tbody tr").first.locator("td").last).to_have_text("9 / 0 / 0")
    chart = page.locator("#ranking-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("circle.point")).to_have_count(3)
    expect(chart.locator("line.interval-line")).to_have_count(3)
    expect(chart.locator("line.zero")).to_have_count(1)
    ys = [float(c.get_attribute("cy")) for c in chart.locator("circle.point").all()]
    xs = [float(c.get_attribute("cx")) for c in chart.locator("circle.point").all()]
    assert ys == sorted(ys) and xs == sorted(xs, reverse=True)
    expect(page.locator("#ranking-explained")).to_contain_text("P(x beats y) = 1/(1+e^(score_y−score_x))")
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 60  # drawn, not collapsed
    assert page.evaluate("window.pwned") is None
    assert not problems, problems
