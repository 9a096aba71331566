"""Parsed sources kept from one build to the next, keyed by the SHA-256 of the file's bytes.

Loading an unchanged source then costs a dictionary lookup instead of reading it, parsing
its YAML front matter, validating it and finding its rendered body. The key is a hash of
the source's path, the kind of record it is read as, and the hash of its bytes (the one the
no-change test computed before the build read anything, see inputs.Hasher): an edited
source, whatever changed in it (a visibility, one character of the body), has a new key.
Only sources that loaded without any problem are kept, so a cached source never hides one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..cache import Cache, digest
from .model import Body

NAMESPACE = "records"


@dataclass(frozen=True)
class Lines:
    """The front matter line numbers of a source (what the loader's messages cite)."""

    lines: dict[str, int]

    def line_of(self, key: str) -> int | None:
        """Line of `key` in the file, or the front matter's first line."""
        return self.lines.get(key, 1)


Parsed = tuple[dict, Lines, Body]  # validated values, line numbers, rendered body


class RecordStore:
    """Parsed sources by content key; keeps exactly the ones this build used."""

    def __init__(self, cache: Cache, hashes: Mapping[str, str]) -> None:
        self.cache = cache
        self.hashes = hashes  # absolute path (str) -> SHA-256 of the bytes, hashed before the build
        self.known: dict[str, Parsed] = cache.get(NAMESPACE)
        self.used: dict[str, Parsed] = {}
        self._keys: dict[tuple[str, str], str | None] = {}

    def key(self, path: Path, key: str, what: str) -> str | None:
        """The record key of a source, or None when its bytes were not hashed before the build
        (computed once per build: the prefetch and the loader both ask)."""
        slot = (key, what)
        if slot not in self._keys:
            sha = self.hashes.get(str(path))
            self._keys[slot] = digest("record", what, key, sha) if sha else None
        return self._keys[slot]

    def hashed_as(self, path: Path | str, raw: bytes) -> bool | None:
        """Whether `raw` are the bytes of `path` the build hashed before reading anything (None:
        it hashed none). What the build keeps under that hash must be made from those bytes."""
        sha = self.hashes.get(str(path))
        return None if sha is None else hashlib.sha256(raw).hexdigest() == sha

    def exists(self, path: Path | str) -> bool:
        """Whether a file was present when the build's inputs were hashed (when they were
        not, as without the cache or in a preview: whether it is there now)."""
        return str(path) in self.hashes if self.hashes else os.path.exists(path)

    def get(self, rkey: str | None) -> Parsed | None:
        """A source parsed by an earlier build (and noted as used by this one)."""
        if rkey is None:
            return None
        hit = self.known.get(rkey)
        if hit is not None:
            self.used[rkey] = hit
        return hit

    def put(self, rkey: str | None, parsed: Parsed) -> None:
        """Remember a source that loaded without problems."""
        if rkey is not None:
            self.used[rkey] = parsed

    def keep(self) -> None:
        """Store the records of this build (those of removed or edited sources are dropped)."""
        if self.used.keys() != self.known.keys():
            self.cache.replace(NAMESPACE, self.used)


class ProjectMemo:
    """Loaded projects a long-running process keeps between builds (build.Warm), each by the
    hash of everything it is loaded from: the settings and people files (its checks name
    people and organisations) and the path and bytes of every file below its folder, as the
    build's inputs were hashed before it read anything. A project whose key is unchanged is
    the same project: the loader takes it over instead of walking, reading and checking its
    files again. Only projects that loaded without any problem are kept."""

    def __init__(self, kept: Mapping[str, tuple[object, dict[str, Parsed]]], hashes: Mapping[str, str],
                 root: Path) -> None:
        self.kept = kept
        self.used: dict[str, tuple[object, dict[str, Parsed]]] = {}
        context = digest("project-memo", str(root), *(hashes.get(str(root / name), "-")
                                                      for name in ("extranet.toml", "people.toml")))
        prefix = str(root / "content" / "projects") + "/"
        files: dict[str, list[tuple[str, str]]] = {}
        for path, sha in hashes.items():
            if path.startswith(prefix):
                files.setdefault(path[len(prefix):].split("/", 1)[0], []).append((path, sha))
        self._keys = {pid: digest(context, pid, *(f"{p}\0{h}" for p, h in sorted(items)))
                      for pid, items in files.items()}

    def has(self, pid: str) -> bool:
        """Whether the memo holds the project `pid` as its files are now."""
        key = self._keys.get(pid)
        return key is not None and key in self.kept

    def get(self, pid: str, records: RecordStore | None):
        """The project loaded from exactly these files by an earlier build (its records noted
        as used by this one), or None."""
        key = self._keys.get(pid)
        hit = self.kept.get(key) if key else None
        if hit is None:
            return None
        self.used[key] = hit
        if records is not None:
            records.used.update(hit[1])
        return hit[0]

    def put(self, pid: str, project: object, parsed: dict[str, Parsed]) -> None:
        """Remember a project that loaded without problems (with the records it was made of)."""
        key = self._keys.get(pid)
        if key is not None:
            self.used[key] = (project, parsed)
