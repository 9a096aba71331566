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
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..inputs import RACY_NS
from ..output import can_fork
from ..protect.crypto import ContentKey, ProtectError, open_blob
from ..protect.homes import name_secret
from ..protect.keyring import KEYRING_FILE, open_keyring_with_key
from ..protect.secrets import Secrets
from ..protect.shell import LOGIN_PAGE
from ..protect.zone import file_key
from ..textmatch import Matcher, normalise
from .expect import Expectation

STATIC = "static/"


Identity = tuple[int, int, int, int, int]  # device, inode, size, modification and change times (ns)


def identified(path: str, seen: Mapping[str, tuple[Identity, str]], name: str) -> tuple[str, bytes | None, tuple | None]:
    """(SHA-256 of a file's bytes, the bytes or None, what to record in `seen` under `name`).

    The bytes are not read when the file is the very one an earlier audit read (`seen[name]`:
    its identity then, and the hash of the bytes it read): the same inode of the same device,
    with the same size, modification and change times. The kernel sets a file's change time
    at every write, truncation, link, unlink or change of its times, and no program can set it
    back: a file written to since is read again. An identity is recorded only once RACY_NS
    have passed since the file last changed (a change within the same timestamp tick would
    leave it as it was)."""
    st = os.stat(path)  # (before reading: a change while it is read moves the change time past this one)
    identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    prev = seen.get(name)
    if prev is not None and prev[0] == identity:
        return prev[1], None, prev
    data = read_bytes(path)
    sha = hashlib.sha256(data).hexdigest()
    settled = time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) >= RACY_NS
    return sha, data, (identity, sha) if settled else None


def read_bytes(path: str) -> bytes:
    """A file's bytes."""
    with open(path, "rb") as f:
        return f.read()


def _files(folder: Path) -> Iterator[str]:
    """Every file below `folder` (relative POSIX path), in path order."""
    base = str(folder)
    for top, dirs, names in os.walk(base):
        dirs.sort()
        for n in sorted(names):
            yield os.path.join(top, n)[len(base) + 1:].replace(os.sep, "/")


def _public(path: str) -> bool:
    return path in (LOGIN_PAGE, KEYRING_FILE) or path.startswith(STATIC)


POOL_THRESHOLD = 400  # files to read (not known from an earlier audit): below this, forking costs more than it saves
_READ: tuple | None = None  # (folder, (keys, scopes), verdicts, expectation), set in the parent just before the fork


@dataclass(frozen=True)
class Reading:
    """What reading one served file found, before it is judged against an Expectation."""

    scope: str | None = None  # the scope whose key opens it (None: public, or not encrypted)
    error: str = ""  # why no key of the zone opens it
    plain_sha256: str = ""  # of what it holds, decrypted
    text: str | None = None  # the normal form of a page (.html), decrypted


def read_file(path: str, data: bytes, sha: str, keys: list[ContentKey] | None,
              scope_of: Mapping[ContentKey, str]) -> Reading:
    """Open one served file of the mixed zone as a reader would (`sha`: the SHA-256 of `data`;
    `keys`: every key of the zone, None when the output is not encrypted, ordered as
    protect.zone.file_key leaves them; `scope_of`: the scope of each key)."""
    page = path.endswith(".html")
    if _public(path) or keys is None:
        return Reading(plain_sha256=sha, text=normalise(data.decode("utf-8", "replace")) if page else None)
    try:
        key, blob = file_key(path, data, keys)
        plain = open_blob(key, blob)
    except ProtectError as e:
        return Reading(error=str(e))
    return Reading(scope_of[key], plain_sha256=hashlib.sha256(plain).hexdigest(),
                   text=normalise(plain.decode("utf-8", "replace")) if page else None)


