"""Incremental builds give exactly the output of a cold build, after every kind of change.

Each case builds the fixture site once (filling the cache and the output), changes one thing,
builds again incrementally into the same output, then builds the same sources cold (no cache)
into another folder and compares: byte for byte without encryption, and decrypted page by page
with encryption (nonces are random).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from extranet.build import BuildState, build
from extranet.build import build as build_
from extranet.errors import SiteError
from extranet.protect import Secrets, decrypt_zone, set_password

from helpers import NOW, copy_site, read_tree, write


def new_post(root: Path) -> None:
    """A reply arriving by email, shared with the client."""
    write(root / "content/projects/alpha/posts/2026-01-09-re-kickoff.md",
          "---\ntitle: Re kickoff by email\nvisibility: mixed\nin_reply_to: 2026-01-05-kickoff\n"
          "source: email\n---\nThanks for the notes, the plan suits us perfectly.\n")


def edit_post(root: Path) -> None:
    """A shared post's text edited."""
    path = root / "content/projects/alpha/posts/2026-01-05-kickoff.md"
    path.write_text(path.read_text(encoding="utf-8").replace("We met on Monday.", "We met on Tuesday."),
                    encoding="utf-8")


def make_internal(root: Path) -> None:
    """A shared post made internal."""
    path = root / "content/projects/alpha/posts/2026-01-05-kickoff.md"
    path.write_text(path.read_text(encoding="utf-8").replace("visibility: mixed\n", ""), encoding="utf-8")


def _without_carl(root: Path) -> None:
    """The client's entry taken out of the people file."""
    path = root / "people.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index("[people.carl]")
    end = text.index("[people.sam]")
    path.write_text(text[:start] + text[end:], encoding="utf-8")


def remove_person(root: Path) -> None:
    """The client removed from the people file."""
    _without_carl(root)
    reply = root / "content/projects/alpha/posts/2026-01-07-reply.md"
    reply.write_text(reply.read_text(encoding="utf-8").replace("author: carl", "author: alice"), encoding="utf-8")


def change_template(root: Path) -> None:
    """The site's theme overrides the post template."""
    from extranet.render.theme import PACKAGE_THEMES

    original = (PACKAGE_THEMES / "default" / "templates" / "post.html").read_text(encoding="utf-8")
    write(root / "themes/default/templates/post.html",
          original.replace('<article class="post">', '<article class="post changed-template">'))


CHANGES: dict[str, Callable[[Path], None]] = {
    "new post": new_post, "edited post": edit_post, "mixed to internal": make_internal,
    "person removed": remove_person, "template changed": change_template,
}


def _site(tmp_path: Path) -> Path:
    root = copy_site("small", tmp_path)
    secrets = Secrets.load(root / ".extranet", create=True)
    for pid, email in (("alice", "alice@small.example"), ("carl", "carl@acme.example")):
        set_password(secrets, pid, email, f"pw-{pid}", iterations=1000, bcrypt_cost=4)
    secrets.save()
    return root


@pytest.mark.parametrize("warm", [False, True], ids=["fresh process", "warm process"])
@pytest.mark.parametrize("change", list(CHANGES))
def test_incremental_plain_build_equals_cold_build(tmp_path: Path, change: str, warm: bool) -> None:
    root = _site(tmp_path)
    state = BuildState() if warm else None  # what the gateway keeps in memory between rebuilds
    build(root, now=NOW, encrypt=False, state=state)
    CHANGES[change](root)
    result = build(root, now=NOW, encrypt=False, state=state)
    cold = build(root, now=NOW, encrypt=False, cache=False, out=tmp_path / "cold")
    assert result.summary().split(" in ")[0] == cold.summary().split(" in ")[0]
    for zone in ("internal", "mixed"):
        assert read_tree(root / "public" / zone) == read_tree(tmp_path / "cold" / zone), (change, zone)


