"""The numeric workspace in real headless Chromium: a number typed and entered is sent as a JSON number; a value
outside the project's range never leaves the page; digits type into the box (no shortcut fires) while Enter,
Esc and S keep their meaning; an answer the server refuses says why."""

from __future__ import annotations

from typing import Any

from tests.web.test_workspace_browser import Open, _answers, _project, _ready, _texts, expect, open_page
from tests.web.web_support import Site
from truthline.services import projects

__all__ = ["open_page"]  # the fixture, imported so pytest finds it here

RANGE = {"min": 0, "max": 100}


def _numeric(site: Site, n: int, prefix: str) -> int:
    return _project(site, _texts(n, prefix), task_type="numeric", labels=None, range=RANGE)


def _submitted(page: Any) -> list[Any]:
    """Every answer the page sends, as the JSON it sent (collected from now on)."""
    sent: list[Any] = []
    page.on("request", lambda r: sent.append(r.post_data_json["answer"]) if r.url.endswith("/submit") else None)
    return sent


def test_a_typed_number_is_sent_as_a_number_on_enter(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    pid = _numeric(site, 3, "n")
    page = open_page("ann", f"/projects/{pid}/annotate")
    sent = _submitted(page)
    box = page.locator("#number-answer")
    first = _ready(page)
    expect(box).to_be_focused()  # the annotator types straight away
    expect(page.locator("#number-range")).to_have_text("A number from 0 to 100")
    page.keyboard.type("12")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # a double Enter answers nothing more
    second = _ready(page)
    assert second != first
    expect(box).to_be_focused()  # each new item: an empty box, focused
    expect(box).to_have_value("")
    page.keyboard.type("2.5")
    page.keyboard.press("Enter")
    expect(page.locator("#count")).to_have_text("2")
    expect(page.locator("#pending")).to_have_text("0")
    assert sent == [12, 2.5] and isinstance(sent[0], int)  # JSON numbers, not the box's text
    answers = _answers(site, pid)
    assert answers == {first.removeprefix("Item "): [12], second.removeprefix("Item "): [2.5]}


def test_a_value_outside_the_range_is_refused_on_the_page(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    pid = _numeric(site, 2, "r")
    page = open_page("ann", f"/projects/{pid}/annotate")
    sent = _submitted(page)
    box, hint = page.locator("#number-answer"), page.locator("#hint")
    first = _ready(page)
    for typed, says in (("150", "from 0 to 100 (the project's range); 150 is outside it"),
                        ("-3", "-3 is outside it"), ("", "Type a number"), ("1e", "not a number")):
        box.fill("")
        page.keyboard.type(typed)
        page.keyboard.press("Enter")
        expect(hint).to_contain_text(says)
        expect(box).to_have_attribute("aria-invalid", "true")
        assert page.locator("#item-ref").inner_text() == first  # still on the same item
    page.keyboard.press("Backspace")
    expect(hint).to_have_text("")  # typing again clears the message
    box.fill("100")  # the range's ends are in it
    page.keyboard.press("Enter")
    expect(page.locator("#count")).to_have_text("1")
    assert sent == [100]
    assert _answers(site, pid) == {first.removeprefix("Item "): [100]}


def test_keys_typed_in_the_box_type_there_and_esc_gives_the_shortcuts_back(live_site: tuple[str, Site],
                                                                             open_page: Open) -> None:
    _, site = live_site
    pid = _numeric(site, 4, "k")
    page = open_page("ann", f"/projects/{pid}/annotate")
    sent = _submitted(page)
    box, skipped = page.locator("#number-answer"), page.locator("#skipped")
    first = _ready(page)
    page.keyboard.type("15")
    expect(box).to_have_value("15")
    page.keyboard.press("s")  # a number is typed: S must not throw it away
    expect(page.locator("#hint")).to_contain_text("clear the box (or press Esc), then press S")
    expect(skipped).to_have_text("0")
    expect(box).to_have_value("15")
    assert page.locator("#item-ref").inner_text() == first
    page.keyboard.press("Escape")  # leaves the box: S is a shortcut again
    expect(box).not_to_be_focused()
    page.keyboard.press("s")
    second = _ready(page)
    expect(skipped).to_have_text("1")
    expect(box).to_be_focused()
    page.keyboard.press("s")  # an empty box: nothing to lose, S skips
    third = _ready(page)
    expect(skipped).to_have_text("2")
    page.keyboard.press("Escape")
    page.keyboard.type("7")  # a digit typed outside the box lands in it
    expect(box).to_be_focused()
    expect(box).to_have_value("7")
    page.keyboard.press("Enter")
    expect(page.locator("#count")).to_have_text("1")
    assert len({first, second, third}) == 3 and sent == [7]
    assert _answers(site, pid) == {third.removeprefix("Item "): [7]}


def test_an_answer_the_server_refuses_shows_its_reason(live_site: tuple[str, Site], open_page: Open) -> None:
    """The range narrowed while the page was open: the page's own check passes, the server's 422 is shown."""
    _, site = live_site
    pid = _numeric(site, 3, "v")
    page = open_page("ann", f"/projects/{pid}/annotate")
    _ready(page)
    projects.update_project(site.engine, site.manager, pid, {"range": {"min": 0, "max": 10}})
    page.keyboard.type("50")
    page.keyboard.press("Enter")
    alert = page.locator("#errors .alert").first
    expect(alert).to_contain_text("was not saved: it must be from 0 to 10 (the project's range), got 50")
    assert not alert.get_by_role("button", name="Retry").count()  # sending 50 again cannot help
    expect(page.locator("#count")).to_have_text("0")
    assert _answers(site, pid) == {}


def test_the_box_has_focus_in_a_tab_that_takes_the_work_over(live_site: tuple[str, Site], open_page: Open) -> None:
    """The item shows in a tab whose task area was hidden (open elsewhere): its box must still get the focus."""
    _, site = live_site
    pid = _numeric(site, 3, "t")
    first = open_page("ann", f"/projects/{pid}/annotate")
    _ready(first)
    second = first.context.new_page()
    second.goto(first.url)
    expect(second.locator("#workspace")).to_have_attribute("data-state", "elsewhere")
    second.get_by_role("button", name="Work here instead").click()
    shown = _ready(second)
    expect(second.locator("#number-answer")).to_be_focused()
    second.keyboard.type("8")
    second.keyboard.press("Enter")
    expect(second.locator("#count")).to_have_text("1")
    assert _answers(site, pid) == {shown.removeprefix("Item "): [8]}
