"""Parsed sources kept by content: the first of the build's two caches.

A record is `parse_source` of a source (parse.py): a pure function of its kind, content key,
bytes and the renderer's options. Its key is the hash of exactly those (the bytes by their
SHA-256, taken when the build scanned its inputs), so an edited source — whatever changed in
it — has a new key, and a kept record is valid for as long as its key is asked for. Only
sources that parse without problems are kept, and only those the last build used. The
sources missing from the store are parsed in worker processes when there are many.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

from ..cache import Cache, digest
from .markup import Renderer
from .parse import Parsed, Problem, parse_source

NAMESPACE = "records"
POOL_THRESHOLD = 200  # sources to parse: below this, starting processes costs more than it saves
CHUNK = 50  # sources per task
Item = tuple[str, str, bytes]  # (kind, content key, bytes)
_worker: Renderer | None = None


def _parse_chunk(items: list[Item], remote_images: bool) -> list[Parsed | list[Problem]]:
    """Worker: parse sources (one renderer per process)."""
    global _worker
    if _worker is None or _worker.remote_images != remote_images:
        _worker = Renderer(remote_images)
    return [parse_source(kind, key, raw, _worker) for kind, key, raw in items]


class RecordStore:
    """Parsed sources by record key; keeps exactly the ones this build used."""

    def __init__(self, cache: Cache, remote_images: bool = False) -> None:
        self.cache = cache
        self.remote_images = remote_images
        self.known: dict[str, Parsed] = cache.get(NAMESPACE)
        self.stored = frozenset(self.known)  # (the records the cache holds)
        self.used: dict[str, Parsed] = {}
        self.renderer = Renderer(remote_images)

    def key(self, kind: str, key: str, sha: str) -> str:
        """The record key of a source: its kind, content key, bytes' hash and the renderer's options."""
        return digest("record", kind, key, sha, "remote" if self.remote_images else "")

    def get(self, rkey: str) -> Parsed | None:
        """A kept record (noted as used by this build)."""
        hit = self.known.get(rkey)
        if hit is not None:
            self.used[rkey] = hit
        return hit

    def parse(self, items: Iterable[tuple[str, Item]], jobs: int = 1) -> dict[str, Parsed | list[Problem]]:
        """Parse sources (record key -> item), in `jobs` processes when there are many; the
        ones without problems are kept."""
        todo = list(items)
        if jobs >= 2 and len(todo) >= POOL_THRESHOLD:
            chunks = [todo[i:i + CHUNK] for i in range(0, len(todo), CHUNK)]
            with ProcessPoolExecutor(min(jobs, os.cpu_count() or 1)) as pool:
                results = [r for part in pool.map(_parse_chunk, [[item for _, item in c] for c in chunks],
                                                  [self.remote_images] * len(chunks)) for r in part]
        else:
            results = [parse_source(kind, key, raw, self.renderer) for _, (kind, key, raw) in todo]
        out = {}
        for (rkey, _), result in zip(todo, results):
            out[rkey] = result
            if isinstance(result, Parsed):
                result = out[rkey] = replace(result, body=replace(result.body, digest=digest("body", rkey)))
                self.known[rkey] = self.used[rkey] = result
        return out

    def keep(self) -> None:
        """Store the records of this build (those of removed or edited sources are dropped)."""
        if self.used.keys() != self.stored:
            self.cache.replace(NAMESPACE, self.used)
            self.stored = frozenset(self.used)