def judge(path: str, reading: Reading, exp: Expectation, encrypted: bool) -> list[str]:
    """The problems of one served file of the mixed zone, as read."""
    where = f"mixed/{path}"
    if _public(path):
        return _leaks(where, reading.text, exp.canaries) if reading.text is not None else []
    allowed = exp.files.get(path)
    if allowed is None:
        return [f"{where}: not a file the mixed zone may hold"]
    if encrypted and reading.scope != allowed.scope:
        why = reading.error or f"it opens with the key of {reading.scope}"
        return [f"{where}: does not open with the key of its scope {allowed.scope} ({why})"]
    if reading.plain_sha256 in exp.internal_files:
        return [f"{where}: holds the bytes of an internal attachment"]
    if allowed.sha256 is not None:
        return [] if reading.plain_sha256 == allowed.sha256 else [f"{where}: not the attachment it stands for"]
    if reading.text is None:
        return [f"{where}: a page the audit cannot read (not .html)"]
    return _leaks(where, reading.text, exp.canaries)


class MixedReading:
    """The files of the mixed zone's folder being read, decrypted and put in normal form — in
    `jobs` forked processes when there are many, started at once so that the reading runs while
    the caller derives the Expectation; in check_mixed otherwise. A file whose bytes are those
    an earlier audit found sound (see Verdicts) is not opened: check_mixed decides. With the
    Expectation `exp` known already, the workers judge each file too. They also look through
    the `internal` zone's folder when one is given (see internal_files)."""

    def __init__(self, folder: Path, secrets: Secrets | None, verdicts: Verdicts | None = None,
                 jobs: int | None = None, paths: list[str] | None = None, internal: Path | None = None,
                 exp: Expectation | None = None) -> None:
        global _READ
        self.folder, self.secrets, self.exp = folder, secrets, exp
        self._internal = None
        self.verdicts = verdicts if verdicts is not None else Verdicts()
        self.paths = list(_files(folder)) if paths is None else sorted(paths)
        self._pool, self._result = None, None
        jobs = jobs if jobs is not None else (os.cpu_count() or 1)
        seen = self.verdicts.seen
        to_read = sum(1 for path in self.paths if f"mixed/{path}" not in seen)  # (about: see identified())
        if jobs >= 2 and to_read >= POOL_THRESHOLD and can_fork():
            n = len(self.paths)  # (contiguous chunks: the files of one folder share a key)
            chunks = [self.paths[i * n // jobs:(i + 1) * n // jobs] for i in range(jobs)]
            _READ = (folder, _zone_keys(secrets), self.verdicts, exp)
            try:
                self._pool = multiprocessing.get_context("fork").Pool(jobs)
            finally:
                _READ = None
            self._result = self._pool.map_async(_read_files, chunks)
            if internal is not None:
                self.read_internal(internal)

    def read_internal(self, folder: Path) -> None:
        """Have the workers look through the internal zone's `folder` too (see internal_files;
        nothing when there are no workers, or the output is not encrypted)."""
        if self._pool is not None and self.secrets is not None:
            keys = list(self.secrets.zone("internal").keys.values())
            self._internal = self._pool.apply_async(_internal_files, (folder, keys))

    def readings(self) -> dict[str, tuple[str, Reading | list[str] | None, tuple | None]]:
        """path -> (SHA-256 of its bytes, its Reading; None when the bytes are known sound; its
        problems when judged already, with `exp`; what identified() says to record)."""
        if self._result is not None:
            parts = self._result.get()
            if self._internal is None:
                self.close()
            return {path: r for part in parts for path, r in part}
        global _READ
        _READ = (self.folder, _zone_keys(self.secrets), self.verdicts, self.exp)
        try:
            return dict(_read_files(self.paths))
        finally:
            _READ = None

    def internal_files(self) -> tuple[list[str], bytes | None] | None:
        """internal_files() of the `internal` folder, when the workers read it too (the files
        found sound noted in the verdicts)."""
        if self._internal is None:
            return None
        try:
            problems, keyring, sound, seen = self._internal.get()
        finally:
            self.close()
        self.verdicts.note(sound, seen)
        return problems, keyring

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> "MixedReading":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _zone_keys(secrets: Secrets | None) -> tuple[list[ContentKey] | None, dict[ContentKey, str]]:
    """The mixed zone's keys (None: not encrypted), and the scope of each."""
    if secrets is None:
        return None, {}
    scope_of = {ContentKey.from_secret(k): scope for scope, k in secrets.zone("mixed").keys.items()}
    return list(scope_of), scope_of


def _internal_files(folder: Path, secrets: list[bytes]) -> tuple[list[str], bytes | None, dict, dict]:
    """internal_files() in a worker, with the verdicts known before the fork."""
    assert _READ is not None
    return internal_files(folder, secrets, _READ[2])


def _verdict(path: str, sha: str, exp: Expectation) -> tuple:
    """What a served file found sound is recorded with (see Verdicts)."""
    return (sha, repr(exp.files.get(path)), exp.key)


def _read_files(paths: list[str]) -> list[tuple[str, tuple[str, Reading | list[str] | None, tuple | None]]]:
    """Read these files of the folder being read, and judge them when the Expectation is known
    (see MixedReading.readings)."""
    assert _READ is not None
    folder, (keys, scope_of), verdicts, exp = _READ
    known, seen = verdicts.known, verdicts.seen
    out: list[tuple[str, tuple[str, Reading | list[str] | None, tuple | None]]] = []
    base = str(folder)
    for path in paths:
        full = f"{base}/{path}"
        sha, data, record = identified(full, seen, f"mixed/{path}")
        prev = known.get(path)
        if exp is not None:  # (the same bytes judged against the same passages and files: sound)
            sound = prev == _verdict(path, sha, exp)
        else:  # (the same bytes as when found sound: check_mixed decides)
            sound = prev is not None and prev[0] == sha
        if sound:
            r: Reading | list[str] | None = [] if exp is not None else None
        else:
            r = read_file(path, read_bytes(full) if data is None else data, sha, keys, scope_of)
            r = judge(path, r, exp, keys is not None) if exp is not None else r
        out.append((path, (sha, r, record)))
    return out


def check_mixed(folder: Path, exp: Expectation, secrets: Secrets | None, emails: Mapping[str, str],
                verdicts: Verdicts | None = None, reading: MixedReading | None = None,
                keyring: bool = True) -> list[str]:
    """Problems of the mixed zone's folder (`secrets`: None for an unencrypted output);
    `verdicts`: the files found sound by an earlier audit, by their bytes' hash (see Verdicts);
    `reading`: the folder's files being read already (default: read them now)."""
    reading = reading or MixedReading(folder, secrets, verdicts)
    known = reading.verdicts.known
    problems: list[str] = []
    sound: dict[str, tuple] = {}
    seen: dict[str, tuple] = {}
    redo = []
    for path, (sha, r, record) in sorted(reading.readings().items()):
        if record is not None:
            seen[f"mixed/{path}"] = record
        verdict = _verdict(path, sha, exp)
        if known.get(path) == verdict:
            sound[path] = verdict
        elif r is None:
            redo.append(path)
        else:
            found = r if isinstance(r, list) else judge(path, r, exp, secrets is not None)
            problems += found
            if not found:
                sound[path] = verdict
    if redo:  # (the same bytes as when found sound, to check against other passages now: open them)
        again = MixedReading(folder, secrets, paths=redo, exp=exp)
        problems += check_mixed(folder, exp, secrets, emails, reading=again, keyring=False)
        sound.update(again.verdicts.used)
    reading.verdicts.note(sound, seen)
    problems.sort()
    if secrets is not None and keyring:
        problems += _keyring("mixed", (folder / KEYRING_FILE).read_bytes() if (folder / KEYRING_FILE).is_file()
                             else None, exp, secrets, emails)
    return problems


class Verdicts:
    """What earlier audits found, kept by the build's cache.

    `known`: files found sound, path -> (SHA-256 of the bytes served, what the file may be,
    the hash of the passages and files it was checked against); a file whose entry is the one
    it would be checked with now holds nothing new to find: the same bytes, the same checks.
    `seen`: "zone/path" -> (the identity of the file read, the SHA-256 of its bytes): see
    identified(). `used` and `seen_now`: the same, as this audit found them."""

    def __init__(self, known: dict | None = None, seen: dict | None = None) -> None:
        self.known = known if known is not None else {}
        self.seen = seen if seen is not None else {}
        self.used: dict[str, tuple] = {}
        self.seen_now: dict[str, tuple] = {}

    def note(self, sound: dict[str, tuple], seen: dict[str, tuple] | None = None) -> None:
        """Remember files found sound by this audit, and the identities of those it read."""
        self.used.update(sound)
        self.seen_now.update(seen or {})

    def news(self) -> tuple[tuple[list[str], dict[str, tuple]], ...]:
        """This audit's entries (used, seen_now), each as: the keys whose entry is the known
        one, and the other entries (what another process of the same build hands back: see
        adopt)."""
        return tuple(([k for k, v in now.items() if before.get(k) == v],
                      {k: v for k, v in now.items() if before.get(k) != v})
                     for now, before in ((self.used, self.known), (self.seen_now, self.seen)))

    def adopt(self, news: tuple[tuple[list[str], dict[str, tuple]], ...]) -> None:
        """Take news() of another process: the known entries stay the very objects this
        process holds, so the cache writes only what changed."""
        for (same, changed), now, before in zip(news, (self.used, self.seen_now), (self.known, self.seen)):
            now.update((k, before[k]) for k in same)
            now.update(changed)


def _leaks(where: str, text: str, matcher: Matcher) -> list[str]:
    """Each internal passage found in a page (in normal form)."""
    return [f"{where}: contains {matcher.secrets[c]} '{c.strip()[:60]}'" for c in sorted(matcher.find(text))]


def check_internal(folder: Path, exp: Expectation, secrets: Secrets, emails: Mapping[str, str],
                   opened: tuple[list[str], bytes | None] | None = None, verdicts: Verdicts | None = None) -> list[str]:
    """Problems of the internal zone's folder: every private file opens with a key of the
    zone, and the keyring opens for staff only (`opened`: internal_files(folder, ...) done;
    `verdicts`: as for check_mixed)."""
    if opened is None:
        verdicts = verdicts if verdicts is not None else Verdicts()
        problems, keyring, sound, seen = internal_files(folder, secrets.zone("internal").keys.values(), verdicts)
        verdicts.note(sound, seen)
    else:
        problems, keyring = opened
    return problems + _keyring("internal", keyring, exp, secrets, emails)


def internal_files(folder: Path, secrets: Iterable[bytes], verdicts: Verdicts | None = None
                   ) -> tuple[list[str], bytes | None, dict[str, tuple], dict[str, tuple]]:
    """The internal zone's files that no key of the zone (of `secrets`) opens, its keyring, the
    verdicts of the files that open ("internal/" + path -> (SHA-256 of the bytes, the hash of
    the zone's keys)) and the identities of the files read (see identified()). A file whose
    verdict is known already holds the bytes found to open with the same keys, and is not
    opened again."""
    problems: list[str] = []
    secrets = sorted(secrets)
    keys = [ContentKey.from_secret(k) for k in secrets]
    keyed = hashlib.sha256(b"".join(secrets)).hexdigest()
    verdicts = verdicts if verdicts is not None else Verdicts()
    known, seen = verdicts.known, verdicts.seen
    sound: dict[str, tuple] = {}
    records: dict[str, tuple] = {}
    keyring = None
    base = str(folder)
    for path in _files(folder):
        full, name = f"{base}/{path}", f"internal/{path}"
        if path == KEYRING_FILE:
            keyring = read_bytes(full)
        if _public(path):
            continue
        sha, data, record = identified(full, seen, name)
        if record is not None:
            records[name] = record
        verdict = (sha, keyed)
        if known.get(name) != verdict:
            try:  # (its key, by the blob's hint: the zone holds nothing the other one reads)
                file_key(path, read_bytes(full) if data is None else data, keys)
            except ProtectError as e:
                problems.append(f"{name}: not encrypted with this zone's keys ({e})")
                continue
        sound[name] = verdict
    return problems, keyring, sound, records


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
