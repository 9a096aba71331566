"""What a person can read of a built zone, judged as an attacker would: the files served,
decrypted with that person's own keyring exactly as the browser does (extranet.js)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from extranet.protect.crypto import ContentKey, ProtectError, key_for, open_blob
from extranet.protect.keyring import open_keyring
from extranet.protect.secrets import Secrets
from extranet.protect.credentials import set_password
from extranet.protect.shell import shell_blob

from helpers import read_tree

PUBLIC = ("login.html", "keyring.json")


def give_passwords(root: Path, people: dict[str, str]) -> dict[str, str]:
    """Credentials for each person id -> email (cheap PBKDF2: the tests measure what opens, not
    how slowly); returns id -> password."""
    secrets = Secrets.load(root / ".extranet", create=True)
    passwords = {pid: set_password(secrets, pid, email, iterations=2_000, bcrypt_cost=4)
                 for pid, email in people.items()}
    secrets.save()
    return passwords


def readable(zone_dir: Path, username: str, password: str) -> dict[str, bytes]:
    """Every file of a served zone this person can read: the public ones as they are, the
    others decrypted with the keys their keyring entry gives them (by the key hint, as the
    browser finds them)."""
    files = read_tree(zone_dir)
    secrets = open_keyring(files["keyring.json"], username, password) or []
    keys = [ContentKey.from_secret(s) for s in secrets]
    out: dict[str, bytes] = {}
    for path, data in files.items():
        if path in PUBLIC or path.startswith("static/"):
            out[path] = data
            continue
        try:
            blob = shell_blob(data) if path.endswith(".html") else data
            key = key_for(blob, keys)
        except ProtectError:
            continue
        if key is not None:
            out[path] = open_blob(key, blob)
    return out


def everything_known(zone_dir: Path, username: str, password: str) -> bytes:
    """All a person learns from a zone: every file name, and every byte they can decrypt."""
    names = "\n".join(read_tree(zone_dir)).encode()
    return names + b"\n" + b"\n".join(readable(zone_dir, username, password).values())


def cli(root: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run an extranet command on a site, as a user would."""
    return subprocess.run([sys.executable, "-m", "extranet", "-C", str(root), *args], input=stdin,
                          capture_output=True, timeout=300)
