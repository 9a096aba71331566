"""The audit trusts nothing of the build it checks: it reads the served files, decrypts them
with the key of the scope that may hold them, and compares with what the sources allow.

Each test breaks the output (or the build) the way a bug or an intruder would, and the audit
must say so: `extranet audit` on disk, and the build itself before it swaps anything in.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from client import cli, give_passwords
from extranet import zones
from extranet.build import BuildError, build
from extranet.site.urls import urls_for
from extranet.config import load
from extranet.content.loader import load_site
from extranet.protect.crypto import ContentKey, seal
from extranet.protect.secrets import Secrets
from extranet.protect.shell import shell_blob, shell_page
from helpers import SITES, read_tree, write

PEOPLE = {"sara": "sara@own.example", "carl": "carl@acme.example", "bob": "bob@bolt.example"}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "zones"
    shutil.copytree(SITES / "zones", root)
    give_passwords(root, PEOPLE)
    result = cli(root, "build")
    assert result.returncode == 0, result.stderr.decode()
    assert cli(root, "audit").returncode == 0
    return root


def audit_fails(root: Path, *words: str) -> str:
    result = cli(root, "audit")
    out = result.stdout.decode() + result.stderr.decode()
    assert result.returncode != 0, out
    for word in words:
        assert word in out, out
    return out


def paths(root: Path):
    settings, people = load(root)
    site = load_site(settings, people)
    return site, urls_for(settings, True)


def key(root: Path, zone: str, scope: str) -> ContentKey:
    return ContentKey.from_secret(Secrets.load(root / ".extranet").zone(zone).keys[scope])


def test_an_internal_page_copied_into_the_mixed_output_is_found(site: Path) -> None:
    site_, urls = paths(site)
    pricing = site_.by_key["projects/alpha/posts/2026-01-06-pricing.md"]
    data = (site / "public/internal" / urls["internal"].post(pricing)).read_bytes()
    target = site / "public/mixed" / urls["mixed"].post(pricing)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    audit_fails(site, "not a file the mixed zone may hold")


def _reseal(root: Path, scope: str, change=lambda plain: plain) -> None:
    """Open alpha's kickoff page, change it, and seal it again with the key of `scope`."""
    site_, urls = paths(root)
    path = urls["mixed"].post(site_.by_key["projects/alpha/posts/2026-01-05-kickoff.md"])
    file = root / "public/mixed" / path
    plain = change(_open(root, "mixed", "alpha", file.read_bytes()))
    file.write_bytes(shell_page(path, seal(key(root, "mixed", scope), plain), zone="mixed", title="t",
                                language="en", static_prefix="static/"))


def test_a_page_sealed_with_another_projects_key_is_found(site: Path) -> None:
    """A page of alpha sealed with beta's key would open for beta's supplier."""
    _reseal(site, "beta")
    audit_fails(site, "does not open with the key of its scope alpha")


def test_an_internal_passage_slipped_into_a_shared_page_is_found(site: Path) -> None:
    _reseal(site, "alpha", lambda plain: plain.replace(
        b"We met on Monday", b"We met on Monday. Pricing secret: the supplier quote is 41,200 euros for the deck"))
    audit_fails(site, "contains internal text")


def test_internal_attachment_bytes_at_a_shared_attachments_path_are_found(site: Path) -> None:
    site_, urls = paths(site)
    plan = site_.by_key["projects/alpha/files/plan.txt"]
    file = site / "public/mixed" / urls["mixed"].attachment(plan)
    file.write_bytes(seal(key(site, "mixed", "alpha"), (site / "content/projects/alpha/files/costs-internal.csv")
                          .read_bytes()))
    audit_fails(site, "holds the bytes of an internal attachment")


def test_a_file_left_unencrypted_is_found(site: Path) -> None:
    site_, urls = paths(site)
    kickoff = site_.by_key["projects/alpha/posts/2026-01-05-kickoff.md"]
    file = site / "public/mixed" / urls["mixed"].post(kickoff)
    file.write_bytes(_open(site, "mixed", "alpha", file.read_bytes()))
    audit_fails(site, "does not open")


def test_a_keyring_giving_someone_more_is_found(site: Path) -> None:
    (site / "public/mixed/keyring.json").write_bytes((site / "public/internal/keyring.json").read_bytes())
    audit_fails(site, "opens")


