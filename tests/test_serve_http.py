"""`extranet serve` over real HTTP on loopback: binding, safety, zones, --as, build errors."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from serve_support import (BANNER, KICKOFF, PRICING, get, running, site,  # noqa: F401
                                wait_rebuild, write)

CSP = "default-src 'self'"
HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_cli_prints_urls_binds_loopback_and_stops_on_ctrl_c(site: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "extranet", "-C", str(site), "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not any("Ctrl+C" in line for line in lines):
            line = proc.stdout.readline()
            assert line, f"serve exited early: {proc.stderr.read()}"
            lines.append(line)
        urls = re.findall(r"(http://\S+/)", "".join(lines))
        assert len(urls) == 2 and all(u.startswith("http://127.0.0.1:") for u in urls)
        with urllib.request.urlopen(urls[0] + "projects/beta/index.html", timeout=5) as r:
            assert b"Beta Warehouse Internal Study" in r.read()
        with urllib.request.urlopen(urls[1] + "projects/alpha/", timeout=5) as r:
            page = r.read().decode()
        assert "Alpha Bridge Renovation" in page and "Shared project space" in page
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(urls[1] + "projects/beta/index.html", timeout=5)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "stopping" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not (site / "public").exists()


def test_in_process_default_host_is_loopback(site: Path) -> None:
    with running(site) as preview:
        assert {s.server_address[0] for s in preview.servers.values()} == {"127.0.0.1"}
        assert preview.url("internal") != preview.url("mixed")


def test_every_page_is_marked_unencrypted_and_nothing_is_written(site: Path) -> None:
    with running(site) as preview:
        snap = preview.current()
        pages = [(z, p) for z, files in snap.files.items() for p in files if p.endswith(".html")]
        assert len(pages) > 15
        for zone, path in pages:
            status, _, body = get(preview, zone, "/" + path)
            text = body.decode()
            assert status == 200 and BANNER in text, (zone, path)
            assert re.search(r'<script src="(\.\./)*static/livereload\.js" defer></script>', text)
            assert "<script>" not in text and " style=" not in text
    assert not (site / "public").exists()
    assert not any(p.name == "public" for p in site.rglob("*"))


TRAVERSALS = [
    "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/..%2f..%2f..%2fetc%2fpasswd", "/projects/alpha/..%2f..%2f..%2fextranet.toml",
    "/../extranet.toml", "/%2e%2e/people.toml", "/..\\..\\etc\\passwd", "/%5c..%5cextranet.toml",
    "//etc/passwd", "http://127.0.0.1/../../etc/passwd", "http://evil.example/etc/passwd",
    "/content/projects/alpha/index.md", "/extranet.toml", "/etc/passwd", "/static/%00",
    "/projects/alpha/files/plan.txt/../../../../../etc/passwd", "/%c0%ae%c0%ae/etc/passwd",
]


def test_path_traversal_gets_400_or_404_and_no_file(site: Path) -> None:
    secrets = [b"root:x:0", b"Small Co extranet\"", b"carl@acme.example", b"twelve percent"]
    with running(site) as preview:
        for target in TRAVERSALS:
            for zone in ("internal", "mixed"):
                status, headers, body = get(preview, zone, target)
                assert status in (400, 404), (zone, target, status)
                assert not any(s in body for s in secrets), (zone, target)
                assert headers["Content-Security-Policy"] == CSP


def test_csp_and_types_on_every_kind_of_response(site: Path) -> None:
    with running(site, person="carl") as preview:
        cases = [("internal", "/", 200, "text/html"), ("internal", "/static/style.css", 200, "text/css"),
                 ("internal", "/static/livereload.js", 200, "javascript"),
                 ("internal", "/projects/alpha/files/plan.txt", 200, "text/plain"),
                 ("internal", "/projects/alpha", 301, None), ("internal", "/nope.html", 404, "text/html"),
                 ("internal", "/../x", 400, None), ("mixed", "/", 302, None),
                 ("mixed", "/__extranet/livereload.js", 200, "javascript")]
        for zone, target, code, ctype in cases:
            status, headers, _ = get(preview, zone, target)
            assert status == code, (target, status)
            assert headers["Content-Security-Policy"] == CSP, target
            assert headers["X-Content-Type-Options"] == "nosniff"
            if ctype:
                assert ctype in headers["Content-Type"], (target, headers["Content-Type"])
        status, headers, _ = get(preview, "internal", "/", method="POST")
        assert status == 501 and headers["Content-Security-Policy"] == CSP
        status, headers, _ = get(preview, "internal", "/projects/alpha")
        assert headers["Location"] == "/projects/alpha/"
        assert b"Alpha Bridge" in get(preview, "internal", "/projects/alpha/")[2]


def test_event_stream_sends_the_build_id(site: Path) -> None:
    with running(site) as preview:
        host, port = preview.servers["mixed"].server_address[:2]
        with urllib.request.urlopen(f"http://{host}:{port}/__extranet/events", timeout=5) as r:
            assert r.headers["Content-Type"] == "text/event-stream"
            assert r.headers["Content-Security-Policy"] == CSP
            head = b"".join(r.readline() for _ in range(4)).decode()
        assert f"event: build\ndata: {preview.current().build_id}\n" in head


def test_foreign_host_header_is_refused(site: Path) -> None:
    """A page on another site cannot read the preview through DNS rebinding."""
    with running(site) as preview:
        status, _, body = get(preview, "internal", "/", headers={"Host": "evil.example:8000"})
        assert status == 400 and b"Alpha" not in body
        assert get(preview, "internal", "/", headers={"Host": "localhost:8000"})[0] == 200


def test_internal_edits_never_reach_the_mixed_site(site: Path) -> None:
    with running(site) as preview:
        old = preview.current().build_id
        pricing = (site / PRICING).read_text()
        write(site / PRICING, pricing + "\nZEBRA-INTERNAL-42 new margin.\n")
        snap = wait_rebuild(preview, old)
        assert b"ZEBRA-INTERNAL-42" in get(preview, "internal", "/projects/alpha/2026-01-06-pricing.html")[2]
        assert not any(b"ZEBRA" in data for data in snap.files["mixed"].values())
        for target in ("/projects/alpha/2026-01-06-pricing.html", "/projects/alpha/tags/money.html"):
            assert get(preview, "mixed", target)[0] == 404
        assert b"ZEBRA" not in get(preview, "mixed", "/projects/alpha/")[2]

        kickoff = (site / KICKOFF).read_text()
        assert get(preview, "mixed", "/projects/alpha/2026-01-05-kickoff.html")[0] == 200
        write(site / KICKOFF, kickoff.replace("visibility: mixed\n", ""))
        wait_rebuild(preview, snap.build_id)
        assert get(preview, "mixed", "/projects/alpha/2026-01-05-kickoff.html")[0] == 404
        assert b"Kickoff meeting" not in get(preview, "mixed", "/projects/alpha/")[2]
        assert b"Kickoff meeting" in get(preview, "internal", "/projects/alpha/")[2]


def test_as_carl_shows_only_carls_projects(site: Path) -> None:
    with running(site, person="carl") as preview:
        status, headers, _ = get(preview, "mixed", "/")
        assert status == 302 and headers["Location"] == "/home/carl.html"
        home = get(preview, "mixed", "/home/carl.html")[2].decode()
        assert "Alpha Bridge Renovation" in home and "Gamma" not in home and BANNER in home
        assert get(preview, "mixed", "/projects/alpha/2026-01-05-kickoff.html")[0] == 200
        for target in ("/projects/gamma/index.html", "/projects/gamma/2026-01-10-schedule.html",
                       "/home/dora.html", "/home/alice.html", "/projects/beta/index.html"):
            status, _, body = get(preview, "mixed", target)
            assert status == 404 and b"Gamma" not in body and b"Trucks" not in body, target
        assert get(preview, "mixed", "/static/style.css")[0] == 200
        assert b"Gamma Depot Supply" in get(preview, "internal", "/")[2]  # internal site unchanged
    with running(site, person="dora") as preview:
        home = get(preview, "mixed", "/home/dora.html")[2].decode()
        assert "Gamma Depot Supply" in home and "Alpha" not in home
        assert get(preview, "mixed", "/projects/alpha/index.html")[0] == 404


def test_unknown_person_is_warned_and_sees_nothing(site: Path) -> None:
    with running(site, person="sam") as preview:  # sam's access expired
        assert "'sam' can read nothing" in preview.err.getvalue()
        assert get(preview, "mixed", "/home/sam.html")[0] == 404
        assert get(preview, "mixed", "/projects/alpha/index.html")[0] == 404


def test_build_error_in_terminal_and_page_then_recovery(site: Path) -> None:
    bad = site / "content/projects/alpha/posts/2026-01-09-<b>&bad.md"
    with running(site) as preview:
        old = preview.current().build_id
        write(bad, "---\ntitle: [unclosed\nvisibility: mixed\n---\nBody.\n")
        snap = wait_rebuild(preview, old)
        assert snap.error
        err = preview.err.getvalue()
        assert "2026-01-09-<b>&bad.md:3: invalid YAML front matter" in err
        for zone in ("internal", "mixed"):
            status, _, body = get(preview, zone, "/projects/alpha/", headers=HTML)
            text = body.decode()
            assert status == 500 and "invalid YAML front matter" in text
            assert "2026-01-09-&lt;b&gt;&amp;bad.md" in text and "<b>" not in text
            assert '<script src="/__extranet/livereload.js" defer></script>' in text
        assert get(preview, "internal", "/static/style.css")[0] == 200  # assets still served
        assert preview.servers["internal"].preview is preview  # still running
        os.remove(bad)
        snap = wait_rebuild(preview, snap.build_id)
        assert snap.error is None
        assert get(preview, "internal", "/projects/alpha/", headers=HTML)[0] == 200
        assert "built internal" in preview.out.getvalue()


def test_watches_settings_people_and_a_theme_created_later(site: Path) -> None:
    with running(site, person="carl") as preview:
        snap = preview.current()
        toml = (site / "extranet.toml").read_text()
        write(site / "extranet.toml", toml.replace("Small Co extranet", "Renamed Co extranet"))
        snap = wait_rebuild(preview, snap.build_id)
        assert b"Renamed Co extranet" in get(preview, "internal", "/")[2]
        write(site / "themes/default/static/extra.css", "body { color: black; }\n")
        snap = wait_rebuild(preview, snap.build_id)
        assert get(preview, "mixed", "/static/extra.css")[2] == b"body { color: black; }\n"
        people = (site / "people.toml").read_text()
        write(site / "people.toml", people.replace('org = "acme"', 'org = "acme"\nexpires = 2020-01-01'))
        wait_rebuild(preview, snap.build_id)
        assert get(preview, "mixed", "/home/carl.html")[0] == 404  # carl's access expired


def test_builds_once_per_change_and_ignores_editor_temp_files(site: Path) -> None:
    with running(site) as preview:
        write(site / KICKOFF, (site / KICKOFF).read_text() + "\nOne more line.\n")
        first = wait_rebuild(preview, preview.current().build_id).build_id
        write(site / "content/projects/alpha/posts/.2026-01-05-kickoff.md.swp", "junk")
        write(site / "content/projects/alpha/posts/2026-01-05-kickoff.md~", "junk")
        (site / "public").mkdir()
        write(site / "public/notes.txt", "not a source")
        time.sleep(1.0)  # debounce + a build's own file reads must not trigger another build
        assert preview.current().build_id == first
        assert preview.out.getvalue().count("built internal") == 2
