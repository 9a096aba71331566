"""Front matter parsed ahead (while bodies render in the pool) is used only for the very text
the loader reads: a source changed in between is loaded as it is now."""

from __future__ import annotations

from pathlib import Path

from extranet import config
from extranet.content.frontmatter import parse
from extranet.content.loader import _Loader, load_site
from extranet.errors import Problems

from helpers import copy_site


def test_a_source_changed_after_it_was_parsed_ahead_is_loaded_as_it_is_now(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    settings, people = config.load(root)
    path = root / "content" / "projects" / "alpha" / "posts" / "2026-01-06-pricing.md"
    now = path.read_text(encoding="utf-8")
    before = now.replace("title:", "title: Stale", 1)
    assert before != now
    loader = _Loader(settings, people, Problems(root), early={str(path): (before, parse(before))})
    post = loader.post(path, "alpha")
    assert post is not None and post.title == parse(now).data["title"]
    assert str(path) not in loader.early  # taken (or dropped) once


def test_the_same_text_parsed_ahead_gives_the_same_site(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    settings, people = config.load(root)
    ahead = _Loader(settings, people, Problems(root), early={})
    path = root / "content" / "projects" / "alpha" / "posts" / "2026-01-06-pricing.md"
    text = path.read_text(encoding="utf-8")
    ahead.early[str(path)] = (text, parse(text))
    assert ahead.post(path, "alpha") == _Loader(settings, people, Problems(root)).post(path, "alpha")
    assert load_site(settings, people).by_key.keys()  # (the whole site still loads)
