"""End to end: Markdown sources -> `extranet build` (encrypted) -> what a browser shows.

The site is built by the real command line, served over HTTP on loopback with the strict
Content-Security-Policy the server snippets recommend, and used in headless Chromium.
"""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from extranet.protect.server import CSP

from helpers import copy_site

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "extranet", "-C", str(root), *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def password(root: Path, pid: str) -> str:
    pw_file = root / f"{pid}.pw"
    cli(root, "people", "reset", pid, "--password-file", str(pw_file))
    assert pw_file.stat().st_mode & 0o777 == 0o600
    return pw_file.read_text().strip()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Iterator[tuple[Path, dict[str, str], str]]:
    tmp = tmp_path_factory.mktemp("e2e")
    root = copy_site("small", tmp)
    (root / "extranet.toml").write_text((root / "extranet.toml").read_text().replace("encrypt = false", "encrypt = true"))
    passwords = {pid: password(root, pid) for pid in ("alice", "carl")}
    cli(root, "build")
    public = root / "public"

    class Handler(http.server.SimpleHTTPRequestHandler):
        def end_headers(self) -> None:
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(public)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, passwords, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    yield page
    context.close()
    assert not errors, errors


def login(page: Page, base: str, zone: str, user: str, pw: str) -> None:
    page.goto(f"{base}{zone}/login.html")
    page.fill("input[autocomplete=username]", user)
    page.fill("input[autocomplete=current-password]", pw)
    page.click("button[type=submit]")


def test_client_reads_their_project_and_nothing_else(built, page: Page) -> None:
    root, passwords, base = built
    login(page, base, "mixed", "CARL@acme.example", passwords["carl"])
    # the mixed home sends each person to their own home page, which lists their projects
    expect(page.get_by_role("link", name="Alpha Bridge Renovation")).to_be_visible(timeout=10_000)
    assert "Beta Warehouse" not in page.content()
    page.get_by_role("link", name="Alpha Bridge Renovation").click()
    expect(page.locator("h1")).to_have_text("Alpha Bridge Renovation")
    body = page.content()
    assert "Kickoff meeting notes" in body and "Re kickoff from Carl" in body
    assert "Confidential pricing" not in body and "twelve percent" not in body
    page.get_by_role("link", name="Kickoff meeting notes").click()
    expect(page.locator("h1")).to_have_text("Kickoff meeting notes")
    with page.expect_download() as info:
        page.get_by_role("link", name="plan").click()
    assert Path(info.value.path()).read_bytes() == (root / "content/projects/alpha/files/plan.txt").read_bytes()
    assert info.value.suggested_filename == "plan.txt"


def test_staff_read_internal_notes_on_the_internal_site(built, page: Page) -> None:
    _, passwords, base = built
    login(page, base, "internal", "alice", passwords["alice"])
    expect(page.get_by_role("link", name="Alpha Bridge Renovation")).to_be_visible(timeout=10_000)
    expect(page.get_by_role("link", name="Beta Warehouse Internal Study")).to_be_visible()
    page.get_by_role("link", name="Alpha Bridge Renovation").click()
    expect(page.get_by_role("link", name="Confidential pricing strategy")).to_be_visible()
    expect(page.locator(".internal-block")).to_contain_text("twelve percent")


def test_a_client_cannot_open_the_internal_site(built, page: Page) -> None:
    _, passwords, base = built
    login(page, base, "internal", "carl", passwords["carl"])
    expect(page.locator("#xn-message")).to_contain_text("wrong password", timeout=10_000)


def test_wrong_password_is_refused(built, page: Page) -> None:
    _, passwords, base = built
    login(page, base, "mixed", "carl", passwords["carl"] + "x")
    expect(page.locator("#xn-message")).to_contain_text("wrong password", timeout=10_000)


def test_nothing_readable_before_login(built) -> None:
    root, _, _ = built
    served = b"".join(p.read_bytes() for p in (root / "public/mixed").rglob("*") if p.is_file())
    served += "".join(str(p) for p in (root / "public/mixed").rglob("*")).encode()
    for plain in (b"Alpha Bridge", b"Kickoff", b"carl", b"acme.example", b"plan contents", b"alpha"):
        assert plain not in served, plain


def test_removed_person_is_refused_after_the_rebuild(built, page: Page) -> None:
    root, passwords, base = built
    cli(root, "people", "remove", "carl")
    cli(root, "build")
    login(page, base, "mixed", "carl", passwords["carl"])
    expect(page.locator("#xn-message")).to_contain_text("wrong password", timeout=10_000)
