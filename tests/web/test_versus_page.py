"""The manager page's head-to-head table for a pairwise project: the best sides as rows and columns, each cell the
API's win probability, shaded, significant cells marked in text, a title with the interval and the direct record,
every id escaped; hidden with fewer than two ranked sides or no answer; never shown to an annotator."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable

import httpx

from tests.web.test_pairwise_pages import EVIL, STRONG, _answer, _items, _pairwise, _text
from tests.web.web_support import Site

Login = Callable[[str], httpx.Client]


def _separated(site: Site) -> int:
    """STRONG beats `middle` and WEAK (EVIL) on every item, `middle` beats WEAK on most: STRONG clearly apart."""
    pid = _pairwise(site)
    pairs = [(STRONG, "middle")] * 6 + [("middle", EVIL)] * 6 + [(EVIL, STRONG)] * 6
    winners = ["a"] * 6 + ["a", "a", "a", "a", "b", "tie"] + ["b"] * 6
    _answer(site, pid, dict(zip(_items(site, pid, pairs), winners, strict=True)))
    return pid


def _section(page: str) -> str:
    return page.split('id="versus-h"')[1].split("</section>")[0]


def test_manager_page_shows_the_head_to_head_table(login: Login, site: Site) -> None:
    pid = _separated(site)
    manager = login("manager")
    api = manager.get(f"/api/v1/projects/{pid}/ranking/head-to-head").json()
    ids = [side["id"] for side in api["sides"]]
    assert ids == [STRONG, "middle", EVIL]
    page = manager.get(f"/projects/{pid}/manage").text
    assert EVIL not in page  # escaped in the table, its heads and the titles
    section = _section(page)
    assert "Head to head" in section and "the best 3 of 3 sides" in section
    heads = re.findall(r'<th scope="col" class="num" title="([^"]*)">', section)
    assert [html_lib.unescape(h) for h in heads] == ids
    rows = re.findall(r'<tr><th scope="row" class="side">(.*?)</th>(.*?)</tr>', section, re.DOTALL)
    assert [html_lib.unescape(name) for name, _ in rows] == ids
    for (_, cells), side in zip(rows, api["sides"], strict=True):
        found = re.findall(r'<td class="num ([^"]*)" title="([^"]*)">(.*?)</td>', cells, re.DOTALL)
        assert len(found) == 3
        by_id = {cell["id"]: cell for cell in side["versus"]}
        for (classes, title, text), other in zip(found, ids, strict=True):
            if other == side["id"]:
                assert classes == "self" and _text(text) == "·"
                continue
            cell = by_id[other]
            p = cell["win_probability"]
            mark = {True: " ▲", False: " ▼", None: ""}[cell["better"]]
            shown = _text(html_lib.unescape(text)).replace("\xa0", " ")
            assert re.fullmatch(r"[<>]?\d+%" + mark, shown), shown
            if 0.005 <= p < 0.995:
                assert shown == f"{100 * p:.0f}%{mark}"
            assert classes == f"w{round(10 * p)}"  # the shade follows the probability
            assert ("<strong>" in text) == (cell["better"] is True)
            title = html_lib.unescape(title)
            assert title.startswith(f"{side['id']} beats {other}: ") and "95% interval" in title
            assert f"{cell['items']} items compared them directly: {cell['wins']} win" in title
    cells = {(side["id"], c["id"]): c for side in api["sides"] for c in side["versus"]}
    assert cells[(STRONG, EVIL)]["better"] is True and cells[(EVIL, STRONG)]["better"] is False
    strong_row = rows[0][1]
    assert "▲" in strong_row and "<strong>" in strong_row
    assert "significantly better" in _text(section)


def test_head_to_head_hidden_with_fewer_than_two_ranked_sides(login: Login, site: Site) -> None:
    manager = login("manager")
    anonymous = _pairwise(site, name="No ids")  # answered items that name no sides: nothing ranked
    _answer(site, anonymous, dict.fromkeys(_items(site, anonymous, [(None, None)] * 3), "a"))
    waiting = _pairwise(site, name="Waiting")  # two sides named, no answer yet: nothing told apart
    _items(site, waiting, [("x", "y")] * 2)
    for pid in (anonymous, waiting):
        page = manager.get(f"/projects/{pid}/manage").text
        assert 'id="ranking-h"' in page and 'id="versus-h"' not in page and 'id="versus"' not in page
    answered = _pairwise(site, name="Answered")  # one answer: two ranked sides, a table
    _answer(site, answered, dict.fromkeys(_items(site, answered, [("x", "y")]), "a"))
    section = _section(manager.get(f"/projects/{answered}/manage").text)
    assert "the best 2 of 2 sides" in section and "1 item compared them directly: 1 win, 0 losses" in section


def test_an_annotator_never_reaches_the_head_to_head(login: Login, site: Site) -> None:
    pid = _separated(site)
    ann = login("ann")
    page = ann.get(f"/projects/{pid}/manage", follow_redirects=True)
    assert 'id="versus"' not in page.text and STRONG not in page.text
    assert ann.get(f"/api/v1/projects/{pid}/ranking/head-to-head").status_code == 403


def test_over_2000_sides_the_intervals_say_they_use_the_diagonal(login: Login, site: Site) -> None:
    pid = _pairwise(site, name="Crowded")
    pairs = [(f"m{2 * k}", f"m{2 * k + 1}") for k in range(1001)]  # 2002 sides: past the dense covariance
    pairs.append(("m0", "m2"))
    _answer(site, pid, dict.fromkeys(_items(site, pid, pairs), "a"))
    manager = login("manager")
    api = manager.get(f"/api/v1/projects/{pid}/ranking/head-to-head", params={"top": 3}).json()
    assert api["exact_covariance"] is False and api["ranked"] == 2002
    assert len(api["sides"]) == 3 and api["sides"][0]["id"] == "m0"  # two wins: the best
    assert all(c["lower"] < c["win_probability"] < c["upper"] for s in api["sides"] for c in s["versus"])
    section = _section(manager.get(f"/projects/{pid}/manage").text)
    assert "Over 2000 sides are ranked: these intervals use each score's variance alone" in section
