"""A source is loaded only as the bytes the build hashed before reading anything: what the
build keeps under that hash (parsed records, page keys) is made from those bytes.
A source edited while the build runs fails the build, naming the file; nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

import extranet.inputs
from extranet import config
from extranet.build import build
from extranet.cache import open_cache
from extranet.content.loader import load_site, scan
from extranet.content.records import RecordStore
from extranet.errors import Problems, SiteError

from helpers import NOW, copy_site, read_tree

POST = Path("content/projects/alpha/posts/2026-01-06-pricing.md")


def test_a_source_whose_bytes_are_not_the_hashed_ones_is_reported(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    settings, people = config.load(root)
    path = root / POST
    files = scan(root / "content")
    records = RecordStore(open_cache(tmp_path / "state", False))
    assert load_site(settings, people, files=files, records=records) is not None
    path.write_bytes(path.read_bytes().replace(b"title:", b"title: Edited", 1))
    records = RecordStore(open_cache(tmp_path / "state", False))
    with pytest.raises(SiteError, match="2026-01-06-pricing.md: changed while the build was reading it"):
        load_site(settings, people, Problems(root), files=files, records=records)
    assert all("Edited" not in repr(parsed) for parsed in records.used.values())  # nothing kept of it


def test_a_source_edited_during_a_build_fails_it_and_nothing_is_written(tmp_path: Path, monkeypatch) -> None:
    root = copy_site("small", tmp_path)
    build(root, now=NOW, encrypt=False)
    before = read_tree(root / "public")
    path = root / POST
    path.write_text(path.read_text(encoding="utf-8").replace("title:", "title: New", 1), encoding="utf-8")
    hashes = extranet.inputs.Inputs.content_files

    def edited_right_after_hashing(self):
        found = hashes(self)
        path.write_text(path.read_text(encoding="utf-8").replace("title:", "title: Newer", 1), encoding="utf-8")
        return found

    monkeypatch.setattr(extranet.inputs.Inputs, "content_files", edited_right_after_hashing)
    with pytest.raises(SiteError, match="2026-01-06-pricing.md.*changed while the build was reading it"):
        build(root, now=NOW, encrypt=False)
    assert read_tree(root / "public") == before
    monkeypatch.setattr(extranet.inputs.Inputs, "content_files", hashes)
    build(root, now=NOW, encrypt=False)  # built again: the file as it is now
    assert any(b"Newer New" in data for data in read_tree(root / "public").values())
