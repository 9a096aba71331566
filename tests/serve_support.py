"""Helpers for the `extranet serve` tests (a temp site, a running preview, raw HTTP), and the
pure pieces of the preview: request path normalisation and the watcher's source filter."""

from __future__ import annotations

import http.client
import io
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from extranet.serve import Preview, Snapshot, normalise
from extranet.watch import is_source

SMALL = Path(__file__).parent / "sites" / "small"
BANNER = "Local unencrypted preview — not for publication"
KICKOFF = "content/projects/alpha/posts/2026-01-05-kickoff.md"
PRICING = "content/projects/alpha/posts/2026-01-06-pricing.md"

GAMMA = """---
title: Gamma Depot Supply
summary: Supplying the gamma depot with Bolt.
orgs: [bolt]
visibility: mixed
---
Gamma body shared with Bolt.
"""
GAMMA_POST = """---
title: Gamma delivery schedule
author: dora
visibility: mixed
---
Trucks arrive on Tuesday.
"""
DORA = """
[people.dora]
name = "Dora Delivery"
email = "dora@bolt.example"
org = "bolt"
"""


def make_site(tmp: Path) -> Path:
    """A copy of tests/sites/small plus a second shared project (gamma) for Bolt's Dora."""
    root = tmp / "site"
    shutil.copytree(SMALL, root)
    write(root / "content/projects/gamma/index.md", GAMMA)
    write(root / "content/projects/gamma/posts/2026-01-10-schedule.md", GAMMA_POST)
    with open(root / "people.toml", "a", encoding="utf-8") as f:
        f.write(DORA)
    return root


def write(path: Path, text: str) -> None:
    """Write a source file and flush it to disk, as an editor's save does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


@contextmanager
def running(root: Path, person: str | None = None) -> Iterator[Preview]:
    """A started preview on free loopback ports; terminal output captured in .out/.err."""
    preview = Preview(root, ports=(0, 0), person=person, out=io.StringIO(), err=io.StringIO())
    preview.start()
    try:
        yield preview
    finally:
        preview.stop()


def wait_rebuild(preview: Preview, old_id: str, timeout: float = 5.0) -> Snapshot:
    """Wait until the watcher has rebuilt after an edit (the build id changed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = preview.current()
        if snap.build_id != old_id:
            return snap
        time.sleep(0.02)
    raise AssertionError(f"no rebuild within {timeout} s")


def get(preview: Preview, zone: str, target: str, method: str = "GET",
        headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    """A raw HTTP request (the target is sent exactly as given) to one zone's server."""
    host, port = preview.servers[zone].server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request(method, target, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A fresh temp copy of the test site."""
    return make_site(tmp_path)


# -- pure pieces ---------------------------------------------------------------------------

@pytest.mark.parametrize("target,key", [
    ("/", ""), ("/index.html", "index.html"), ("/projects/alpha/", "projects/alpha/"),
    ("/projects//alpha/index.html?x=1#top", "projects/alpha/index.html"),
    ("/pages/welcome%20page.html", "pages/welcome page.html"),
])
def test_normalise_keeps_plain_paths(target: str, key: str) -> None:
    assert normalise(target) == key


@pytest.mark.parametrize("target", [
    "/../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2E%2Fetc%2Fpasswd", "/a/..%2f..%2fb",
    "/./index.html", "http://127.0.0.1/etc/passwd", "//etc/passwd", "/..\\etc", "/%5c..%5cx",
    "/a%00b", "/%ff%fe", "*", "etc/passwd",
])
def test_normalise_refuses_anything_else(target: str) -> None:
    assert normalise(target) is None


def test_watcher_filters_sources(tmp_path: Path) -> None:
    for rel in ("content/projects/a/index.md", "themes/mine/templates/base.html",
                "extranet.toml", "people.toml", "content"):
        assert is_source(tmp_path, str(tmp_path / rel)), rel
    for rel in ("public/mixed/index.html", ".extranet/cache", "content/.index.md.swp",
                "content/index.md~", "content/.#index.md", "notes.txt", "sub/extranet.toml"):
        assert not is_source(tmp_path, str(tmp_path / rel)), rel
    assert not is_source(tmp_path, "/elsewhere/content/x.md")
