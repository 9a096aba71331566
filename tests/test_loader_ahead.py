"""Front matter parsed ahead (while bodies render in the pool) is used only for the very text
the loader reads: a source changed in between is loaded as it is now — unless what was read
ahead are the very bytes the build hashed before reading anything (see test_loader_hashed.py):
then that text is the source, and the file is not read again."""

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
    loader = _Loader(settings, people, Problems(root), early={str(path): (before, parse(before), False)})
    post = loader.post(path, "alpha")
    assert post is not None and post.title == parse(now).data["title"]
    assert str(path) not in loader.early  # taken (or dropped) once


def test_the_same_text_parsed_ahead_gives_the_same_site(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    settings, people = config.load(root)
    ahead = _Loader(settings, people, Problems(root), early={})
    path = root / "content" / "projects" / "alpha" / "posts" / "2026-01-06-pricing.md"
    text = path.read_text(encoding="utf-8")
    ahead.early[str(path)] = (text, parse(text), False)
    assert ahead.post(path, "alpha") == _Loader(settings, people, Problems(root)).post(path, "alpha")
    assert load_site(settings, people).by_key.keys()  # (the whole site still loads)


def test_a_text_read_ahead_from_the_hashed_bytes_is_not_read_again(tmp_path: Path) -> None:
    import hashlib

    from extranet.cache import open_cache
    from extranet.content.loader import _bodies_to_render
    from extranet.content.parallel import BodyStore
    from extranet.content.records import RecordStore

    root = copy_site("small", tmp_path)
    settings, people = config.load(root)
    path = root / "content" / "projects" / "alpha" / "posts" / "2026-01-06-pricing.md"
    hashes = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in (root / "content").rglob("*.md")}
    records = RecordStore(open_cache(tmp_path / "state", False), hashes)
    early: dict = {}
    list(_bodies_to_render(root / "content", BodyStore(open_cache(tmp_path / "state", False), jobs=1), records,
                           None, early))
    assert early[str(path)][2] is True
    title = parse(early[str(path)][0]).data["title"]
    path.unlink()  # (a loader that read the file again would report it missing)
    post = _Loader(settings, people, Problems(root), records=records, early=early).post(path, "alpha")
    assert post is not None and post.title == title


def test_a_body_key_noted_ahead_is_taken_only_for_the_same_item(tmp_path: Path) -> None:
    """The body key note_source computed is reused for the very same (key, text, line, email);
    any other text of the same source gets its own key."""
    from extranet.cache import open_cache
    from extranet.content.parallel import BodyStore, body_key

    store = BodyStore(open_cache(tmp_path / "state", False), jobs=1)
    item = ("projects/alpha/posts/x.md", "Hello *world*", 5, False)
    store.note_source(item[0], b"raw", item)
    assert store._key(item) == body_key(*item)
    other = (item[0], "Hello *world*!", 5, False)
    assert store._key(other) == body_key(*other) != body_key(*item)
    body = store.render(*other[:3])
    assert body.text == "Hello *world*!" and body.digest == body_key(*other)  # rendered under its own key
    assert body_key(*item) not in store.used
