"""In real Chromium: a client logged in opens exactly their shared pages and files, and any
other file of the mixed output, fetched by its name, gives them nothing they can decrypt."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from client import cli, give_passwords, readable
from extranet.protect.server import CSP
from helpers import SITES, read_tree
from test_protect_browser import ARGS, CHROMIUM, login, watch

PEOPLE = {"sara": "sara@own.example", "carl": "carl@acme.example", "bob": "bob@bolt.example"}
SECRETS = ("Alpha secret margin", "Kickoff secret", "Pricing secret", "Beta body secret", "Staircase study", "BETA-SHARED",
           "INTERNAL-", "Handbook secret")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], str]]:
    root = tmp_path / "zones"
    shutil.copytree(SITES / "zones", root)
    passwords = give_passwords(root, PEOPLE)
    assert cli(root, "build").returncode == 0
    folder = root / "public" / "mixed"

    class Handler(http.server.SimpleHTTPRequestHandler):
        def end_headers(self) -> None:
            self.send_header("Content-Security-Policy", CSP)  # as the generated server snippets set it
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, passwords, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_client_opens_exactly_their_pages_and_files(served) -> None:
    root, passwords, base = served
    folder = root / "public/mixed"
    mine = readable(folder, "carl", passwords["carl"])
    everything = read_tree(folder)
    private = [p for p in everything if p not in ("login.html", "keyring.json") and not p.startswith("static/")]
    others = [p for p in private if p not in mine]
    assert others and any(p.endswith(".bin") for p in others) and any(p.endswith(".html") for p in others)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(accept_downloads=True)
        problems = watch(context)
        page = context.new_page()
        page.goto(base + "login.html")
        login(page, "carl@acme.example", passwords["carl"])
        expect(page.locator("body")).to_contain_text("Alpha footbridge", timeout=20_000)
        assert "Beta staircase" not in page.content()  # not even the title of another project
        page.click("text=Alpha footbridge")
        expect(page.locator("body")).to_contain_text("The footbridge spans twelve metres")
        page.click("text=Kickoff meeting")
        expect(page.locator("body")).to_contain_text("We met on Monday")
        with page.expect_download() as info:
            page.click("text=site plan")
        assert Path(info.value.path()).read_bytes() == (root / "content/projects/alpha/files/plan.txt").read_bytes()
        shown = page.content()
        assert not any(s in shown for s in SECRETS)

        for path in [p for p in others if p.endswith(".html")]:  # pages: refused, nothing shown
            page.goto(base + path)
            expect(page.locator("#xn-status")).to_contain_text("not part of the projects")
            assert not any(s in page.content() for s in SECRETS), path
        for path in [p for p in others if not p.endswith(".html")]:  # files: what the app makes of them
            page.goto(base + next(p for p in mine if p.endswith(".html") and "/" in p))
            expect(page.locator("body")).to_contain_text("Alpha footbridge")
            page.evaluate("""href => { const a = document.createElement('a'); a.href = href;
                                       a.setAttribute('download', 'x'); a.textContent = 'x';
                                       document.body.append(a); a.click(); }""", base + path)
            expect(page.locator("#xn-status")).to_contain_text("not part of the projects")
        assert problems == []
        context.close()
        browser.close()
