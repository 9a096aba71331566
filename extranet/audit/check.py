"""Checking output folders, file by file, against an Expectation: decrypt as a reader would.

Every file of a zone is read from the folder that is (or is about to be) served, whether the
build wrote it just now or kept it from the last build. A private file must be one the zone
may hold and open with the key of exactly the scope that may hold it; an attachment must
hold the bytes of the attachment it stands for and never those of an internal one; a page
must contain no internal passage. The keyring must give each person exactly their scopes.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..protect.crypto import ContentKey, ProtectError, key_for
from ..protect.homes import name_secret
from ..protect.keyring import KEYRING_FILE, open_keyring_with_key
from ..protect.secrets import Secrets
from ..protect.shell import LOGIN_PAGE, shell_blob
from ..protect.zone import decrypt_file
from ..textmatch import Matcher, normalise
from .expect import Expectation

STATIC = "static/"


def files_of(folder: Path) -> Iterator[tuple[str, bytes]]:
    """Every file below `folder` (relative POSIX path, bytes), in path order."""
    base = str(folder)
    for top, dirs, names in os.walk(base):
        dirs.sort()
        for n in sorted(names):
            path = os.path.join(top, n)
            with open(path, "rb") as f:
                yield os.path.relpath(path, base).replace(os.sep, "/"), f.read()


def _public(path: str) -> bool:
    return path in (LOGIN_PAGE, KEYRING_FILE) or path.startswith(STATIC)


POOL_THRESHOLD = 400  # files to decrypt and search: below this, forking costs more than it saves
_CHECK: tuple | None = None  # (folder, expectation, keys), set in the parent just before the fork


def check_mixed(folder: Path, exp: Expectation, secrets: Secrets | None, emails: Mapping[str, str],
                jobs: int | None = None, verdicts: Verdicts | None = None) -> list[str]:
    """Problems of the mixed zone's folder (`secrets`: None for an unencrypted output). The
    files are opened and searched in `jobs` processes (default: all cores) when there are many;
    `verdicts`: the files found sound by an earlier audit, by their bytes' hash (see Verdicts)."""
    global _CHECK
    keys = {s: ContentKey.from_secret(k) for s, k in secrets.zone("mixed").keys.items()} if secrets else None
    paths = sorted(_paths(folder))
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    _CHECK = (folder, exp, keys, verdicts if verdicts is not None else Verdicts())
    try:
        if jobs >= 2 and len(paths) >= POOL_THRESHOLD and _can_fork():
            chunks = [paths[i::jobs] for i in range(jobs)]
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                parts = pool.map(_check_files, chunks)
        else:
            parts = [_check_files(paths)]
    finally:
        _CHECK = None
    found = [p for part, _ in parts for p in part]
    if verdicts is not None:
        for _, sound in parts:
            verdicts.note(sound)
    problems = sorted(found)
    if secrets is not None:
        problems += _keyring("mixed", (folder / KEYRING_FILE).read_bytes() if (folder / KEYRING_FILE).is_file()
                             else None, exp, secrets, emails)
    return problems


def _paths(folder: Path) -> list[str]:
    """Every file below `folder`, relative POSIX paths."""
    base = str(folder)
    return [os.path.relpath(os.path.join(top, n), base).replace(os.sep, "/")
            for top, _, names in os.walk(base) for n in names]