@pytest.mark.parametrize("warm", [False, True], ids=["fresh process", "warm process"])
@pytest.mark.parametrize("change", list(CHANGES))
def test_incremental_encrypted_build_decrypts_to_cold_build(tmp_path: Path, change: str, warm: bool) -> None:
    root = _site(tmp_path)
    state = BuildState() if warm else None
    build(root, now=NOW, encrypt=True, state=state)
    CHANGES[change](root)
    build(root, now=NOW, encrypt=True, state=state)
    build(root, now=NOW, encrypt=True, cache=False, out=tmp_path / "cold")
    secrets = Secrets.load(root / ".extranet")
    for zone in ("internal", "mixed"):
        incremental = read_tree(root / "public" / zone)
        cold = read_tree(tmp_path / "cold" / zone)
        assert incremental.keys() == cold.keys(), (change, zone)
        assert decrypt_zone(incremental, secrets, zone) == decrypt_zone(cold, secrets, zone), (change, zone)


@pytest.mark.parametrize("encrypt", [False, True], ids=["plain", "encrypted"])
def test_warm_builds_one_change_after_another_equal_cold_builds(tmp_path: Path, encrypt: bool) -> None:
    """The gateway's case: one process, its build state kept, one change after another."""
    root = _site(tmp_path)
    state = BuildState()
    build(root, now=NOW, encrypt=encrypt, state=state)
    secrets = Secrets.load(root / ".extranet")
    for n, change in enumerate(["new post", "edited post", "template changed", "mixed to internal",
                                "person removed"]):
        CHANGES[change](root)
        build(root, now=NOW, encrypt=encrypt, state=state)
        cold = tmp_path / f"cold-{n}"
        build(root, now=NOW, encrypt=encrypt, cache=False, out=cold)
        for zone in ("internal", "mixed"):
            warm, fresh = read_tree(root / "public" / zone), read_tree(cold / zone)
            if encrypt:
                assert warm.keys() == fresh.keys(), (change, zone)
                secrets = Secrets.load(root / ".extranet")
                warm, fresh = decrypt_zone(warm, secrets, zone), decrypt_zone(fresh, secrets, zone)
            assert warm == fresh, (change, zone)
    assert build(root, now=NOW, encrypt=encrypt).unchanged  # a command-line build after the gateway's
    assert sorted(p.name for p in (root / "public").iterdir()) == ["internal", "mixed"]


@pytest.mark.parametrize("warm", [True, False], ids=["kept-in-memory", "from-the-cache-on-disk"])
def test_a_build_reads_only_the_sources_that_changed(tmp_path: Path, monkeypatch, warm: bool) -> None:
    """The records kept by content: a source whose bytes the last build parsed is not read again,
    whether the state is kept by a long-running process or read from .extranet/cache/ by a
    fresh `extranet build`."""
    import extranet.content.loader as loader

    root = _site(tmp_path)
    state = BuildState() if warm else None
    build(root, now=NOW, encrypt=False, state=state)
    new_post(root)
    read: list[str] = []
    real = loader._Loader.read
    monkeypatch.setattr(loader._Loader, "read", lambda self, path: read.append(path) or real(self, path))
    build(root, now=NOW, encrypt=False, state=state)
    assert [Path(p).name for p in read] == ["2026-01-09-re-kickoff.md"]
    assert b"the plan suits us perfectly" in b"".join(read_tree(root / "public" / "mixed").values())


def test_warm_build_reports_a_broken_source_and_recovers(tmp_path: Path) -> None:
    root = _site(tmp_path)
    state = BuildState()
    build(root, now=NOW, encrypt=False, state=state)
    post = root / "content/projects/alpha/posts/2026-01-05-kickoff.md"
    good = post.read_text(encoding="utf-8")
    post.write_text(good.replace("visibility: mixed", "visibility: everyone"), encoding="utf-8")
    with pytest.raises(SiteError, match="2026-01-05-kickoff.md"):
        build(root, now=NOW, encrypt=False, state=state)
    with pytest.raises(SiteError, match="2026-01-05-kickoff.md"):  # not taken from the memo either
        build(root, now=NOW, encrypt=False, state=state)
    post.write_text(good.replace("We met on Monday.", "We met on Wednesday."), encoding="utf-8")
    build(root, now=NOW, encrypt=False, state=state)
    _same_as_cold(root, tmp_path, NOW)
    assert b"We met on Wednesday" in b"".join(read_tree(root / "public" / "mixed").values())


