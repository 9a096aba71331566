"""Projects rendered in worker processes give exactly the serial build: files, warnings, audit.

Big builds (render/pool.py) render each project's pages in a forked worker. The threshold is
lowered here so that the example site (three projects, one deliberate warning) goes through
the workers, and the result is compared with the serial build of the same sources.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
from pathlib import Path

import jinja2
import pytest
from hypothesis import given, strategies as st

import extranet
from extranet.build import BuildError, build
from extranet.render import pool
from extranet.render.theme import PACKAGE_THEMES
from extranet.site.urls import relative

from helpers import NOW, read_tree, write

EXAMPLE = Path(extranet.__file__).parent / "example"


def _site(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".extranet", "public"))
    return root


def _build(root: Path, jobs: int, caplog, **kw) -> tuple[dict[str, bytes], list[str]]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="extranet"):
        result = build(root, now=NOW, encrypt=False, jobs=jobs, **kw)
    warnings = [r.getMessage() for r in caplog.records if r.name == "extranet"]
    assert result.warnings == warnings
    return read_tree(root / "public"), warnings


def test_workers_build_exactly_the_serial_output(tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(pool, "POOL_THRESHOLD", 0)
    used = []
    real = pool._in_workers
    monkeypatch.setattr(pool, "_in_workers", lambda *a: used.append(len(a[1])) or real(*a))
    serial, serial_warnings = _build(_site(tmp_path, "serial"), 1, caplog, cache=False)
    assert not used
    parallel, parallel_warnings = _build(_site(tmp_path, "parallel"), 2, caplog, cache=False)
    assert used == [6]  # three projects in each zone, in workers
    assert parallel.keys() == serial.keys()
    assert [p for p in serial if parallel[p] != serial[p]] == []
    assert parallel_warnings == serial_warnings
    assert len(serial_warnings) == 1 and "link to internal content" in serial_warnings[0]


def test_incremental_build_after_a_parallel_cold_build_equals_a_cold_build(tmp_path: Path, monkeypatch,
                                                                            caplog) -> None:
    monkeypatch.setattr(pool, "POOL_THRESHOLD", 0)
    root = _site(tmp_path, "site")
    _build(root, 2, caplog)  # cold, in workers, memo recorded
    post = root / "content/projects/passerelle-moulin/posts/2026-03-20-re-by-email.md"
    write(post, "---\ntitle: Re par mail\nvisibility: mixed\nauthor: hmorel\n"
                "in_reply_to: 2026-03-02-galvanisation\nsource: email\n---\nBien reçu, merci.\n")
    incremental, warnings = _build(root, 2, caplog)
    fresh = _site(tmp_path, "fresh")
    shutil.copy(post, fresh / "content/projects/passerelle-moulin/posts" / post.name)
    cold, cold_warnings = _build(fresh, 1, caplog, cache=False)
    assert incremental == cold
    assert warnings == cold_warnings


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_audit_fails_the_build_on_a_leaking_renderer(tmp_path: Path, monkeypatch, jobs: int) -> None:
    """A renderer that printed internal passages in the mixed zone (a bug in what a view lets
    through) is caught, whichever process rendered the page: the audit reads the output, not
    what rendered it; nothing is written."""
    from extranet import zones

    monkeypatch.setattr(pool, "POOL_THRESHOLD", 0)
    monkeypatch.setattr(zones.View, "segments", lambda self, body: [(s.html, s.internal) for s in body.segments])
    root = _site(tmp_path, "site")
    with pytest.raises(BuildError, match="audit failed"):
        build(root, now=NOW, encrypt=False, jobs=jobs, cache=False)
    assert not (root / "public").exists()


@given(st.lists(st.sampled_from(["p", "a", "b", "index.html", "x.html"]), min_size=1, max_size=4),
       st.lists(st.sampled_from(["p", "a", "b", "index.html", "x.html"]), min_size=1, max_size=4))
def test_relative_urls_are_those_of_posixpath(here: list[str], there: list[str]) -> None:
    from_path, to_path = "/".join(here), "/".join(there)
    assert relative(from_path, to_path) == posixpath.relpath(to_path, posixpath.dirname(from_path) or ".")


def test_sources_parsed_in_the_pool_give_the_serial_output(tmp_path: Path, monkeypatch, caplog) -> None:
    """Sources parsed in worker processes (content/records.py) make the very same site."""
    from extranet.content import records

    monkeypatch.setattr(records, "POOL_THRESHOLD", 2)
    monkeypatch.setattr(records, "CHUNK", 3)
    pools = []

    class Counted(records.ProcessPoolExecutor):
        def map(self, fn, *iterables, **kw):
            pools.append(fn)
            return super().map(fn, *iterables, **kw)

    monkeypatch.setattr(records, "ProcessPoolExecutor", Counted)
    serial, serial_warnings = _build(_site(tmp_path, "serial"), 1, caplog, cache=False)
    assert not pools
    pooled, pooled_warnings = _build(_site(tmp_path, "pooled"), 2, caplog, cache=False)
    assert pools and pooled == serial and pooled_warnings == serial_warnings


def test_a_markup_error_found_in_the_pool_names_file_and_line(tmp_path: Path, monkeypatch) -> None:
    from extranet.content import records
    from extranet.errors import SiteError

    monkeypatch.setattr(records, "POOL_THRESHOLD", 2)
    monkeypatch.setattr(records, "CHUNK", 3)
    root = _site(tmp_path, "site")
    post = root / "content/projects/passerelle-moulin/posts/2026-03-02-galvanisation.md"
    post.write_text(post.read_text(encoding="utf-8") + "\n::: internal\nnever closed\n", encoding="utf-8")
    lines = post.read_text(encoding="utf-8").splitlines()
    line = len(lines) - lines[::-1].index("::: internal")
    with pytest.raises(SiteError) as error:
        build(root, now=NOW, encrypt=False, jobs=2, cache=False)
    assert f"2026-03-02-galvanisation.md:{line}:" in str(error.value)
    assert "never closed" in str(error.value)
    assert not (root / "public").exists()



@pytest.mark.parametrize("recycle", [False, True])
def test_workers_kept_or_replaced_build_the_serial_output_without_parsing_a_template(
        tmp_path: Path, monkeypatch, caplog, recycle: bool) -> None:
    """Workers kept to the end (a small site) or replaced after each task (as a large one's
    are, forced here) render the serial output; the templates were loaded and analysed in the
    build process before the fork, so no worker parses one again."""
    monkeypatch.setattr(pool, "POOL_THRESHOLD", 0)
    monkeypatch.setattr(pool, "RECYCLE_ABOVE_MB", 0 if recycle else 10**6)
    monkeypatch.setattr(pool, "MAX_TASKS", 1)
    assert pool._tasks_per_worker() == (1 if recycle else None)
    serial, _ = _build(_site(tmp_path, "serial"), 1, caplog, cache=False)
    parent, parsed = os.getpid(), tmp_path / "parsed"
    real_parse = jinja2.Environment._parse

    def parse(self, *args):
        if os.getpid() != parent:
            with open(parsed, "a", encoding="utf-8") as f:
                f.write(f"{os.getpid()} {args[1]}\n")
        return real_parse(self, *args)

    monkeypatch.setattr(jinja2.Environment, "_parse", parse)
    parallel, _ = _build(_site(tmp_path, "parallel"), 2, caplog, cache=False)
    assert parallel == serial
    assert not parsed.exists(), parsed.read_text(encoding="utf-8")
