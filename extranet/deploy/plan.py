"""What a deploy changes, and in which order (pure: data in, data out).

A file is unchanged when the destination holds it with the same size and the manifest says
it was uploaded with these very bytes and headers (and, where the destination tells, the
object has not changed since: same ETag or modification time). Without a manifest entry,
the destination's own check decides (an S3 ETag equal to the file's MD5, a folder's bytes).

Order, so that a reader never meets a page pointing to a file not there yet: first the
files pages point to (attachments, static files), then the keyring, then the pages, deepest
first and each folder's index last; stale files are deleted after every upload.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .files import LocalFile, hidden

KEYRING = "keyring.json"


@dataclass(frozen=True)
class Remote:
    """A file as the destination lists it; `fingerprint` changes whenever the file does
    (S3 ETag, folder mtime), None where the destination cannot say (rsync)."""

    size: int
    fingerprint: str | None = None


@dataclass(frozen=True)
class Entry:
    """What the manifest remembers of a file it uploaded."""

    sha256: str
    content_type: str
    cache_control: str
    fingerprint: str | None = None

    @classmethod
    def of(cls, f: LocalFile, fingerprint: str | None) -> "Entry":
        """The entry for a file just uploaded."""
        return cls(f.sha256, f.content_type, f.cache_control, fingerprint)


@dataclass(frozen=True)
class Plan:
    """The uploads in order, the deletions, and how many files needed nothing."""

    uploads: tuple[LocalFile, ...]
    deletes: tuple[str, ...]
    unchanged: int

    @property
    def upload_bytes(self) -> int:
        """Bytes to send."""
        return sum(f.size for f in self.uploads)

    @property
    def empty(self) -> bool:
        """Nothing to do."""
        return not self.uploads and not self.deletes


def upload_order(f: LocalFile) -> tuple:
    """Sort key: what pages point to, then the keyring, then pages deepest first, indexes last."""
    if not f.is_page:
        return (0 if f.key != KEYRING else 1, 0, 0, f.key)
    depth = f.key.count("/")
    is_index = f.key.rsplit("/", 1)[-1] == "index.html"
    return (2, -depth, int(is_index), f.key)


def plan(local: Mapping[str, LocalFile], remote: Mapping[str, Remote], manifest: Mapping[str, Entry],
         same_without_manifest: Callable[[LocalFile, Remote], bool] = lambda f, r: False) -> Plan:
    """Compare the zone with the destination and say what to upload and what to delete."""
    uploads = []
    unchanged = 0
    for key, f in local.items():
        there = remote.get(key)
        if there is not None and there.size == f.size and _same(f, there, manifest.get(key), same_without_manifest):
            unchanged += 1
        else:
            uploads.append(f)
    stale = [key for key in remote if key not in local and not hidden(key)]
    deletes = sorted(stale, key=lambda k: (not k.endswith(".html"), k))
    return Plan(tuple(sorted(uploads, key=upload_order)), tuple(deletes), unchanged)


def _same(f: LocalFile, there: Remote, entry: Entry | None, fallback: Callable[[LocalFile, Remote], bool]) -> bool:
    if entry is None:
        return fallback(f, there)
    if (entry.sha256, entry.content_type, entry.cache_control) != (f.sha256, f.content_type, f.cache_control):
        return False
    return entry.fingerprint is None or there.fingerprint is None or entry.fingerprint == there.fingerprint