def test_warm_build_sees_a_person_leaving_a_project(tmp_path: Path) -> None:
    """Loaded projects are kept by the people file too: the same folder, other people, checked again."""
    root = _site(tmp_path)
    state = BuildState()
    build(root, now=NOW, encrypt=False, state=state)
    _without_carl(root)  # carl still wrote the reply in alpha
    with pytest.raises(SiteError, match="unknown person 'carl'"):
        build(root, now=NOW, encrypt=False, state=state)


def test_server_layer_is_written_again_only_when_it_changes(tmp_path: Path) -> None:
    root = _site(tmp_path)
    build(root, now=NOW, encrypt=True)
    server = root / ".extranet" / "server"
    htpasswd = server / "mixed.htpasswd"
    inode, before = htpasswd.stat().st_ino, read_tree(server)
    assert b"carl" in htpasswd.read_bytes()
    new_post(root)
    build(root, now=NOW, encrypt=True)
    assert htpasswd.stat().st_ino == inode and read_tree(server) == before  # the same files, untouched
    remove_person(root)
    build(root, now=NOW, encrypt=True)
    assert b"carl" not in htpasswd.read_bytes() and read_tree(server) != before


def test_post_made_internal_vanishes_from_the_mixed_zone(tmp_path: Path) -> None:
    root = _site(tmp_path)
    build(root, now=NOW, encrypt=False)
    mixed = b"".join(read_tree(root / "public" / "mixed").values())
    assert b"We met on Monday" in mixed and b"Kickoff meeting notes" in mixed
    make_internal(root)
    build(root, now=NOW, encrypt=False)
    mixed = b"".join(read_tree(root / "public" / "mixed").values())
    assert b"We met on Monday" not in mixed and b"Kickoff meeting notes" not in mixed
    internal = b"".join(read_tree(root / "public" / "internal").values())
    assert b"We met on Monday" in internal


def test_unchanged_build_reuses_every_page_file(tmp_path: Path) -> None:
    root = _site(tmp_path)
    build(root, now=NOW, encrypt=True)
    page = next((root / "public" / "mixed").glob("p/*/index.html"))
    inode = page.stat().st_ino
    build(root, now=NOW, encrypt=True)
    assert page.stat().st_ino == inode  # hard-linked from the previous output, not re-encrypted


def test_damaged_cache_is_ignored(tmp_path: Path) -> None:
    root = _site(tmp_path)
    build(root, now=NOW, encrypt=False)
    for f in (root / ".extranet" / "cache").glob("*.pickle"):
        f.write_bytes(b"not a pickle")
    edit_post(root)
    build(root, now=NOW, encrypt=False)
    build(root, now=NOW, encrypt=False, cache=False, out=tmp_path / "cold")
    assert read_tree(root / "public" / "mixed") == read_tree(tmp_path / "cold" / "mixed")


# -- the "no change" fast path ------------------------------------------------------------

def _same_as_cold(root: Path, tmp_path: Path, now) -> None:
    build(root, now=now, encrypt=False, cache=False, out=tmp_path / "cold")
    for zone in ("internal", "mixed"):
        assert read_tree(root / "public" / zone) == read_tree(tmp_path / "cold" / zone), zone


def test_no_change_build_does_nothing_and_keeps_the_output(tmp_path: Path) -> None:
    root = _site(tmp_path)
    first = build(root, now=NOW, encrypt=True)
    before = read_tree(root / "public" / "mixed")
    again = build(root, now=NOW, encrypt=True)
    assert again.unchanged and not first.unchanged
    assert again.summary().split(" in ")[0] == first.summary().split(" in ")[0]
    assert read_tree(root / "public" / "mixed") == before


@pytest.mark.parametrize("warm", [False, True], ids=["fresh process", "warm process"])
def test_no_change_is_not_assumed_when_a_future_post_becomes_due(tmp_path: Path, warm: bool) -> None:
    import datetime as dt
    from functools import partial

    build = partial(build_, state=BuildState() if warm else None)  # the same records, a later moment
    root = _site(tmp_path)
    due = NOW + dt.timedelta(hours=1)
    write(root / f"content/projects/alpha/posts/{due:%Y-%m-%d}-later.md",
          f"---\ntitle: Announced for later\nvisibility: mixed\ndate: {due:%Y-%m-%dT%H:%M:%S}\n---\nComing soon.\n")
    build(root, now=NOW, encrypt=False)
    assert build(root, now=NOW + dt.timedelta(minutes=59), encrypt=False).unchanged
    mixed = b"".join(read_tree(root / "public" / "mixed").values())
    assert b"Announced for later" not in mixed
    result = build(root, now=due, encrypt=False)
    assert not result.unchanged
    assert b"Announced for later" in b"".join(read_tree(root / "public" / "mixed").values())
    _same_as_cold(root, tmp_path, due)


