"""The whole build's inputs as one hash, and the output tree as one snapshot: the "no change" test.

A build is a pure function of: the tool (every file of the extranet package), extranet.toml,
people.toml, every file below content/ and themes/, the secrets (keys, credentials, URL key),
the build's options, and the moment `now` only through the instants where a visibility
decision flips (a future post becoming due, a person's access ending). When all of these are
the ones the last successful build recorded, and the output tree is still exactly the one it
wrote (same names, sizes, modification times and inodes), that build's output is this build's
output: nothing needs to be done.

Files are hashed by content (SHA-256). A file's hash is reused without reading it only when
its (size, mtime_ns, ctime_ns, inode) are all the ones seen when it was last hashed; any
difference in any of them reads and hashes it again.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .cache import Cache, digest, stat_fields, stat_key

NAMESPACE = "inputs"  # the last build's record
HASHES = "input-hashes"  # path -> (stat, SHA-256): one entry per file, so the cache writes only changes
PACKAGE = Path(__file__).resolve().parent
SETTINGS_FILES = ("extranet.toml", "people.toml")
STATE_FILES = ("secrets.json", "url.key")
Stat = tuple[int, int, int, int]
UNREADABLE = "unreadable"  # the hash of a file that cannot be read
RACY_NS = 2_000_000_000  # a file changed this recently may change again within the same timestamp tick


def _stat(st: os.stat_result) -> Stat:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def walk(folder: Path, skip: frozenset[str] = frozenset()) -> Iterable[tuple[str, os.stat_result | None]]:
    """(absolute path, stat) of every regular file below `folder` (symlinks followed, `skip` names left out)."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.name in skip or entry.name == "__pycache__":
            continue
        if entry.is_dir():
            yield from walk(Path(entry.path))
        elif entry.is_file():
            yield entry.path, entry.stat()
        else:
            yield entry.path, None  # a dangling link, a socket...: its name counts


class Hasher:
    """Content hashes of files, re-read whenever any stat field changed since they were hashed."""

    def __init__(self, known: dict[str, tuple[Stat, str]]) -> None:
        self.known = known
        self.seen: dict[str, tuple[Stat, str]] = {}

    def file(self, path: str, st: os.stat_result | None = None) -> str:
        """SHA-256 of a file's bytes ("-" when it does not exist)."""
        try:
            st = st or os.stat(path)
        except FileNotFoundError:
            return "-"
        key = _stat(st)
        entry = self.known.get(path)
        if entry is None or entry[0] != key:
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                self.seen[path] = (None, UNREADABLE)  # (the loader reports it, naming the file)
                return UNREADABLE
            recent = time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < RACY_NS
            entry = (None if recent else key, hashlib.sha256(data).hexdigest())  # None: hash again next time
        self.seen[path] = entry
        return entry[1]

    def _special(self, path: str) -> str:
        """A dangling link, a socket...: its name counts, and it cannot be read."""
        self.seen[path] = (None, UNREADABLE)
        return UNREADABLE

    def tree(self, folder: Path, skip: frozenset[str] = frozenset()) -> str:
        """One hash of every file below `folder`: names and contents."""
        items = sorted((p, self.file(p, st) if st else self._special(p)) for p, st in walk(folder, skip))
        return digest(*(f"{p}\0{h}" for p, h in items))


def source_digest(root: Path, options: str, hasher: Hasher) -> str:
    """The hash of the tool, the build options, the settings, people, content and themes of `root`."""
    from . import __version__

    parts = [__version__, options, hasher.tree(PACKAGE)]
    parts += [hasher.file(str(root / name)) for name in SETTINGS_FILES]
    parts += [hasher.tree(root / "content"), hasher.tree(root / "themes")]
    return digest(*parts)


def state_digest(root: Path, hasher: Hasher) -> str:
    """The hash of the secrets a build reads (and may update): keys, credentials, URL key."""
    return digest(*(hasher.file(str(root / ".extranet" / name)) for name in STATE_FILES))


class Snapshot:
    """Every file and folder of the output zones with its (size, mtime_ns, inode): an output
    file touched, edited, replaced, removed or added changes it. Not ctime: an unchanged page
    is a hard link to the previous build's file when a tree is staged afresh, whose link count
    (so ctime) changes again when the previous tree is deleted, in the background, after the
    snapshot (output.discard)."""

    def __init__(self, stats: dict[str, tuple[int, int, int] | None]) -> None:
        self.stats = stats

    def digest(self) -> str:
        """One hash standing for the snapshot (kept instead of its 30,000 entries)."""
        return hashlib.sha256("\n".join(sorted(f"{p}\0{st!r}" for p, st in self.stats.items()))
                              .encode("utf-8", "surrogateescape")).hexdigest()