def test_a_visibility_bug_in_the_rules_fails_the_build_and_keeps_the_old_output(site: Path, monkeypatch) -> None:
    """Were zones.py to share every post, the audit (with its own reading of the sources)
    would stop the build before anything is swapped in."""
    before = read_tree(site / "public")
    write(site / "content/projects/alpha/posts/2026-01-09-news.md",
          "---\ntitle: News\nauthor: sara\nvisibility: mixed\n---\nNews.\n")
    monkeypatch.setattr(zones.Rules, "post_visible", lambda self, zone, post: self.published(post))
    with pytest.raises(BuildError, match="audit failed"):
        build(site)
    assert read_tree(site / "public") == before


def test_a_file_rule_bug_fails_the_build(site: Path, monkeypatch) -> None:
    """Were zones.py to share every attachment of a shared project, likewise."""
    before = read_tree(site / "public")
    monkeypatch.setattr(zones.Rules, "shared_files", lambda self, project, posts, show_body: project.files)
    with pytest.raises(BuildError, match="audit failed"):
        build(site, cache=False)
    assert read_tree(site / "public") == before


def _open(root: Path, zone: str, scope: str, data: bytes) -> bytes:
    from extranet.protect.crypto import open_blob

    return open_blob(key(root, zone, scope), shell_blob(data))


def _leak_in_place(site: Path) -> None:
    """A leak written into a served page of the mixed zone: the same inode, the same size, the
    same modification time (only its change time tells)."""
    site_, urls = paths(site)
    path = site / "public/mixed" / urls["mixed"].post(site_.by_key["projects/alpha/posts/2026-01-05-kickoff.md"])
    st = path.stat()
    plain = _open(site, "mixed", "alpha", path.read_bytes())
    leaked = plain.replace(b"We met on Monday", b"Pricing secret: the supplier quote is 41,200 euros for the deck")
    forged = shell_page(path.name, seal(key(site, "mixed", "alpha"), leaked), zone="mixed", title="t",
                        language="en", static_prefix="static/")
    with open(path, "r+b") as f:
        f.write(forged[: st.st_size].ljust(st.st_size, b" "))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_kept_file_tampered_with_behind_the_builds_back_is_found_by_the_next_build(site: Path) -> None:
    """The page memo keeps a file by its size, mtime and inode; the audit re-checks any file
    whose bytes are not the ones it found sound: a change that keeps all three is still caught."""
    assert cli(site, "build").returncode == 0  # (the memo and the audit's verdicts recorded)
    _leak_in_place(site)
    write(site / "content/projects/beta/posts/2026-01-09-news.md",
          "---\ntitle: News\nauthor: sara\nvisibility: mixed\n---\nNews of beta.\n")  # something to build
    result = cli(site, "build")
    assert result.returncode != 0 and b"audit failed" in result.stderr, result.stderr.decode()


def _reads(monkeypatch) -> list[str]:
    """The files the audit reads from now on (identities recorded at once: no racy wait)."""
    from extranet.audit import check

    monkeypatch.setattr(check, "RACY_NS", 0)
    read: list[str] = []
    identified = check.identified

    def counting(path, seen, name):
        found = identified(path, seen, name)
        if found[1] is not None:
            read.append(name)
        return found

    monkeypatch.setattr(check, "identified", counting)
    return read


def test_the_audit_reads_again_only_the_files_that_changed(site: Path, monkeypatch) -> None:
    """Kept files are the very files the last audit read (the spare tree is brought up to date
    in place): the next build's audit reads only those written since."""
    read = _reads(monkeypatch)
    write(site / "content/projects/beta/posts/2026-01-09-news.md",
          "---\ntitle: News\nauthor: sara\nvisibility: mixed\n---\nNews of beta.\n")
    build(site)  # (the spare tree made, every file read once)
    time.sleep(0.05)
    assert len(read) > 20
    read.clear()
    write(site / "content/projects/beta/posts/2026-01-10-more.md",
          "---\ntitle: More\nauthor: sara\nvisibility: mixed\n---\nMore news of beta.\n")
    build(site)
    site_, urls = paths(site)
    more = site_.by_key["projects/beta/posts/2026-01-10-more.md"]
    kickoff = site_.by_key["projects/alpha/posts/2026-01-05-kickoff.md"]
    assert f"mixed/{urls['mixed'].post(more)}" in read and f"internal/{urls['internal'].post(more)}" in read
    assert f"mixed/{urls['mixed'].post(kickoff)}" not in read and f"internal/{urls['internal'].post(kickoff)}" not in read
    alpha = [f"{zone}/{urls[zone].post(post)}" for post in site_.by_key["projects/alpha/index.md"].posts
             for zone in ("internal", "mixed")]
    assert not set(alpha) & set(read), read  # (a project that did not change: none of its posts' pages)