@pytest.mark.parametrize("warm", [False, True], ids=["fresh process", "warm process"])
def test_no_change_is_not_assumed_when_a_person_expires(tmp_path: Path, warm: bool) -> None:
    import datetime as dt
    from functools import partial

    build = partial(build_, state=BuildState() if warm else None)  # the same records, a later moment
    root = _site(tmp_path)
    path = root / "people.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        'org = "acme"\n', f'org = "acme"\nexpires = {NOW:%Y-%m-%d}\n'), encoding="utf-8")
    build(root, now=NOW, encrypt=False)
    assert b"Kickoff meeting notes" in b"".join(read_tree(root / "public" / "mixed").values())
    midnight = dt.datetime.combine(NOW.date() + dt.timedelta(days=1), dt.time())
    assert build(root, now=midnight - dt.timedelta(seconds=1), encrypt=False).unchanged
    result = build(root, now=midnight, encrypt=False)
    assert not result.unchanged  # carl's access ended: alpha has no external reader left
    assert b"Kickoff meeting notes" not in b"".join(read_tree(root / "public" / "mixed").values())
    _same_as_cold(root, tmp_path, midnight)


def test_no_change_is_not_assumed_when_the_output_was_touched(tmp_path: Path) -> None:
    root = _site(tmp_path)
    build(root, now=NOW, encrypt=False)
    page = root / "public" / "mixed" / "index.html"
    page.write_bytes(b"defaced")
    assert not build(root, now=NOW, encrypt=False).unchanged
    extra = root / "public" / "mixed" / "stray.html"
    extra.write_bytes(b"not ours")
    assert not build(root, now=NOW, encrypt=False).unchanged
    assert not extra.exists()
    _same_as_cold(root, tmp_path, NOW)


def test_no_change_is_not_assumed_after_an_edit_that_keeps_size_and_mtime(tmp_path: Path) -> None:
    import os

    root = _site(tmp_path)
    build(root, now=NOW, encrypt=False)
    path = root / "content/projects/alpha/posts/2026-01-05-kickoff.md"
    st = path.stat()
    edit_post(root)  # Monday -> Tuesday: one more byte
    path.write_text(path.read_text(encoding="utf-8").replace("We met on", "We met o"), encoding="utf-8")
    assert path.stat().st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not build(root, now=NOW, encrypt=False).unchanged
    assert b"We met o Tuesday" in b"".join(read_tree(root / "public" / "mixed").values())
    _same_as_cold(root, tmp_path, NOW)


def test_no_change_is_not_assumed_after_a_password_reset(tmp_path: Path) -> None:
    root = _site(tmp_path)
    build(root, now=NOW, encrypt=True)
    secrets = Secrets.load(root / ".extranet")
    set_password(secrets, "carl", "carl@acme.example", "new-password", iterations=1000, bcrypt_cost=4)
    secrets.save()
    assert not build(root, now=NOW, encrypt=True).unchanged
    assert build(root, now=NOW, encrypt=True).unchanged


# -- caches by content: parsed sources -----------------------------------------

def test_text_shown_elsewhere_is_withheld_when_that_place_turns_internal(tmp_path: Path) -> None:
    root = _site(tmp_path)
    secret = "The pricing of the second phase stays between us for now."
    write(root / "content/projects/alpha/posts/2026-01-08-costs.md",
          f"---\ntitle: Internal costs note\n---\n{secret}\n")
    write(root / "content/projects/alpha/posts/2026-01-08-quote.md",
          f"---\ntitle: Quote for the client\nvisibility: mixed\n---\n{secret}\n")
    build(root, now=NOW, encrypt=False)
    assert secret.encode() in b"".join(read_tree(root / "public" / "mixed").values())
    make_quote_internal = root / "content/projects/alpha/posts/2026-01-08-quote.md"
    make_quote_internal.write_text(make_quote_internal.read_text(encoding="utf-8").replace("visibility: mixed\n", ""),
                                   encoding="utf-8")
    build(root, now=NOW, encrypt=False)
    mixed = b"".join(read_tree(root / "public" / "mixed").values())
    assert secret.encode() not in mixed and b"Quote for the client" not in mixed
    _same_as_cold(root, tmp_path, NOW)


