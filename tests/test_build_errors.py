"""Bad input: one clear error naming the file and line, a non-zero exit, the old output untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import copy_site, read_tree, write

POST = "content/projects/alpha/posts/2026-01-05-kickoff.md"


def run_build(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "extranet", "-C", str(root), "build"],
                          capture_output=True, text=True, timeout=60)


def replace(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


CASES = {
    "unknown front matter key": (lambda r: replace(r, POST, "tags: [meeting]", "tagz: [meeting]"),
                                 f"{POST}:5: unknown key 'tagz'"),
    "wrong type": (lambda r: replace(r, POST, "tags: [meeting]", "draft: maybe"),
                   f"{POST}:5: 'draft' must be true or false"),
    "unknown person": (lambda r: replace(r, POST, "author: alice", "author: nobody"),
                       f"{POST}:3: unknown person 'nobody'"),
    "unknown organisation in a project": (
        lambda r: replace(r, "content/projects/alpha/index.md", "orgs: [acme]", "orgs: [acme, umbrella]"),
        "content/projects/alpha/index.md:4: unknown organisation 'umbrella'"),
    "unknown organisation of a person": (lambda r: replace(r, "people.toml", 'org = "acme"', 'org = "acmee"'),
                                         "people.toml:16: unknown organisation 'acmee'"),
    "bad date in front matter": (lambda r: replace(r, POST, "author: alice", "date: 2026-13-45\nauthor: alice"),
                                 f"{POST}:3: invalid value for 'date'"),
    "date not matching the file name": (lambda r: replace(r, POST, "author: alice", "date: 2026-02-01\nauthor: alice"),
                                        f"{POST}:3: date 2026-02-01 does not match the file name's 2026-01-05"),
    "bad date in a file name": (lambda r: write(r / "content/projects/alpha/posts/2026-02-30-oops.md",
                                                "---\ntitle: Oops\n---\nx\n"),
                                "content/projects/alpha/posts/2026-02-30-oops.md: bad date in file name"),
    "bad expiry date in people.toml": (lambda r: replace(r, "people.toml", "expires = 2020-01-01", 'expires = "soon"'),
                                       "people.toml:21: 'expires' must be a date"),
    "duplicate slug": (lambda r: write(r / "content/pages/Welcome!.md", "---\ntitle: Again\n---\nx\n"),
                       "duplicate slug 'welcome'"),
    "invalid YAML": (lambda r: replace(r, POST, "tags: [meeting]", "tags: [meeting"),
                     f"{POST}:5: invalid YAML front matter"),
    "invalid UTF-8": (lambda r: (r / POST).write_bytes((r / POST).read_bytes().replace(b"Monday", b"Mon\xe9day")),
                      f"{POST}:7: invalid UTF-8"),
    "invalid TOML": (lambda r: replace(r, "extranet.toml", 'language = "en"', "language = en"),
                     "extranet.toml:2: invalid TOML"),
    "unknown setting": (lambda r: replace(r, "extranet.toml", 'language = "en"', 'language = "en"\ncolour = "red"'),
                        "extranet.toml:3: unknown key 'colour'"),
    "bad language": (lambda r: replace(r, "extranet.toml", 'language = "en"', 'language = "de"'),
                     "extranet.toml:2: 'language' must be one of fr, en"),
    "unreadable file": (lambda r: os.symlink(r / "nowhere.md", r / "content/projects/alpha/posts/2026-01-09-gone.md"),
                        "content/projects/alpha/posts/2026-01-09-gone.md: cannot read"),
    "unclosed internal block": (lambda r: replace(r, "content/projects/alpha/index.md", "exactly.\n:::", "exactly."),
                                "content/projects/alpha/index.md:9: '::: internal' block is never closed"),
    "in_reply_to an unknown post": (
        lambda r: replace(r, "content/projects/alpha/posts/2026-01-07-reply.md",
                          "in_reply_to: 2026-01-05-kickoff", "in_reply_to: 2026-01-04-nothing"),
        "in_reply_to: no post '2026-01-04-nothing'"),
    "invalid email": (lambda r: replace(r, "people.toml", '"carl@acme.example"', '"carl at acme"'),
                      "people.toml:15: invalid email address"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_clear_error_and_leaves_output(tmp_path: Path, case: str) -> None:
    root = copy_site("small", tmp_path)
    replace(root, "extranet.toml", "encrypt = false", "encrypt = false")
    first = run_build(root)
    assert first.returncode == 0, first.stderr
    before = read_tree(root / "public")
    breaker, expected = CASES[case]
    breaker(root)
    result = run_build(root)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ") and "problem(s)" not in line]
    assert len(errors) == 1, result.stderr
    assert read_tree(root / "public") == before
    assert not [p for p in (root / "public").iterdir() if p.name.startswith(".")], "staging left behind"


def test_all_problems_of_a_build_are_reported_together(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    CASES["unknown person"][0](root)
    CASES["invalid email"][0](root)
    CASES["unknown front matter key"][0](root)
    result = run_build(root)
    assert result.returncode == 1
    assert "3 problem(s)" in result.stderr or "problem(s)" in result.stderr
    assert "people.toml:15" in result.stderr and f"{POST}:5" in result.stderr


def test_strict_turns_warnings_into_a_failed_build(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    result = subprocess.run([sys.executable, "-m", "extranet", "-C", str(root), "build", "--strict"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "removed from the mixed site" in result.stderr and "--strict" in result.stderr
    assert not (root / "public").exists()