def _can_fork() -> bool:
    """Forking copies only the calling thread: never with other threads running (the gateway)."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


class Verdicts:
    """Files an audit found sound: path -> (SHA-256 of the bytes served, what the file may be,
    the hash of the passages and files it was checked against). A file whose entry is the one
    it would be checked with now holds nothing new to find: the same bytes, the same checks."""

    def __init__(self, known: dict | None = None) -> None:
        self.known = known if known is not None else {}
        self.used: dict[str, tuple] = {}

    def note(self, sound: dict[str, tuple]) -> None:
        """Remember files found sound by this audit."""
        self.used.update(sound)


def _check_files(paths: list[str]) -> tuple[list[str], dict[str, tuple]]:
    """The problems of these files of the folder being checked, and the files found sound
    (see check_mixed)."""
    assert _CHECK is not None
    folder, exp, keys, verdicts = _CHECK
    problems: list[str] = []
    sound: dict[str, tuple] = {}
    for path in paths:
        with open(folder / path, "rb") as f:
            data = f.read()
        verdict = (hashlib.sha256(data).hexdigest(), repr(exp.files.get(path)), exp.key)
        if verdicts.known.get(path) == verdict:
            sound[path] = verdict
            continue
        found = _check_file(path, data, exp, keys)
        if found:
            problems += found
        else:
            sound[path] = verdict
    return problems, sound


def _check_file(path: str, data: bytes, exp: Expectation, keys: dict[str, ContentKey] | None) -> list[str]:
    """The problems of one served file of the mixed zone (`keys`: None when not encrypted)."""
    where = f"mixed/{path}"
    if _public(path):
        return _leaks(where, data, exp.canaries) if path.endswith(".html") else []
    allowed = exp.files.get(path)
    if allowed is None:
        return [f"{where}: not a file the mixed zone may hold"]
    plain = data
    if keys is not None:
        key = keys.get(allowed.scope)
        try:
            if key is None:
                raise ProtectError(f"no key for its scope {allowed.scope}")
            plain = decrypt_file(path, data, [key])
        except ProtectError as e:
            return [f"{where}: does not open with the key of its scope {allowed.scope} ({e})"]
    sha = hashlib.sha256(plain).hexdigest()
    if sha in exp.internal_files:
        return [f"{where}: holds the bytes of an internal attachment"]
    if allowed.sha256 is not None:
        return [] if sha == allowed.sha256 else [f"{where}: not the attachment it stands for"]
    return _leaks(where, plain, exp.canaries)


def _leaks(where: str, data: bytes, matcher: Matcher) -> list[str]:
    """Each internal passage found in a page."""
    text = normalise(data.decode("utf-8", "replace"))
    return [f"{where}: contains {matcher.secrets[c]} '{c.strip()[:60]}'" for c in sorted(matcher.find(text))]


def check_internal(folder: Path, exp: Expectation, secrets: Secrets, emails: Mapping[str, str]) -> list[str]:
    """Problems of the internal zone's folder: every private file opens with a key of the
    zone, and the keyring opens for staff only."""
    problems: list[str] = []
    keys = [ContentKey.from_secret(k) for k in secrets.zone("internal").keys.values()]
    keyring = None
    for path, data in files_of(folder):
        if path == KEYRING_FILE:
            keyring = data
        if _public(path):
            continue
        try:  # (its key, by the blob's hint: the zone holds nothing the other one reads)
            if key_for(shell_blob(data) if path.endswith(".html") else data, keys) is None:
                raise ProtectError("no key of this zone opens it")
        except ProtectError as e:
            problems.append(f"internal/{path}: not encrypted with this zone's keys ({e})")
    return problems + _keyring("internal", keyring, exp, secrets, emails)


def _keyring(zone: str, keyring: bytes | None, exp: Expectation, secrets: Secrets,
             emails: Mapping[str, str]) -> list[str]:
    """Each person with credentials opens exactly the scopes they are entitled to, by either
    of their user names."""
    if keyring is None:
        return [f"{zone}: no {KEYRING_FILE}"]
    zs = secrets.zone(zone)
    scope_of = {secret: scope for scope, secret in zs.keys.items()}
    problems = []
    for pid, cred in sorted(secrets.people.items()):
        expected = exp.grants.get(pid, set())
        for user in sorted({pid, emails.get(pid, "")} - {""}):
            opened = open_keyring_with_key(keyring, name_secret(zs, user), cred.wrap(zone).key)
            got = {scope_of.get(s, "?") for s in opened} if opened else set()
            if got != expected:
                problems.append(f"{zone}: {user} opens {sorted(got)}, entitled to {sorted(expected)}")
    return problems