def test_visibility_edit_in_front_matter_invalidates_the_parsed_source(tmp_path: Path) -> None:
    root = _site(tmp_path)
    build(root, now=NOW, encrypt=True)
    make_internal(root)  # only the front matter changes; the body is the same
    build(root, now=NOW, encrypt=True)
    secrets = Secrets.load(root / ".extranet")
    mixed = decrypt_zone(read_tree(root / "public" / "mixed"), secrets, "mixed")
    text = b"".join(mixed.values())
    assert b"We met on Monday" not in text and b"Kickoff meeting notes" not in text


def test_new_reply_rerenders_only_the_pages_that_show_it(tmp_path: Path) -> None:
    """Inside a project that changed, each page is reused or rendered on its own: the parent
    lists the reply, the previous post links to it, an untouched post page is the same file."""
    root = _site(tmp_path)
    build(root, now=NOW, encrypt=False)
    folder = root / "public" / "internal" / "projects" / "alpha"
    untouched = folder / "2026-01-06-pricing.html"
    inode = untouched.stat().st_ino
    new_post(root)
    build(root, now=NOW, encrypt=False)
    assert untouched.stat().st_ino == inode  # linked from the previous output, not rendered again
    assert b"Re kickoff by email" in (folder / "2026-01-05-kickoff.html").read_bytes()  # its replies
    assert b"Re kickoff by email" in (folder / "2026-01-07-reply.html").read_bytes()  # its "next" link
    assert b"Re kickoff by email" in (folder / "index.html").read_bytes()
    build(root, now=NOW, encrypt=False, cache=False, out=tmp_path / "cold")
    for zone in ("internal", "mixed"):
        assert read_tree(root / "public" / zone) == read_tree(tmp_path / "cold" / zone), zone


def test_project_title_change_reaches_every_post_page(tmp_path: Path) -> None:
    """Post pages are keyed by their project's header: a new title re-renders them all."""
    root = _site(tmp_path)
    build(root, now=NOW, encrypt=False)
    index = root / "content/projects/alpha/index.md"
    text = index.read_text(encoding="utf-8")
    title = next(line for line in text.splitlines() if line.startswith("title:"))
    index.write_text(text.replace(title, "title: Renamed project alpha"), encoding="utf-8")
    build(root, now=NOW, encrypt=False)
    page = (root / "public" / "internal" / "projects" / "alpha" / "2026-01-06-pricing.html").read_bytes()
    assert b"Renamed project alpha" in page
    build(root, now=NOW, encrypt=False, cache=False, out=tmp_path / "cold")
    for zone in ("internal", "mixed"):
        assert read_tree(root / "public" / zone) == read_tree(tmp_path / "cold" / zone), zone


def test_person_homes_are_all_of_one_size_and_follow_their_projects(tmp_path: Path) -> None:
    """A client's home lists only their projects; every home of the zone has the same size
    (a size must not tell whose home it is, nor how many projects it lists), build after build;
    a reply in their project shows in it, as a cold build would."""
    from extranet.protect.homes import HOME_DIR

    root = _site(tmp_path)
    build(root, now=NOW, encrypt=True)
    study = root / "content/projects/beta/posts/2026-01-08-study.md"
    study.write_text(study.read_text(encoding="utf-8") + "\nOne more internal line.\n", encoding="utf-8")
    build(root, now=NOW, encrypt=True)
    new_post(root)
    build(root, now=NOW, encrypt=True)
    homes = {p: d for p, d in read_tree(root / "public" / "mixed").items() if p.startswith(HOME_DIR)}
    assert len(homes) >= 4 and len({len(d) for d in homes.values()}) == 1
    build(root, now=NOW, encrypt=True, cache=False, out=tmp_path / "cold")
    secrets = Secrets.load(root / ".extranet")
    incremental, cold = read_tree(root / "public" / "mixed"), read_tree(tmp_path / "cold" / "mixed")
    assert incremental.keys() == cold.keys()
    assert decrypt_zone(incremental, secrets, "mixed") == decrypt_zone(cold, secrets, "mixed")


