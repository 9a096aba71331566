"""End-to-end: a protected zone served under a strict CSP, used in real headless Chromium."""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from extranet.protect import Secrets, protect_zone, set_password

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CSP = "default-src 'self'"
ATTACHMENT = os.urandom(3000) + b"PLAN-ATTACHMENT-TOKEN " * 200

PAGES = {
    "index.html": "<h1>Home</h1><p>HOME-TOKEN</p><a id='to-alpha' href='p1/index.html'>projects</a>",
    "p1/index.html": (
        "<h1>Alpha</h1><p>ALPHA-TOKEN</p><a id='to-notes' href='notes.html'>notes</a> "
        "<a id='plan' href='files/plan.pdf' download='plan.pdf'>plan</a>"
    ),
    "p1/notes.html": "<h1>Notes</h1><p>ALPHA-NOTES-TOKEN</p><a id='back' href='index.html'>alpha</a> <a id='home' href='../index.html'>home</a>",
    "p2/index.html": "<h1>Beta</h1><p>BETA-TOKEN</p>",
}
SCOPES = {"index.html": "_site", "p1/index.html": "alpha", "p1/notes.html": "alpha",
          "p2/index.html": "beta", "p1/files/plan.pdf": "alpha"}


def page_html(body: str) -> bytes:
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>t</title>"
        "<link rel='stylesheet' href='/static/theme.css'></head><body>"
        f"{body}<a id='logout' href='#' data-xn-logout>log out</a></body></html>"
    ).encode()