def output_snapshot(out: Path, names: Iterable[str]) -> Snapshot:
    """The snapshot of the output zones `names` below `out`, by walking them."""
    stats: dict[str, tuple[int, int, int] | None] = {}
    for name in sorted(names):
        folder = out / name
        if folder.is_dir():
            _snapshot_walk(str(folder), stats)
        else:
            stats[str(folder)] = None
    return Snapshot(stats)


def _snapshot_walk(folder: str, stats: dict) -> None:
    """The folder, then its files and (recursively) its folders (one scandir each)."""
    stats[folder] = stat_key(folder)
    with os.scandir(folder) as it:
        for entry in it:
            if entry.is_dir(follow_symlinks=False):
                _snapshot_walk(entry.path, stats)
            else:
                stats[entry.path] = stat_fields(entry.stat(follow_symlinks=False))


def time_window(now: dt.datetime, flips: Iterable[dt.datetime]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[lo, hi): the stretch of time around `now` in which no visibility decision flips."""
    ordered = sorted(set(flips))
    i = bisect.bisect_right(ordered, now)
    return (ordered[i - 1] if i else None, ordered[i] if i < len(ordered) else None)


def flips_of(site) -> list[dt.datetime]:
    """The instants at which what a build shows changes by itself: each post's date (a future
    post becomes due) and the midnight after each person's last day (their access ends)."""
    out = [post.date for project in site.projects for post in project.posts]
    out += [dt.datetime.combine(p.expires + dt.timedelta(days=1), dt.time())
            for p in site.people.people.values() if p.expires is not None]
    return out


@dataclass(frozen=True)
class Record:
    """What the last successful build read and wrote."""

    sources: str
    state: str
    window: tuple[dt.datetime | None, dt.datetime | None]
    zones: tuple[str, ...]
    outputs: str  # Snapshot.digest() of the output written
    pages: tuple[tuple[str, int], ...]
    warnings: tuple[str, ...]

    def covers(self, now: dt.datetime) -> bool:
        """Whether `now` lies in the window where the recorded build's decisions hold."""
        lo, hi = self.window
        return (lo is None or lo <= now) and (hi is None or now < hi)


class Inputs:
    """The no-change test of one build: unchanged() before the build, record() after a successful one.

    The sources are hashed once, before the build reads them: a source changed while the build
    runs then differs from the record, and the next build does the work again. The secrets are
    hashed again after the build, since the build itself updates them."""

    def __init__(self, cache: Cache, root: Path, out: Path, options: str) -> None:
        self.cache = cache
        self.root = root
        self.out = out
        stored = cache.get(NAMESPACE)
        self.hasher = Hasher(cache.get(HASHES))
        self.previous: Record | None = stored.get("record") if stored.get("out") == str(out) else None
        self.sources = source_digest(root, options, self.hasher)

    def content_files(self) -> dict[str, str]:
        """path -> SHA-256 of every file below content/, hashed before the build read anything
        (the loader takes a source as these very bytes)."""
        prefix = f"{self.root / 'content'}/"
        return {path: entry[1] for path, entry in self.hasher.seen.items() if path.startswith(prefix)}

    def folders_digest(self, folders: Iterable[Path]) -> str:
        """One hash of the files below `folders`, as hashed for this build (names and contents)."""
        prefixes = tuple(f"{f}/" for f in folders)
        return digest(*sorted(f"{p}\0{e[1]}" for p, e in self.hasher.seen.items() if p.startswith(prefixes)))

    def unchanged(self, now: dt.datetime) -> Record | None:
        """The last build's record when its inputs, time window and output are this build's."""
        rec = self.previous
        if rec is None or rec.sources != self.sources or not rec.covers(now):
            return None
        if state_digest(self.root, self.hasher) != rec.state:
            return None
        return rec if output_snapshot(self.out, rec.zones).digest() == rec.outputs else None

    def record(self, site, now: dt.datetime, zones: Iterable[str], pages: dict[str, int],
               warnings: list[str]) -> None:
        """Remember a successful build that wrote `zones` below the output folder."""
        hasher = Hasher(self.hasher.seen)
        state = state_digest(self.root, hasher)
        zones = tuple(sorted(zones))
        rec = Record(self.sources, state, time_window(now, flips_of(site)), zones,
                     output_snapshot(self.out, zones).digest(),
                     tuple(sorted(pages.items())), tuple(warnings))
        self.cache.replace(NAMESPACE, {"out": str(self.out), "record": rec})
        self.cache.replace(HASHES, self.hasher.seen | hasher.seen)