@pytest.mark.parametrize("cache", [True, False])
def test_email_original_is_shown_with_or_without_the_cache(tmp_path: Path, cache: bool) -> None:
    """The internal site shows an email post's full original whether the build hashed its
    inputs first (cache) or not (--no-cache, previews)."""
    import shutil

    import extranet

    root = tmp_path / "site"
    shutil.copytree(Path(extranet.__file__).parent / "example", root,
                    ignore=shutil.ignore_patterns(".extranet", "public"))
    build(root, now=NOW, encrypt=False, cache=cache)
    page = root / "public/internal/projects/passerelle-moulin/2026-02-12-re-plan-implantation.html"
    assert "Le 10/02/2026 à 17:12, Julien Roux" in page.read_text(encoding="utf-8")


def test_previous_output_is_kept_or_deleted_outside_the_served_folder(tmp_path: Path) -> None:
    """The swapped-out tree leaves public/ at once: kept as the spare the next build brings up
    to date (.extranet/spare, never served), or without the cache moved to .extranet/trash and
    deleted by a separate process; the next build still knows nothing changed."""
    from extranet.output import settle

    root = _site(tmp_path)
    build(root, now=NOW, encrypt=False)
    edit_post(root)
    build(root, now=NOW, encrypt=False)
    assert sorted(p.name for p in (root / "public").iterdir()) == ["internal", "mixed"]
    spares = list((root / ".extranet" / "spare").iterdir())
    assert len(spares) == 1 and sorted(p.name for p in spares[0].iterdir()) == ["internal", "mixed"]
    assert build(root, now=NOW, encrypt=False).unchanged
    make_internal(root)
    build(root, now=NOW, encrypt=False, cache=False)
    assert sorted(p.name for p in (root / "public").iterdir()) == ["internal", "mixed"]
    settle()
    assert not any((root / ".extranet" / "trash").iterdir())


def test_output_memo_written_half_by_a_crash_is_not_trusted(tmp_path: Path) -> None:
    """The record of the published pages is one file per zone beside the one that names the
    build that wrote them: the pages of a newer build with the record of an older one (a crash
    in between) are not reused."""
    import re
    import shutil

    from extranet.cache import open_cache
    from extranet.render.memo import PageMemo

    root = _site(tmp_path)
    build(root, now=NOW, encrypt=False)
    cache = root / ".extranet" / "cache"
    meta = re.compile(r"pages(\.pickle|\.\d+\.\d+\.delta)$")
    old = tmp_path / "old-meta"
    old.mkdir()
    for f in cache.iterdir():
        if meta.match(f.name):
            shutil.copy(f, old / f.name)
    assert PageMemo(open_cache(root / ".extranet"), root / "public", False).entries  # as written
    new_post(root)
    build(root, now=NOW, encrypt=False)
    for f in cache.iterdir():
        if meta.match(f.name):
            f.unlink()
    for f in old.iterdir():
        shutil.copy(f, cache / f.name)
    assert PageMemo(open_cache(root / ".extranet"), root / "public", False).entries == {}
    edit_post(root)
    build(root, now=NOW, encrypt=False)
    _same_as_cold(root, tmp_path, NOW)


def test_deleting_processes_are_reaped_in_a_long_running_process(tmp_path: Path) -> None:
    """The gateway rebuilds for months: a finished deleting process is not left as a zombie."""
    import time

    from extranet import output

    root = _site(tmp_path)
    build(root, now=NOW, encrypt=False)
    for i in range(4):
        (root / "content/projects/alpha/posts" / f"2026-01-1{i}-note.md").write_text(
            f"---\ntitle: Note {i}\nvisibility: mixed\n---\nNote {i}.\n", encoding="utf-8")
        build(root, now=NOW, encrypt=False)
        time.sleep(0.3)
    assert len(output._CLEANERS) <= 2  # the ones started since the last were reaped
    output.settle()