class Site:
    """A protected zone on disk, served over HTTP on loopback with a strict CSP."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.secrets = Secrets.load(tmp / ".extranet", create=True)
        self.passwords = {
            "cli1": set_password(self.secrets, "cli1", "Client.One@Acme.example", iterations=600_000, bcrypt_cost=4),
            "sup2": set_password(self.secrets, "sup2", "sup2@beta.example", iterations=2_000, bcrypt_cost=4),
            "staff": set_password(self.secrets, "staff", "staff@durand.example", iterations=2_000, bcrypt_cost=4),
        }
        self.secrets.save()
        self.root = tmp / "out0"
        self.builds = 0

    def build(self, grants: dict[str, frozenset[str]]) -> None:
        files = {path: page_html(body) for path, body in PAGES.items()}
        files["p1/files/plan.pdf"] = ATTACHMENT
        files["static/theme.css"] = b"body { font-family: sans-serif; }"
        out = protect_zone("mixed", files, SCOPES, grants, self.secrets,
                           title="Test extranet", language="en", remember_days=30)
        self.builds += 1
        root = self.tmp / f"out{self.builds}"
        for path, data in out.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(data)
        self.root = root


GRANTS = {"cli1": frozenset({"alpha"}), "sup2": frozenset({"beta"}), "staff": frozenset({"alpha", "beta"})}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Site, str]]:
    site = Site(tmp_path)
    site.build(GRANTS)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path: str) -> str:
            self.directory = str(site.root)
            return super().translate_path(path)

        def end_headers(self) -> None:
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(site.root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def playwright():
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    yield browser
    browser.close()


def watch(context: BrowserContext) -> list[str]:
    """Collect CSP violations and uncaught errors of every page of the context."""
    problems: list[str] = []

    def on_page(page: Page) -> None:
        page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    context.on("page", on_page)
    for page in context.pages:
        on_page(page)
    return problems


def login(page: Page, username: str, password: str, remember: bool = False) -> None:
    expect(page.locator("#xn-fields")).to_be_enabled()
    page.fill("#xn-username", username)
    page.fill("#xn-password", password)
    if remember:
        page.check("#xn-remember")
    page.click("#xn-submit")


def test_client_logs_in_with_id_reads_project_and_downloads_attachment(site, browser) -> None:
    s, base = site
    context = browser.new_context(accept_downloads=True)
    problems = watch(context)
    page = context.new_page()
    page.goto(base + "p1/notes.html")
    expect(page).to_have_url(re.compile(r"/login\.html#next=p1%2Fnotes\.html"))
    assert page.locator("#xn-username").get_attribute("autocomplete") == "username"
    assert page.locator("#xn-password").get_attribute("autocomplete") == "current-password"
    login(page, "cli1", s.passwords["cli1"])  # 600,000 PBKDF2 iterations
    expect(page.locator("body")).to_contain_text("ALPHA-NOTES-TOKEN", timeout=15_000)
    assert page.url == base + "p1/notes.html"

    page.click("#back")  # relative link, no second login
    expect(page.locator("body")).to_contain_text("ALPHA-TOKEN")
    assert page.url == base + "p1/index.html"
    page.click("#to-notes")
    expect(page.locator("body")).to_contain_text("ALPHA-NOTES-TOKEN")
    page.click("#home")
    expect(page.locator("body")).to_contain_text("HOME-TOKEN")
    page.go_back()
    expect(page.locator("body")).to_contain_text("ALPHA-NOTES-TOKEN")
    page.click("#back")
    expect(page.locator("body")).to_contain_text("ALPHA-TOKEN")
    with page.expect_download() as info:
        page.click("#plan")
    download = info.value
    assert download.suggested_filename == "plan.pdf"
    assert Path(download.path()).read_bytes() == ATTACHMENT

    page.goto(base + "p2/index.html")  # another project: refused, no content
    expect(page.locator("#xn-status")).to_contain_text("not part of the projects")
    assert "BETA-TOKEN" not in page.content()
    page.goto(base + "index.html")
    expect(page.locator("body")).to_contain_text("HOME-TOKEN")
    assert problems == []
    context.close()


def test_login_with_email_in_any_case_and_logout(site, browser) -> None:
    s, base = site
    context = browser.new_context()
    problems = watch(context)
    page = context.new_page()
    page.goto(base + "login.html")
    login(page, "  CLIENT.one@acme.EXAMPLE ", s.passwords["cli1"])
    expect(page.locator("body")).to_contain_text("HOME-TOKEN", timeout=15_000)
    page.click("#to-alpha")
    expect(page.locator("body")).to_contain_text("ALPHA-TOKEN")
    page.click("#logout")
    expect(page.locator("#xn-message")).to_contain_text("signed out")
    page.goto(base + "p1/index.html")
    expect(page).to_have_url(re.compile(r"/login\.html#next="))
    assert problems == []
    context.close()


def test_wrong_password_and_unknown_user_are_refused(site, browser) -> None:
    s, base = site
    context = browser.new_context()
    problems = watch(context)
    page = context.new_page()
    page.goto(base + "login.html")
    login(page, "sup2", s.passwords["sup2"] + "x")
    expect(page.locator("#xn-message")).to_contain_text("wrong password")
    login(page, "nobody@nowhere.example", s.passwords["sup2"])
    expect(page.locator("#xn-message")).to_contain_text("wrong password")
    page.goto(base + "p2/index.html")
    expect(page).to_have_url(re.compile(r"/login\.html"))
    assert problems == []
    context.close()


def test_noscript_explains_without_javascript(site, browser) -> None:
    _, base = site
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base + "p1/index.html")
    expect(page.locator("noscript, .xn-noscript").first).to_be_attached()
    assert "Enable JavaScript" in page.locator("body").inner_text()
    assert "ALPHA-TOKEN" not in page.content()
    context.close()


def persistent(playwright, profile: Path) -> BrowserContext:
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=ARGS)


def test_remember_me_survives_restart_and_logout_clears_it(site, playwright, tmp_path) -> None:
    s, base = site
    profile = tmp_path / "profile"
    context = persistent(playwright, profile)
    problems = watch(context)
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(base + "login.html")
    login(page, "staff", s.passwords["staff"], remember=True)
    expect(page.locator("body")).to_contain_text("HOME-TOKEN")
    context.close()

    context = persistent(playwright, profile)  # browser restart
    problems += watch(context)
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(base + "p2/index.html")
    expect(page.locator("body")).to_contain_text("BETA-TOKEN")
    page.click("#logout")
    expect(page.locator("#xn-message")).to_contain_text("signed out")
    page.goto(base + "p2/index.html")
    expect(page).to_have_url(re.compile(r"/login\.html"))
    context.close()

    context = persistent(playwright, profile)
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(base + "p2/index.html")
    expect(page).to_have_url(re.compile(r"/login\.html"))
    context.close()
    assert problems == []


def test_session_without_remember_me_ends_with_the_browser(site, playwright, tmp_path) -> None:
    s, base = site
    profile = tmp_path / "profile"
    context = persistent(playwright, profile)
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(base + "login.html")
    login(page, "sup2", s.passwords["sup2"])
    expect(page.locator("body")).to_contain_text("HOME-TOKEN")
    page.goto(base + "p2/index.html")
    expect(page.locator("body")).to_contain_text("BETA-TOKEN")
    context.close()

    context = persistent(playwright, profile)
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(base + "p2/index.html")
    expect(page).to_have_url(re.compile(r"/login\.html"))
    context.close()


def test_removed_person_is_refused_after_rebuild(site, browser) -> None:
    s, base = site
    context = browser.new_context()
    problems = watch(context)
    page = context.new_page()
    page.goto(base + "login.html")
    login(page, "sup2", s.passwords["sup2"], remember=True)
    expect(page.locator("body")).to_contain_text("HOME-TOKEN")

    s.build({"cli1": GRANTS["cli1"], "staff": GRANTS["staff"]})  # sup2 removed
    page.goto(base + "p2/index.html")  # the remembered session is gone
    expect(page).to_have_url(re.compile(r"/login\.html"))
    expect(page.locator("#xn-message")).to_contain_text("session has ended")
    login(page, "sup2", s.passwords["sup2"])
    expect(page.locator("#xn-message")).to_contain_text("wrong password")
    assert "BETA-TOKEN" not in page.content()

    login(page, "staff", s.passwords["staff"])  # others are unaffected
    expect(page.locator("body")).to_contain_text("BETA-TOKEN")
    assert problems == []
    context.close()


def test_remembered_session_survives_a_rebuild_that_rotates_its_keys(site, browser) -> None:
    s, base = site
    context = browser.new_context()
    page = context.new_page()
    page.goto(base + "login.html")
    login(page, "staff", s.passwords["staff"], remember=True)
    expect(page.locator("body")).to_contain_text("HOME-TOKEN")
    s.build({"cli1": GRANTS["cli1"], "staff": GRANTS["staff"]})  # rotates _site and beta
    page.goto(base + "p2/index.html")
    expect(page.locator("body")).to_contain_text("BETA-TOKEN")
    context.close()


def test_unknown_user_is_refused_no_faster_than_a_known_one(site, browser) -> None:
    """Refusing an unknown name costs the same PBKDF2 as checking a real password."""
    s, base = site
    context = browser.new_context()
    page = context.new_page()
    page.goto(base + "login.html")

    def refusal_time(username: str) -> float:
        page.evaluate("document.getElementById('xn-message').textContent = ''")
        started = time.perf_counter()
        login(page, username, "wrong-password")
        expect(page.locator("#xn-message")).to_contain_text("wrong password", timeout=15_000)
        return time.perf_counter() - started

    known = min(refusal_time("cli1") for _ in range(2))  # 600,000 iterations
    unknown = min(refusal_time("stranger@nowhere.example") for _ in range(2))
    assert unknown >= 0.6 * known, (unknown, known)
    context.close()
