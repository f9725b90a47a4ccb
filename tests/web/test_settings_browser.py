"""The manager page's settings form in real headless Chromium: folded until opened, it saves what is typed (a
browser's CRLF guidelines come back as stored, with LF), and a range that a stored answer falls outside is
refused next to the range boxes with the form left open and the typed values kept."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.test_workspace_browser import Open, _no_sideways_scroll, _project, _texts, expect, open_page
from tests.web.web_support import CHROMIUM, Site
from truthline.services import label_import, projects

__all__ = ["open_page"]  # the fixture, imported so pytest finds it here
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")

GUIDELINES = "# Count\n\nCount the **birds**.\nNot the nests."


def _state(site: Site, pid: int) -> tuple[Any, ...]:
    p = projects.get_project(site.engine, site.admin, pid)
    return p.overlap, p.guidelines, p.status, p.pay_cents, p.config


def test_a_manager_changes_settings_in_the_browser(live_site: tuple[str, Site], open_page: Open) -> None:
    _, site = live_site
    pid = _project(site, _texts(3, "n"), task_type="numeric", labels=None, range={"min": 0, "max": 100},
                   guidelines=GUIDELINES)
    rows = [{"external_id": "n0", "worker": "w1", "answer": 40.5}]
    label_import.import_annotations(site.engine, site.admin, pid, enumerate(rows, start=1), create_workers=True)
    page = open_page("manager", f"/projects/{pid}/manage")
    overlap = page.locator("#overlap")
    expect(overlap).to_be_hidden()  # folded under the settings it changes
    page.get_by_text("Change settings").click()
    expect(overlap).to_have_value("1")
    expect(page.locator("#range_max")).to_have_value("100")
    expect(page.locator("#guidelines")).to_have_value(GUIDELINES)

    # narrowing past the stored 40.5 is refused by the range boxes; nothing changes
    before = _state(site, pid)
    overlap.fill("3")
    page.locator("#range_max").fill("20")
    page.get_by_role("button", name="Save settings").click()
    error = page.locator("#range-error")
    expect(error).to_contain_text("1 labels lie outside the new range (e.g. 40.5)")
    expect(page.locator("#range_max")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#overlap")).to_be_visible()  # the form stays open, the typed values kept
    expect(page.locator("#overlap")).to_have_value("3")
    expect(page.locator("#range_max")).to_have_value("20")
    assert _state(site, pid) == before

    # widened, with a tolerance and a pause: saved, and the page says so
    page.locator("#range_max").fill("")
    page.locator("#tolerance").fill("0.5")
    page.locator("#pay_cents").fill("12")
    page.locator("#status").select_option("paused")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#notice")).to_have_text("Settings saved.")
    expect(page.locator("#numeric-settings")).to_have_text("values: at least 0 · tolerance 0.5")
    project = projects.get_project(site.engine, site.admin, pid)
    assert (project.overlap, project.status, project.pay_cents) == (3, "paused", 12)
    assert (project.range, project.tolerance) == ({"min": 0, "max": None}, 0.5)
    assert project.guidelines == GUIDELINES  # the textarea's CRLF lines, stored as they were
    assert page.url.endswith("#settings-h")

    # a phone's width: the open form does not widen the page
    page.set_viewport_size({"width": 380, "height": 800})
    page.get_by_text("Change settings").click()
    expect(page.locator("#overlap")).to_be_visible()
    _no_sideways_scroll(page)