def test_a_file_written_in_place_after_its_audit_is_read_again(site: Path, monkeypatch) -> None:
    """As the test above, with the audit's record of every file settled: a kept page written in
    place, its size and mtime kept, is read again (its change time moved) and the leak found."""
    _reads(monkeypatch)
    write(site / "content/projects/beta/posts/2026-01-09-news.md",
          "---\ntitle: News\nauthor: sara\nvisibility: mixed\n---\nNews of beta.\n")
    build(site)
    time.sleep(0.05)
    _leak_in_place(site)
    write(site / "content/projects/beta/posts/2026-01-10-more.md",
          "---\ntitle: More\nauthor: sara\nvisibility: mixed\n---\nMore news of beta.\n")
    with pytest.raises(BuildError, match="audit failed"):
        build(site)


def _audit_in_process(root: Path, verdicts=None) -> list[str]:
    import datetime as dt

    from extranet.audit import audit_output

    settings, people = load(root)
    site_ = load_site(settings, people)
    folders = {zone: root / "public" / zone for zone in ("internal", "mixed")}
    secrets = Secrets.load(root / ".extranet")
    return audit_output(site_, dt.datetime.now(), folders, urls_for(settings, True), secrets, verdicts=verdicts)


def test_the_files_read_in_worker_processes_are_judged_alike(site: Path, monkeypatch) -> None:
    """On a large site the files are read and decrypted in forked workers while the sources are
    read again: the same problems are found, in either zone, as when read in one process."""
    from extranet.audit import check

    _reseal(site, "beta")
    site_, urls = paths(site)
    pricing = site_.by_key["projects/alpha/posts/2026-01-06-pricing.md"]
    stray = site / "public/internal/p/stray.html"
    stray.parent.mkdir(parents=True, exist_ok=True)
    kickoff = site_.by_key["projects/alpha/posts/2026-01-05-kickoff.md"]
    stray.write_bytes((site / "public/mixed" / urls["mixed"].post(kickoff)).read_bytes())
    copied = site / "public/mixed" / urls["mixed"].post(pricing)
    copied.parent.mkdir(parents=True, exist_ok=True)
    copied.write_bytes((site / "public/internal" / urls["internal"].post(pricing)).read_bytes())
    serial = _audit_in_process(site)
    assert any("does not open with the key of its scope alpha" in p for p in serial), serial
    assert any("not a file the mixed zone may hold" in p for p in serial), serial
    assert any(p.startswith("internal/p/stray.html: not encrypted with this zone's keys") for p in serial), serial
    monkeypatch.setattr(check, "POOL_THRESHOLD", 0)
    monkeypatch.setattr(check.os, "cpu_count", lambda: 2)
    assert _audit_in_process(site) == serial


def test_bytes_found_sound_are_read_again_when_the_passages_change(site: Path, monkeypatch) -> None:
    """A verdict holds for the same bytes checked against the same passages: once a text of a
    served page becomes internal, the same bytes are opened and searched again (in workers)."""
    from extranet.audit import check

    monkeypatch.setattr(check, "POOL_THRESHOLD", 0)
    monkeypatch.setattr(check.os, "cpu_count", lambda: 2)
    words = "Zebra quartz notes about the harbour crane rental for the second deck"
    _reseal(site, "alpha", lambda plain: plain.replace(b"We met on Monday", f"We met on Monday. {words}.".encode()))
    verdicts = check.Verdicts()
    assert _audit_in_process(site, verdicts) == []  # (nothing internal says so yet)
    write(site / "content/projects/alpha/posts/2026-01-10-crane.md",
          f"---\ntitle: Crane\nauthor: sara\nvisibility: internal\n---\n{words}.\n")
    found = _audit_in_process(site, check.Verdicts(dict(verdicts.used)))
    assert len(found) == 1 and "contains internal text 'zebra quartz notes" in found[0], found


