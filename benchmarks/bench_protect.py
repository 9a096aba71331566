"""Benchmark of the protect stage: Python encryption, output size, login and page time in Chromium.

Run from the repository root: ``python benchmarks/bench_protect.py [--pages N]``.
Targets: login < 1 s (600,000 PBKDF2 iterations), a 50 KB page < 50 ms once logged in,
output <= 1.1x the plaintext.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from extranet.protect import Secrets, protect_zone, set_password  # noqa: E402
from extranet.protect.crypto import ContentKey, seal  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WORDS = ("chantier livraison lot devis planning réunion client béton acier validation semaine "
         "retard budget fournisseur plan étage façade menuiserie électricité réception").split()


def make_page(rng: random.Random, i: int, size: int) -> bytes:
    """A realistic-looking HTML page of about ``size`` bytes."""
    head = (f"<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>Page {i}</title>"
            "<link rel='stylesheet' href='../static/theme.css'></head><body><header><nav>"
            "<a href='../index.html'>Accueil</a></nav></header><main>")
    parts = [head, f"<h1 id='title'>Compte rendu {i}</h1>"]
    total = len(head)
    while total < size:
        p = "<p>" + " ".join(rng.choice(WORDS) for _ in range(40)) + f" ({rng.randint(1, 99999)} EUR).</p>\n"
        parts.append(p)
        total += len(p.encode())
    parts.append("<a href='#' data-xn-logout>Déconnexion</a></main></body></html>")
    return "".join(parts).encode()


def serve(root: Path) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def end_headers(self) -> None:
            self.send_header("Content-Security-Policy", "default-src 'self'")
            super().end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--logins", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(1)
    work = Path(tempfile.mkdtemp(prefix="bench-protect-"))
    secrets = Secrets.load(work / ".extranet", create=True)
    password = set_password(secrets, "client", "client@acme.example")  # 600,000 iterations
    files = {f"p/{i}.html": make_page(rng, i, rng.randint(5_000, 80_000)) for i in range(args.pages)}
    files["p/big.html"] = make_page(rng, 9999, 50_000)
    files["p/files/photo.jpg"] = rng.randbytes(2_000_000)
    files["p/files/report.csv"] = "\n".join(
        f"{i};{rng.choice(WORDS)};{rng.randint(0, 10**6)}" for i in range(50_000)).encode()
    files["index.html"] = make_page(rng, 0, 10_000).replace(b"../", b"")
    scope_of = {p: "proj" for p in files}
    scope_of["index.html"] = "_site"
    files["static/theme.css"] = b"body{font-family:sans-serif}"

    started = time.perf_counter()
    out = protect_zone("mixed", files, scope_of, {"client": frozenset({"proj"})}, secrets,
                       title="Bench", language="fr", remember_days=30)
    elapsed = time.perf_counter() - started
    protected = [p for p in files if not p.startswith("static/")]
    pages = [p for p in protected if p.endswith(".html")]
    plain = sum(len(files[p]) for p in protected)
    cipher = sum(len(out[p]) for p in protected)
    page_plain = sum(len(files[p]) for p in pages)
    page_cipher = sum(len(out[p]) for p in pages)
    print(f"python: protect_zone {len(protected)} files ({plain / 1e6:.1f} MB) in {elapsed:.2f} s "
          f"(incl. 2 user-name PBKDF2 of 100k): {1000 * elapsed / len(protected):.2f} ms per file")
    print(f"size: all protected files {cipher / plain:.3f}x plaintext; pages only {page_cipher / page_plain:.3f}x; "
          f"keyring.json {len(out['keyring.json'])} bytes")
    key, page50 = ContentKey.generate(), files["p/big.html"]
    t0 = time.perf_counter()
    for _ in range(200):
        seal(key, page50)
    print(f"python: seal one 50 KB page (deflate 9 + AES-GCM) {1000 * (time.perf_counter() - t0) / 200:.2f} ms")
    for path, data in out.items():
        (work / "out" / path).parent.mkdir(parents=True, exist_ok=True)
        (work / "out" / path).write_bytes(data)
    server = serve(work / "out")
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    logins, opens, decrypts, refusals = [], [], [], {"wrong password": [], "unknown user": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        context = browser.new_context()
        page = context.new_page()
        page.goto(base + "login.html")
        for _ in range(args.logins):
            for kind, user in (("wrong password", "client"), ("unknown user", "nobody@example.org")):
                page.wait_for_selector("#xn-fields:enabled")
                page.evaluate("document.getElementById('xn-message').textContent = ''")
                page.fill("#xn-username", user)
                page.fill("#xn-password", password[::-1])
                t0 = time.perf_counter()
                page.click("#xn-submit")
                page.wait_for_selector("#xn-message.xn-error")
                refusals[kind].append(time.perf_counter() - t0)
                page.evaluate("document.getElementById('xn-message').className = ''")
        context.close()
        for _ in range(args.logins):
            context = browser.new_context()
            page = context.new_page()
            page.goto(base + "login.html")
            page.wait_for_selector("#xn-fields:enabled")
            page.fill("#xn-username", "client@acme.example")
            page.fill("#xn-password", password)
            t0 = time.perf_counter()
            page.click("#xn-submit")
            page.wait_for_selector("#title")
            logins.append(time.perf_counter() - t0)
            for _ in range(5):
                page.goto(base + "p/big.html")
                page.wait_for_selector("#title")
                shown = page.evaluate("performance.getEntriesByName('xn-shown')[0].startTime")
                start = page.evaluate("performance.getEntriesByName('xn-start')[0].startTime")
                opens.append(shown)
                decrypts.append(shown - start)
            context.close()
        browser.close()
    server.shutdown()
    server.server_close()
    shutil.rmtree(work)
    print(f"chromium: login (submit -> first page shown, 600k PBKDF2) median {1000 * statistics.median(logins):.0f} ms "
          f"(min {1000 * min(logins):.0f}, max {1000 * max(logins):.0f}) over {len(logins)} logins")
    for kind, times in refusals.items():
        print(f"chromium: refusal ({kind}) median {1000 * statistics.median(times):.0f} ms")
    print(f"chromium: open a 50 KB page when logged in: navigation start -> page shown median "
          f"{statistics.median(opens):.1f} ms; of which script (state, decrypt, inflate, write) "
          f"{statistics.median(decrypts):.1f} ms")


if __name__ == "__main__":
    main()
