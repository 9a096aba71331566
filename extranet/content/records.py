"""Parsed sources kept from one build to the next, keyed by the SHA-256 of the file's bytes.

Loading an unchanged source then costs a dictionary lookup instead of reading it, parsing
its YAML front matter, validating it and finding its rendered body. The key is a hash of
the source's path, the kind of record it is read as, and the hash of its bytes (the one the
no-change test computed before the build read anything, see inputs.Hasher): an edited
source, whatever changed in it (a visibility, one character of the body), has a new key.
Only sources that loaded without any problem are kept, so a cached source never hides one.
"""

from __future__ import annotations

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
