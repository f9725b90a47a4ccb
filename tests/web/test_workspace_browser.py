"""The annotator workspace and the manager page under the inputs real people give, in real headless Chromium.

Double clicks, a prefetched lease near its end, two tabs, a clicked <summary>, long and right-to-left text,
a phone-sized window, a paused project, a broken image, dark mode. Each test seeds its own project into
the `live_site` database, then drives the real server through Debian's /usr/bin/chromium.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from truthline.services import importing, label_import, projects
from truthline.services.exporting import export

from tests.web.web_support import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Site

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
expect = sync_api.expect

Open = Callable[..., Any]  # open_page(user, path, **context options) -> a logged-in page at path


@pytest.fixture
def open_page(live_site: tuple[str, Site]) -> Iterator[Open]:
    """Log `user` in (a fresh browser context unless `context` is given) and go to `path`."""
    base, _ = live_site
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

        def open_(user: str, path: str, context: Any = None, **options: Any) -> Any:
            if context is None:
                context = browser.new_context(**{"viewport": {"width": 1200, "height": 800}, **options})
                login = context.new_page()
                login.goto(base + "/login")
                login.fill("#username", user)
                login.fill("#password", PASSWORD)
                login.click("button[type=submit]")
                login.wait_for_url(base + "/")
                login.close()
            page = context.new_page()
            page.goto(base + path)
            return page

        try:
            yield open_
        finally:
            browser.close()


def _project(site: Site, items: list[dict[str, Any]], **spec: Any) -> int:
    """A project of `items` with ann as its annotator."""
    spec = {"name": "P", "task_type": "classification", "labels": ["cat", "dog", "bird"], "overlap": 1, **spec}
    pid = projects.create_project(site.engine, site.manager, spec).id
    projects.add_member(site.engine, site.manager, pid, "ann", "annotator")
    importing.import_items(site.engine, site.manager, pid, list(enumerate(items, start=1)))
    return pid


def _texts(n: int, prefix: str = "t") -> list[dict[str, Any]]:
    return [{"external_id": f"{prefix}{i}", "data": {"text": f"text {i}"}} for i in range(n)]


def _answers(site: Site, pid: int) -> dict[str, list[Any]]:
    """external_id -> every answer given to it, read through the export service."""
    import io
    import json

    out = io.BytesIO()
    export(site.engine, site.manager, pid, "jsonl", out, method="mv")
    items = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    return {it["external_id"]: [a["answer"] for a in it["annotations"]] for it in items if it["annotations"]}


def _ready(page: Any) -> str:
    expect(page.locator("#workspace")).to_have_attribute("data-state", "ready")
    return str(page.locator("#item-ref").inner_text())


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    window = page.viewport_size["width"]  # not innerWidth: a phone widens that to fit what overflows
    assert width <= window, f"page is {width} px wide in a {window} px window"


def test_double_click_and_double_enter_answer_one_item(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    pid = _project(site, _texts(6, "q"), task_type="multilabel", labels=["x", "y", "z"])
    page = open_page("ann", f"/projects/{pid}/annotate")
    first = _ready(page)
    page.keyboard.press("1")
    page.wait_for_timeout(300)  # the prefetch lands: the next item shows at once on submit
    page.dblclick("#submit")
    second = _ready(page)
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    third = _ready(page)
    page.dblclick("#skip")
    fourth = _ready(page)
    assert len({first, second, third, fourth}) == 4
    expect(page.locator("#count")).to_have_text("2")
    expect(page.locator("#skipped")).to_have_text("1")
    expect(page.locator("#pending")).to_have_text("0")
    # one answer per deliberate input: nothing for the items that appeared under the second click or Enter
    assert _answers(site, pid) == {"q0": [["x"]], "q1": [["y"]]}


def test_a_prefetched_lease_near_its_end_is_renewed_not_resumed(live_site: tuple[str, Site], open_page: Open) -> None:
    base, site = live_site
    pid = _project(site, _texts(4, "s"), lease_seconds=20)
    leases: list[dict[str, Any]] = []  # every lease the page was given, in order
    page = open_page("ann", "/")
    page.on("response", lambda r: leases.append(r.json()) if r.url.endswith("/next") and r.status == 200 else None)
    page.goto(f"{base}/projects/{pid}/annotate")
    _ready(page)
    loaded = time.monotonic()  # the item ahead was leased now, for 20 s
    page.wait_for_timeout(6600)  # so it has under 15 s left (14 s, as the page's clock reads whole seconds)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    second = _ready(page)
    # wait out the lease the item ahead had: an answer on it would now be refused
    page.wait_for_timeout((loaded + 21 - time.monotonic()) * 1000)
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator("#pending")).to_have_text("0")
    assert not page.locator("#errors .alert").count(), page.locator("#errors").inner_text()
    expect(page.locator("#count")).to_have_text("2")
    assert _answers(site, pid) == {"s0": ["cat"], second.removeprefix("Item "): ["dog"]}
    prefetched, shown = leases[1], leases[2]  # leases[0] was the first item's
    assert shown["item"]["external_id"] == prefetched["item"]["external_id"]  # the same item, on a fresh lease
    assert shown["lease_id"] != prefetched["lease_id"]


def test_an_item_on_screen_keeps_its_lease_past_its_first_deadline(live_site: tuple[str, Site],
                                                                    open_page: Open) -> None:
    """A hard item takes longer than the lease: the page renews it while in view, and the answer counts."""
    _, site = live_site
    pid = _project(site, _texts(3, "h"), lease_seconds=3)
    page = open_page("ann", f"/projects/{pid}/annotate")
    renewals: list[int] = []
    page.on("response", lambda r: renewals.append(r.status) if r.url.endswith("/renew") else None)
    first = _ready(page)
    page.wait_for_timeout(5000)  # past the 3 s lease
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator("#pending")).to_have_text("0")
    assert not page.locator("#errors .alert").count(), page.locator("#errors").inner_text()
    assert renewals and set(renewals) == {200}
    assert _answers(site, pid)[first.removeprefix("Item ")] == ["dog"]


def test_an_answer_on_an_expired_lease_says_so_plainly_and_work_goes_on(live_site: tuple[str, Site],
                                                                        open_page: Open) -> None:
    _, site = live_site
    pid = _project(site, _texts(6, "e"), lease_seconds=2)
    page = open_page("ann", f"/projects/{pid}/annotate")
    _ready(page)
    page.wait_for_timeout(9000)  # longer than the lease and its 3 renewals allow (a page left open)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    alert = page.locator("#errors .alert")
    expect(alert).to_contain_text("open longer than the time allowed")
    text = alert.inner_text()
    assert "lease" not in text and "call next" not in text, text  # the annotator's words, not the API's
    assert not alert.get_by_role("button", name="Retry").count()  # retrying cannot help
    _ready(page)  # a fresh item, straight away
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator("#count")).to_have_text("1")
    assert list(_answers(site, pid).values()) == [["dog"]]


def test_a_second_tab_waits_until_the_annotator_chooses_it(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    pid = _project(site, _texts(6, "w"))
    path = f"/projects/{pid}/annotate"
    first = open_page("ann", path)
    shown_in_first = _ready(first)
    asked: list[str] = []
    second = first.context.new_page()
    second.on("request", lambda r: asked.append(r.url) if "/api/v1/" in r.url else None)
    second.goto(first.url)
    expect(second.locator("#workspace")).to_have_attribute("data-state", "elsewhere")
    expect(second.locator("#elsewhere")).to_contain_text("open in another tab")
    assert not asked  # the waiting tab holds no lease
    first.keyboard.press("1")
    first.keyboard.press("Enter")
    shown_in_first = _ready(first)

    second.get_by_role("button", name="Work here instead").click()
    assert _ready(second) == shown_in_first  # the annotator's place moves with them
    expect(first.locator("#workspace")).to_have_attribute("data-state", "elsewhere")
    first.keyboard.press("3")
    first.keyboard.press("Enter")  # the tab that stepped aside answers nothing
    second.keyboard.press("2")
    second.keyboard.press("Enter")
    _ready(second)
    expect(second.locator("#count")).to_have_text("1")
    assert not second.locator("#errors .alert").count(), second.locator("#errors").inner_text()
    assert sorted(_answers(site, pid).values()) == [["cat"], ["dog"]]


def test_shortcuts_work_after_clicking_the_guidelines(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    pid = _project(site, _texts(4, "g"), guidelines="# Pick the animal")
    page = open_page("ann", f"/projects/{pid}/annotate")
    first = _ready(page)
    page.click(".guidelines summary")
    assert not page.evaluate("document.querySelector('.guidelines details').open")
    page.keyboard.press("1")
    expect(page.locator(".label-button[data-label=cat]")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Enter")
    assert _ready(page) != first
    page.keyboard.press("s")
    expect(page.locator("#skipped")).to_have_text("1")
    # reached with the keyboard, the summary keeps Enter: it unfolds the guidelines and submits nothing
    _ready(page)
    page.focus(".guidelines summary")
    page.keyboard.press("Enter")
    assert page.evaluate("document.querySelector('.guidelines details').open")
    expect(page.locator("#count")).to_have_text("1")


def test_long_text_and_field_values_wrap_inside_the_page(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    items = [{"external_id": "unbroken", "data": {"text": "x" * 3000}},
             {"external_id": "fields", "data": {"text": "with fields", "source": "web",
                                                "url": "https://example.org/" + "p" * 300, "meta": {"tags": ["a"] * 80}}}]
    pid = _project(site, items)
    page = open_page("ann", f"/projects/{pid}/annotate")
    for _ in items:
        _ready(page)
        _no_sideways_scroll(page)
        if page.locator(".item-fields").count():
            lefts = page.evaluate("[...document.querySelectorAll('.item-fields dt')].map(d => d.getBoundingClientRect().left)")
            assert min(lefts) >= 0, lefts  # every field name on screen
        page.keyboard.press("1")
        page.keyboard.press("Enter")
    expect(page.locator("#done")).to_be_visible()


def test_a_long_item_scrolls_inside_its_box_and_submit_stays_in_view(live_site: tuple[str, Site],
                                                                     open_page: Open) -> None:
    """An 11,000-character item put Submit at y = 3,940 px: a mouse user scrolled past it for every item."""
    _, site = live_site
    words = " ".join(f"word{i}" for i in range(1500))  # about 11k characters, in lines
    pid = _project(site, [{"external_id": "long", "data": {"text": words}}])
    page = open_page("ann", f"/projects/{pid}/annotate")
    _ready(page)
    bottom = page.locator("#submit").evaluate("e => e.getBoundingClientRect().bottom")
    assert bottom <= 800, f"Submit's bottom edge is at {bottom} px in an 800 px window"
    box = page.locator("#item").evaluate("e => [e.scrollHeight, e.clientHeight, e.scrollTop]")
    assert box[0] > box[1] and box[2] == 0, box  # the text scrolls in its box, from its first line
    first = page.locator(".item-text").evaluate("e => e.getBoundingClientRect().top")
    top = page.locator("#item").evaluate("e => e.getBoundingClientRect().top")
    assert first >= top, (first, top)  # its start is not cut off above the box
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator("#done")).to_be_visible()


def test_a_long_label_leaves_skip_and_submit_on_a_phone_screen(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    pid = _project(site, _texts(2, "l"), labels=["short", "A" * 65])
    page = open_page("ann", f"/projects/{pid}/annotate", viewport={"width": 375, "height": 740})
    _ready(page)
    _no_sideways_scroll(page)
    for sel in ("#skip", "#submit", ".label-button >> nth=1"):
        right = page.locator(sel).evaluate("e => e.getBoundingClientRect().right")
        assert right <= 375, (sel, right)


def _pets(site: Site) -> int:
    """A project five workers labelled: on cat items two of five say dog (heat-map cells of 60% and 100%)."""
    names = ["cat", "dog", "bird"]
    pid = _project(site, [{"external_id": f"p{i}", "data": {"text": f"p{i}"}} for i in range(30)], labels=names, overlap=5)
    rows = [{"external_id": f"p{i}", "worker": f"worker-with-a-long-name-{w}",
             "answer": "dog" if i % 3 == 0 and w in (i % 5, (i + 1) % 5) else names[i % 3]}
            for i in range(30) for w in range(5)]
    label_import.import_annotations(site.engine, site.admin, pid, enumerate(rows, start=1), create_workers=True)
    return pid


def test_manager_page_fits_a_phone_and_its_chart_text_is_legible(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    pid = _pets(site)
    page = open_page("manager", f"/projects/{pid}/manage?method=mv", viewport={"width": 375, "height": 740},
                     is_mobile=True, has_touch=True)
    expect(page.locator("#workers")).to_be_visible()
    _no_sideways_scroll(page)
    heights = page.evaluate("[...document.querySelectorAll('[aria-labelledby=dist-h] svg text')].map(t => t.getBoundingClientRect().height)")
    assert heights and min(heights) >= 10, heights  # 12 px text drawn at under half size was 6 px tall


def test_right_to_left_text_reads_right_to_left(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    pid = _project(site, [{"external_id": "rtl", "data": {"text": "هذا المنتج رائع جدا! أنصح به.",
                                                          "note": "המוצר הזה מצוין", "source": "web"}}])
    page = open_page("ann", f"/projects/{pid}/annotate")
    _ready(page)
    assert page.evaluate("getComputedStyle(document.querySelector('.item-text')).direction") == "rtl"
    dirs = page.evaluate("[...document.querySelectorAll('.item-fields dd')].map(d => getComputedStyle(d).direction)")
    assert dirs == ["rtl", "ltr"]  # each value by its own script


def test_an_answer_refused_while_paused_can_be_retried(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    pid = _project(site, _texts(4, "z"))
    page = open_page("ann", f"/projects/{pid}/annotate")
    first = _ready(page)
    projects.update_project(site.engine, site.manager, pid, {"status": "paused"})
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    alert = page.locator("#errors .alert").first
    expect(alert).to_contain_text("paused")
    assert "a manager can set its status" not in alert.inner_text()
    projects.update_project(site.engine, site.manager, pid, {"status": "active"})
    retry = alert.get_by_role("button", name="Retry")
    expect(retry).to_be_visible()
    retry.click()
    expect(page.locator("#count")).to_have_text("1")
    assert _answers(site, pid) == {first.removeprefix("Item "): ["cat"]}


def test_a_broken_image_says_it_failed_to_load(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    pid = _project(site, [{"external_id": "img", "data": {"image_url": "/static/no-such-image.png", "alt": "a cat"}}])
    page = open_page("ann", f"/projects/{pid}/annotate")
    _ready(page)
    expect(page.locator("#item")).to_contain_text("image failed to load")
    page.keyboard.press("s")  # the annotator can still move on
    expect(page.locator("#skipped")).to_have_text("1")


CONTRAST = """() => {
  const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = c => { const [r, g, b] = c.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                     return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const card = rgb(getComputedStyle(document.querySelector('#confusion-matrix').closest('.card')).backgroundColor);
  const cells = [...document.querySelectorAll('#confusion-matrix rect.heat')];
  return [...document.querySelectorAll('#confusion-matrix text:not(.muted-text)')].filter(t => /^\\d+$/.test(t.textContent))
    .map(t => { const x = +t.getAttribute('x'), y = +t.getAttribute('y');
      const cell = cells.find(r => +r.getAttribute('x') < x && x < +r.getAttribute('x') + +r.getAttribute('width')
                                   && +r.getAttribute('y') < y && y < +r.getAttribute('y') + +r.getAttribute('height'));
      const a = +cell.getAttribute('fill-opacity'), fill = rgb(getComputedStyle(cell).fill);
      const bg = card.map((c, i) => c * (1 - a) + fill[i] * a);
      const [hi, lo] = [lum(rgb(getComputedStyle(t).fill)), lum(bg)].sort((p, q) => q - p);
      return [t.textContent, Math.round(100 * (hi + 0.05) / (lo + 0.05)) / 100]; });
}"""


def test_heat_map_numbers_are_legible_in_dark_mode(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    pid = _pets(site)
    page = open_page("manager", f"/projects/{pid}/manage?method=mv", color_scheme="dark")
    ratios = page.evaluate(CONTRAST)
    assert {n for n, _ in ratios} >= {"60", "40", "100"}, ratios
    assert min(r for _, r in ratios) >= 4.5, ratios
    light = open_page("manager", f"/projects/{pid}/manage?method=mv", context=page.context)
    light.emulate_media(color_scheme="light")
    assert min(r for _, r in light.evaluate(CONTRAST)) >= 4.0  # white on a 60% cell was 2.6:1


def test_error_messages_name_no_api_fields(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    pid = _project(site, _texts(2, "m"))
    page = open_page("ann", f"/projects/{pid}/annotate")
    _ready(page)
    projects.update_project(site.engine, site.manager, pid, {"status": "archived"})
    page.keyboard.press("1")
    page.keyboard.press("Enter")  # refused: the project no longer takes answers
    alert = page.locator("#errors .alert").first
    expect(alert).to_contain_text("archived")
    assert not re.search(r"\(\w+_id\)|call next|lease \d", alert.inner_text()), alert.inner_text()


def test_a_rating_is_given_by_its_value_key(live_site: tuple[str, Site], open_page: Open) -> None:
    """On a 0-4 scale the key 0 means the value 0 (not the first button's position) and 4 means 4."""
    _, site = live_site
    pid = _project(site, _texts(2, "s"), task_type="rating", labels=None, scale={"min": 0, "max": 4})
    page = open_page("ann", f"/projects/{pid}/annotate")
    expect(page.locator("#keys-labels")).to_contain_text("choose a value")
    first = _ready(page)
    expect(page.locator(".label-button")).to_have_text(["0 0", "1 1", "2 2", "3 3", "4 4"])
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    second = _ready(page)
    page.keyboard.press("0")
    page.keyboard.press("Enter")
    expect(page.locator("#count")).to_have_text("2")
    assert _answers(site, pid) == {first.removeprefix("Item "): ["4"], second.removeprefix("Item "): ["0"]}


def test_a_0_to_10_rating_is_typed_by_value_not_by_position(live_site: tuple[str, Site], open_page: Open) -> None:
    """Eleven values: by position the 5 key sat on the value 4 (and 1 on 0); digit values are their own keys,
    10 is clicked. A scale by halves keys its whole values only."""
    _, site = live_site
    pid = _project(site, _texts(1, "e"), task_type="rating", labels=None, scale={"min": 0, "max": 10})
    page = open_page("ann", f"/projects/{pid}/annotate")
    first = _ready(page)
    expect(page.locator(".label-button").first).to_have_text("0 0")
    expect(page.locator(".label-button").last).to_have_text("10")  # no key
    page.keyboard.press("5")
    page.keyboard.press("Enter")
    expect(page.locator("#count")).to_have_text("1")
    assert _answers(site, pid) == {first.removeprefix("Item "): ["5"]}
    halves = _project(site, _texts(1, "h"), name="Halves", task_type="rating", labels=None,
                      scale={"min": 0, "max": 2, "step": 0.5})
    page = open_page("ann", f"/projects/{halves}/annotate")
    _ready(page)
    expect(page.locator(".label-button")).to_have_text(["0 0", "0.5", "1 1", "1.5", "2 2"])
