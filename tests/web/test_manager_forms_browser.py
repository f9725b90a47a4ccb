"""End to end in real headless Chromium: a manager creates a project, imports a JSONL file and adds an annotator
through the forms; the annotator then sees the project and labels its first item.

Same setup as test_browser.py: uvicorn in a thread (`live_site`), Debian's /usr/bin/chromium via Playwright.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.web.web_support import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Site

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")


def test_manager_sets_up_a_project_through_the_forms(live_site: tuple[str, Site], tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
    expect = sync_api.expect
    base, site = live_site
    items = tmp_path / "birds.jsonl"
    items.write_text("".join(json.dumps({"external_id": f"b{i}", "data": {"text": f"bird {i}"}}) + "\n"
                             for i in range(3)))
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            problems: list[str] = []

            def watch(page: "sync_api.Page") -> "sync_api.Page":
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
                return page

            def log_in(page: "sync_api.Page", username: str) -> None:
                page.goto(base + "/login")
                page.fill("#username", username)
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(base + "/")

            manager = watch(browser.new_context(viewport={"width": 1200, "height": 900}).new_page())
            log_in(manager, "manager")
            manager.get_by_text("New project", exact=True).click()  # the manager has a project: the form is folded
            manager.fill("#name", "Birds")
            manager.select_option("#task_type", "classification")
            manager.fill("#labels", "crow\nfinch\nwren")
            manager.fill("#overlap", "1")
            manager.fill("#guidelines", "Pick the **bird**.")
            manager.get_by_role("button", name="Create project").click()
            manager.wait_for_url("**/manage?done=project-created")
            expect(manager.locator("h1")).to_have_text("Birds")
            expect(manager.locator("#notice")).to_contain_text("Project created")

            manager.set_input_files("#file", str(items))
            manager.get_by_role("button", name="Import", exact=True).click()
            expect(manager.locator("#notice")).to_have_text("Imported: 3 created, 0 updated, 0 unchanged.")
            expect(manager.locator("#progress-text")).to_contain_text("0 of 3 items complete")

            manager.fill("#username", "outsider")
            manager.select_option("#role", "annotator")
            manager.get_by_role("button", name="Save member").click()
            expect(manager.locator("#notice")).to_have_text("Member saved.")
            expect(manager.locator("#members")).to_contain_text("outsider")
            manager.screenshot(path=str(tmp_path / "manage-forms.png"), full_page=True)

            annotator = watch(browser.new_context(viewport={"width": 1200, "height": 800}).new_page())
            log_in(annotator, "outsider")
            card = annotator.locator(".project-card", has_text="Birds")
            expect(card).to_contain_text("you are annotator")
            card.get_by_role("link", name="Annotate", exact=True).click()
            expect(annotator.locator("#workspace")).to_have_attribute("data-state", "ready")
            expect(annotator.locator(".label-button[data-label=finch]")).to_be_visible()
            assert not problems, problems
        finally:
            browser.close()


def test_the_forms_fit_a_phone(live_site: tuple[str, Site]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
    base, site = live_site
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for user, path in (("outsider", "/"), ("manager", f"/projects/{site.project_id}/manage")):
                page = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True).new_page()
                page.goto(base + "/login")
                page.fill("#username", user)
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(base + "/")
                page.goto(base + path)
                form = page.locator("form.stacked").first
                sync_api.expect(form).to_be_visible()  # the outsider's new-project form is open: no projects yet
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 375, f"{path} is {width} px wide in a 375 px window"
        finally:
            browser.close()