@pytest.mark.parametrize("workers", [False, True])
def test_an_internal_file_found_sound_and_replaced_is_opened_again(site: Path, monkeypatch, workers: bool) -> None:
    """The internal zone's files found to open with its keys are not opened again while they
    hold the same bytes: one replaced by a file of the mixed zone is found by the next audit."""
    from extranet.audit import check

    if workers:
        monkeypatch.setattr(check, "POOL_THRESHOLD", 0)
        monkeypatch.setattr(check.os, "cpu_count", lambda: 2)
    site_, urls = paths(site)
    verdicts = check.Verdicts()
    assert _audit_in_process(site, verdicts) == []
    pricing = site_.by_key["projects/alpha/posts/2026-01-06-pricing.md"]
    kickoff = site_.by_key["projects/alpha/posts/2026-01-05-kickoff.md"]
    assert f"internal/{urls['internal'].post(pricing)}" in verdicts.used  # (found sound)
    (site / "public/internal" / urls["internal"].post(pricing)).write_bytes(
        (site / "public/mixed" / urls["mixed"].post(kickoff)).read_bytes())
    found = _audit_in_process(site, check.Verdicts(dict(verdicts.used)))
    assert any(p.startswith(f"internal/{urls['internal'].post(pricing)}: not encrypted with this zone's keys")
               for p in found), found


def _audit_apart(monkeypatch) -> None:
    """The build's audit in a process of its own, and its files judged in worker processes
    (it knows what to look for before it forks them), whatever the size of the site."""
    import extranet.audit as audit
    from extranet.audit import check

    monkeypatch.setattr(audit, "PROCESS_THRESHOLD", 0)
    monkeypatch.setattr(check, "POOL_THRESHOLD", 0)
    monkeypatch.setattr(check.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(audit, "fail_closed", lambda *a, **k: pytest.fail("the audit ran in the build's process"))


def test_the_audit_in_a_process_of_its_own_passes_a_sound_build_and_stops_a_leaking_one(site: Path,
                                                                                          monkeypatch) -> None:
    _audit_apart(monkeypatch)
    write(site / "content/projects/alpha/posts/2026-01-09-news.md",
          "---\ntitle: News\nauthor: sara\nvisibility: mixed\n---\nNews of the week for alpha.\n")
    build(site)
    assert cli(site, "audit").returncode == 0
    before = read_tree(site / "public")
    monkeypatch.setattr(zones.Rules, "post_visible", lambda self, zone, post: self.published(post))
    with pytest.raises(BuildError, match="audit failed.*not a file the mixed zone may hold"):
        build(site, cache=False)
    assert read_tree(site / "public") == before


def test_staging_that_fails_once_the_audit_reads_the_mixed_zone_changes_nothing(site: Path, monkeypatch) -> None:
    """The mixed zone is staged first and its files read by the audit's process while the
    internal zone is written: a failure then leaves the served output as it was, and the next
    build publishes and passes its audit."""
    from extranet import output

    _audit_apart(monkeypatch)
    told: list[str] = []
    import extranet.audit as audit

    real_early, real_stage = audit.Audit.early, output.stage
    monkeypatch.setattr(audit.Audit, "early", lambda self, zone, *a: (told.append(zone), real_early(self, zone, *a)))

    def failing(out_dir, name, files, staging=None):
        if name == "internal":
            raise OSError("disk full")
        return real_stage(out_dir, name, files, staging)

    monkeypatch.setattr(output, "stage", failing)
    write(site / "content/projects/alpha/posts/2026-01-09-news.md",
          "---\ntitle: News\nauthor: sara\nvisibility: mixed\n---\nNews of the week for alpha.\n")
    before = read_tree(site / "public")
    with pytest.raises(OSError, match="disk full"):
        build(site, cache=False)
    assert told == ["mixed"] and read_tree(site / "public") == before
    monkeypatch.setattr(output, "stage", real_stage)
    build(site, cache=False)
    assert cli(site, "audit").returncode == 0 and read_tree(site / "public") != before


def test_an_audit_process_that_fails_fails_the_build(site: Path, monkeypatch) -> None:
    import extranet.audit as audit

    _audit_apart(monkeypatch)
    before = read_tree(site / "public")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the audit")

    monkeypatch.setattr(audit, "check_mixed", broken)
    with pytest.raises(BuildError, match="audit failed, nothing written: RuntimeError: a bug in the audit"):
        build(site, cache=False)
    monkeypatch.setattr(audit, "expect_mixed", broken)  # (before it is asked anything: it ends)
    with pytest.raises(BuildError, match="audit failed, nothing written: its process ended"):
        build(site, cache=False)
    assert read_tree(site / "public") == before
