"""`extranet serve` in a real headless Chromium: live reload, build errors in the page, CSP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from serve_support import KICKOFF, running, site, write  # noqa: F401

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.console_messages = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.console_messages.append(m))  # type: ignore[attr-defined]
    yield page
    context.close()


def csp_messages(page: Page) -> list[str]:
    """Console messages reporting a Content-Security-Policy violation."""
    msgs: list[ConsoleMessage] = page.console_messages  # type: ignore[attr-defined]
    return [m.text for m in msgs if "Content Security Policy" in m.text]


def test_markdown_edit_updates_the_open_page_within_2_s(site: Path, page: Page) -> None:
    with running(site) as preview:
        page.goto(preview.url("mixed") + "projects/alpha/2026-01-05-kickoff.html")
        expect(page.locator("main")).to_contain_text("We met on Monday")
        page.wait_for_timeout(300)  # the event stream is connected
        text = (site / KICKOFF).read_text()
        started = time.monotonic()
        write(site / KICKOFF, text.replace("We met on Monday.", "We met on Friday, live edit 7781."))
        expect(page.locator("main")).to_contain_text("live edit 7781", timeout=2000)
        print(f"edit -> updated page: {time.monotonic() - started:.2f} s")
        assert "We met on Monday" not in page.inner_text("main")
        assert csp_messages(page) == []


def test_broken_front_matter_is_shown_in_the_page_and_recovers(site: Path, page: Page) -> None:
    with running(site) as preview:
        page.goto(preview.url("internal") + "projects/alpha/2026-01-05-kickoff.html")
        expect(page.locator("h1")).to_contain_text("Kickoff meeting notes")
        page.wait_for_timeout(300)
        good = (site / KICKOFF).read_text()
        write(site / KICKOFF, good.replace("title: Kickoff meeting notes", "title: [Kickoff <i>"))
        error = page.locator("pre.build-error")
        expect(error).to_contain_text("invalid YAML front matter",
                                      timeout=2000)
        expect(page.locator("h1")).to_have_text("Build failed")
        expect(page.locator(".preview-banner")).to_contain_text("Local unencrypted preview")
        assert "invalid YAML front matter" in preview.err.getvalue()
        assert "content/projects/alpha/posts/2026-01-05-kickoff.md:" in preview.err.getvalue()
        write(site / KICKOFF, good.replace("We met on Monday.", "Fixed and back."))
        expect(page.locator("main")).to_contain_text("Fixed and back.", timeout=2000)
        expect(page.locator("h1")).to_contain_text("Kickoff meeting notes")
        assert csp_messages(page) == []


def test_pages_work_under_csp_without_violations(site: Path, page: Page) -> None:
    with running(site, person="carl") as preview:
        for url in (preview.url("internal"), preview.url("internal") + "projects/alpha/",
                    preview.url("internal") + "projects/alpha/tags/money.html",
                    preview.url("mixed"), preview.url("mixed") + "projects/alpha/2026-01-07-reply.html"):
            response = page.goto(url)
            assert response is not None and response.ok, url
            assert response.headers["content-security-policy"] == "default-src 'self'"
            # the stylesheet applied and the reload script ran: both allowed by 'self'
            assert page.evaluate("document.styleSheets.length") >= 1
            expect(page.locator(".preview-banner")).to_be_visible()
            with page.expect_request(lambda r: r.url.endswith("/__extranet/events"), timeout=2000):
                page.goto(url)  # the reload script runs and opens its event stream
        assert page.url.endswith("/projects/alpha/2026-01-07-reply.html")
        assert csp_messages(page) == []
        # the check above can fail: an inline script is a violation, reported in the console
        page.evaluate("() => { const s = document.createElement('script');"
                      " s.textContent = 'window.inlineRan = true'; document.head.append(s); }")
        page.wait_for_timeout(100)
        assert page.evaluate("window.inlineRan === undefined")
        assert csp_messages(page), "an inline script should have been refused"
