"""End to end in real headless Chromium: log in through the form, label with number keys + Enter, skip with S.

A real uvicorn server (in a thread: the `live_site` fixture) on a fresh SQLite database; Playwright's sync API
drives Debian's /usr/bin/chromium (never a downloaded browser). Skipped, saying why, where chromium or playwright is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from truthline.services import tasks

from tests.web.web_support import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Site

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")


def test_annotator_labels_and_skips_from_the_keyboard(live_site: tuple[str, Site], tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
    base, site = live_site
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            console_errors: list[str] = []
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: console_errors.append(str(e)))
            page.on("response", lambda r: console_errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            leased: list[Any] = []  # every 200 answer to POST .../next
            page.on("response", lambda r: leased.append(r) if r.url.endswith("/next") and r.status == 200 else None)

            # Log in through the form; the home page links to the workspace.
            page.goto(base + "/")
            assert "/login" in page.url
            page.fill("#username", "ann")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            page.get_by_role("link", name="Annotate", exact=True).click()
            page.wait_for_url(f"**/projects/{site.project_id}/annotate")

            expect = sync_api.expect
            seen: list[str] = []

            def current_ref() -> str:
                expect(page.locator("#workspace")).to_have_attribute("data-state", "ready")
                ref = page.locator("#item-ref").inner_text()
                assert ref not in seen, f"{ref} shown twice"
                seen.append(ref)
                return ref

            # Item 1: key 1 selects "cat" (visibly pressed); Enter submits.
            current_ref()
            page.keyboard.press("1")
            expect(page.locator(".label-button[data-label=cat]")).to_have_attribute("aria-pressed", "true")
            page.screenshot(path=str(tmp_path / "workspace.png"))
            page.keyboard.press("Enter")
            # Item 2: Enter with nothing chosen does nothing but say what to do; then 2 + Enter = "dog".
            current_ref()
            page.keyboard.press("Enter")
            expect(page.locator("#hint")).to_contain_text("Choose a label first")
            page.keyboard.press("2")
            page.keyboard.press("Enter")
            # Item 3: S skips. Item 4: 3 + Enter = "bird".
            current_ref()
            page.keyboard.press("s")
            current_ref()
            page.keyboard.press("3")
            page.keyboard.press("Enter")

            expect(page.locator("#done")).to_be_visible()
            expect(page.locator("#count")).to_have_text("3")
            expect(page.locator("#skipped")).to_have_text("1")
            expect(page.locator("#pending")).to_have_text("0")
            assert not page.locator("#errors .alert").count(), page.locator("#errors").inner_text()
            page.screenshot(path=str(tmp_path / "workspace-done.png"))
            assert not console_errors, console_errors
            # One lease was held ahead all along: 4 items, 4 distinct leases, and the server was never asked twice
            # for a lease the page already held (that would be a duplicate lease id).
            lease_ids = [r.json()["lease_id"] for r in leased]
            assert len(lease_ids) == 4 and len(set(lease_ids)) == 4, lease_ids

            # The manager sees ann's work on the project page (a separate browser context = separate cookies).
            manager = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
            manager.goto(base + "/login")
            manager.fill("#username", "manager")
            manager.fill("#password", PASSWORD)
            manager.click("button[type=submit]")
            manager.wait_for_url(base + "/")
            manager.get_by_role("link", name="Manage", exact=True).click()
            manager.wait_for_url(f"**/projects/{site.project_id}/manage")
            expect(manager.locator("#workers")).to_contain_text("ann")
            expect(manager.locator("#progress-text")).to_contain_text("3 of 4 items complete")
            manager.screenshot(path=str(tmp_path / "manage.png"), full_page=True)
        finally:
            browser.close()

    # The answers are in the database, each once, with active time measured in the browser.
    rows = _annotations(site)
    assert sorted(r["answer"] for r in rows) == ["bird", "cat", "dog"]
    assert all(r["user"] == "ann" and r["active_ms"] > 0 for r in rows)
    assert len({r["external_id"] for r in rows}) == 3
    # Nothing is left for ann: the skipped item is not offered again.
    assert tasks.next_task(site.engine, site.annotator, site.project_id) is None


def _annotations(site: Site) -> list[dict[str, Any]]:
    """Every raw annotation of the project, read through the export service (what a manager downloads)."""
    import io
    import json

    from truthline.services import exporting

    out = io.BytesIO()
    exporting.export(site.engine, site.manager, site.project_id, "jsonl", out, method="mv")
    rows = []
    for line in out.getvalue().decode().splitlines():
        item = json.loads(line)
        for a in item["annotations"]:
            rows.append({"external_id": item["external_id"], "answer": a["answer"], "user": a["worker"],
                         "active_ms": a["active_ms"]})
    return rows
