"""`extranet people`: passwords generated and shown once, never stored; people.toml kept valid."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from extranet.protect import Secrets, verify_password

from helpers import copy_site


def run(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "extranet", "-C", str(root), *args],
                          capture_output=True, text=True, timeout=60)


def test_add_shows_a_strong_password_once_and_stores_no_password(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    result = run(root, "people", "add", "dora", "--name", "Dora Dupré", "--email", "dora@acme.example",
                 "--org", "acme", "--expires", "2027-06-30")
    assert result.returncode == 0, result.stderr
    pw = re.search(r"\(shown once, stored nowhere\): (\S+)", result.stdout).group(1)
    assert re.fullmatch(r"[a-z2-9]{5}(-[a-z2-9]{5}){3}", pw)  # 20 chars of 31 symbols: 99 bits
    toml = (root / "people.toml").read_text()
    assert '[people.dora]\nname = "Dora Dupré"\nemail = "dora@acme.example"\norg = "acme"\nexpires = 2027-06-30' in toml
    assert "# no password" not in toml and pw not in toml
    for f in root.rglob("*"):
        if f.is_file():
            assert pw.encode() not in f.read_bytes(), f
    secrets = Secrets.load(root / ".extranet")
    assert verify_password(secrets, "dora", pw) and not verify_password(secrets, "dora", pw + "x")
    assert (root / ".extranet/secrets.json").stat().st_mode & 0o777 == 0o600
    listing = run(root, "people", "list").stdout
    assert re.search(r"dora .*ACME Industries .*client .*active .*password set", listing)
    assert re.search(r"sam .*expired 2020-01-01 .*no password", listing)


def test_add_with_unknown_org_changes_nothing(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    before = (root / "people.toml").read_bytes()
    result = run(root, "people", "add", "x", "--name", "X", "--email", "x@x.example", "--org", "nowhere")
    assert result.returncode == 1
    assert "unknown organisation 'nowhere'" in result.stderr and "Traceback" not in result.stderr
    assert (root / "people.toml").read_bytes() == before
    assert not (root / ".extranet/secrets.json").exists()


def test_reset_writes_a_mode_600_file_and_the_old_password_stops_working(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    assert run(root, "people", "reset", "carl", "--password-file", str(tmp_path / "a")).returncode == 0
    old = (tmp_path / "a").read_text().strip()
    assert run(root, "people", "reset", "carl", "--password-file", str(tmp_path / "b")).returncode == 0
    new = (tmp_path / "b").read_text().strip()
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o600
    secrets = Secrets.load(root / ".extranet")
    assert verify_password(secrets, "carl", new) and not verify_password(secrets, "carl", old)


def test_remove_an_author_keeps_a_closed_entry_and_forgets_credentials(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    run(root, "people", "reset", "carl")
    result = run(root, "people", "remove", "carl")
    assert result.returncode == 0, result.stderr
    assert "access ended" in result.stdout
    assert re.search(r"\[people.carl\][^\[]*expires = \d{4}-\d\d-\d\d", (root / "people.toml").read_text())
    assert "carl" not in json.loads((root / ".extranet/secrets.json").read_text())["people"]
    assert run(root, "build").returncode == 0


def test_remove_someone_unreferenced_deletes_their_entry(tmp_path: Path) -> None:
    root = copy_site("small", tmp_path)
    assert run(root, "people", "remove", "sam").returncode == 0
    assert "[people.sam]" not in (root / "people.toml").read_text()
    assert run(root, "people", "remove", "sam").returncode == 1


def test_commands_that_write_secrets_wait_for_each_other(tmp_path: Path) -> None:
    import subprocess as sp
    import time

    from extranet.lock import site_lock

    root = copy_site("small", tmp_path)
    with site_lock(root):  # e.g. a build in progress
        proc = sp.Popen([sys.executable, "-m", "extranet", "-C", str(root), "people", "reset", "carl",
                         "--password-file", str(tmp_path / "pw")], stdout=sp.PIPE, stderr=sp.PIPE)
        time.sleep(1.5)
        assert proc.poll() is None, "the reset did not wait for the lock"
    assert proc.wait(timeout=60) == 0
    assert verify_password(Secrets.load(root / ".extranet"), "carl", (tmp_path / "pw").read_text().strip())
