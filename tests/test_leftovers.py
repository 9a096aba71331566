"""Crash leftovers: output is never staged inside public/, and what a killed command left
(staging trees, temporary files in content/) is gone when the next command starts."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import copy_site, write


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "extranet", "-C", str(root), *args], capture_output=True,
                          timeout=300)


def big_site(tmp_path: Path, posts: int = 400) -> Path:
    root = copy_site("small", tmp_path)
    for n in range(posts):
        write(root / f"content/projects/alpha/posts/2026-02-{n % 28 + 1:02d}-note-{n}.md",
              f"---\ntitle: Note {n}\nvisibility: mixed\n---\n" + f"Paragraph {n}. " * 200 + "\n")
    return root


def test_a_build_killed_at_any_moment_leaves_nothing_in_public(tmp_path: Path) -> None:
    root = big_site(tmp_path)
    assert cli(root, "build").returncode == 0
    for delay in (0.3, 0.6, 0.9, 1.2, 1.5, 1.8, 2.1, 2.4):
        proc = subprocess.Popen([sys.executable, "-m", "extranet", "-C", str(root), "build", "--no-cache"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)  # the build and its render workers, as a crash or a service stop
        proc.wait()
        assert sorted(p.name for p in (root / "public").iterdir()) == ["internal", "mixed"], delay
    assert cli(root, "build").returncode == 0
    assert list((root / ".extranet/staging").iterdir()) == []


def test_the_next_command_removes_what_a_crash_left(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    assert cli(root, "build").returncode == 0
    leftovers = [
        write(root / "public/.staging-mixed-k2j3h4/keyring.json", "{}"),  # staged by an older version
        write(root / "public/.old-internal-4242/index.html", "old"),
        write(root / ".extranet/staging/.staging-internal-a1b2c3/index.html", "half"),
        write(root / "content/projects/alpha/posts/.2026-03-01-re-kickoff-1a2b3c4d.md.x7y8z9.tmp", ""),
        write(root / "content/projects/alpha/files/2026-03-01-re-kickoff/.plan.pdf.q1w2e3.tmp", ""),
        write(root / ".people.toml.r4t5y6.tmp", ""),
    ]
    kept = [root / "content/projects/alpha/posts/2026-01-05-kickoff.md", root / "people.toml",
            root / "public/mixed/index.html"]
    result = cli(root, "moderate", "list")  # any command
    assert result.returncode == 0, result.stderr
    assert [p for p in leftovers if p.exists()] == []
    assert not (root / "public/.staging-mixed-k2j3h4").exists() and not (root / "public/.old-internal-4242").exists()
    assert all(p.exists() for p in kept)
    assert b"leftover" in result.stderr


def test_nothing_is_removed_while_another_command_holds_the_site(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    assert cli(root, "build").returncode == 0
    temp = write(root / "content/projects/alpha/posts/.2026-03-02-x.md.abc123.tmp", "")
    fd = os.open(root / ".extranet/site.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a build is running
        assert cli(root, "moderate", "list").returncode == 0
        assert temp.exists()
    finally:
        os.close(fd)
    assert cli(root, "moderate", "list").returncode == 0
    assert not temp.exists()
