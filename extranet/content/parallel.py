"""Markdown bodies rendered once per content hash, in a process pool when there are many.

A body is a pure function of its source key (links are relative to it), its Markdown text
and its first line: the cache key is their SHA-256. On a cold build the bodies missing from
the cache are rendered in worker processes before the loader walks the site.
"""

from __future__ import annotations

import os
from dataclasses import replace
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor

from ..cache import Cache, digest
from .markup import MarkupError, Renderer
from .model import Body

NAMESPACE = "bodies"
SOURCES = "body-sources"
POOL_THRESHOLD = 200  # below this, starting processes costs more than it saves

_worker_renderer: Renderer | None = None


def body_key(key: str, text: str, first_line: int, email: bool = False) -> str:
    """The cache key of a body."""
    return digest("body", key, str(first_line), "email" if email else "file", text)


def _render_chunk(items: list[tuple[str, str, int, bool]]) -> list[Body | tuple[int, str]]:
    """Worker: render (key, text, first_line, email) items; a MarkupError comes back as (line, message)."""
    global _worker_renderer
    if _worker_renderer is None:
        _worker_renderer = Renderer()
    out: list[Body | tuple[int, str]] = []
    for key, text, line, email in items:
        try:
            out.append(_worker_renderer.render(key, text, line, email=email))
        except MarkupError as e:
            out.append((e.line, str(e)))
    return out


class BodyStore:
    """Renders bodies through the cache; keeps only the entries this build used."""

    def __init__(self, cache: Cache, jobs: int | None = None) -> None:
        self.cache = cache
        self.known: dict[str, Body] = cache.get(NAMESPACE)
        self.used: dict[str, Body] = {}
        self.sources: dict[str, tuple[str, str]] = cache.get(SOURCES)  # key -> (hash of file bytes, body key)
        self.noted: dict[str, tuple[str, str]] = {}
        self.jobs = jobs if jobs is not None else (os.cpu_count() or 1)
        self.renderer = Renderer()

    def has_source(self, key: str, raw: bytes) -> bool:
        """Whether the source `key` with these exact bytes has its body in the cache (then
        prefetch need not parse it: its body key is the one noted when it was parsed)."""
        entry = self.sources.get(key)
        if entry is None or entry[0] != digest("source", raw) or entry[1] not in self.known:
            return False
        self.noted[key] = entry
        return True

    def note_source(self, key: str, raw: bytes, item: tuple[str, str, int, bool]) -> None:
        """Remember which body key the source `key` with these bytes has."""
        self.noted[key] = (digest("source", raw), body_key(*item))

    def prefetch(self, items: Iterable[tuple[str, str, int, bool]]) -> None:
        """Render the missing bodies of `items` in a process pool (when there are enough)."""
        missing = {body_key(*item): item for item in items}
        missing = {k: v for k, v in missing.items() if k not in self.known}
        if self.jobs < 2 or len(missing) < POOL_THRESHOLD:
            return
        keys = list(missing)
        size = max(20, len(keys) // (self.jobs * 4))
        chunks = [keys[i:i + size] for i in range(0, len(keys), size)]
        with ProcessPoolExecutor(self.jobs) as pool:
            for chunk, results in zip(chunks, pool.map(_render_chunk, [[missing[k] for k in c] for c in chunks])):
                for k, result in zip(chunk, results):
                    if isinstance(result, Body):
                        self.known[k] = replace(result, digest=k)

    def render(self, key: str, text: str, first_line: int = 1, *, email: bool = False) -> Body:
        """The body of a source, from the cache or rendered now (raises MarkupError)."""
        k = body_key(key, text, first_line, email)
        body = self.known.get(k)
        if body is None:
            body = replace(self.renderer.render(key, text, first_line, email=email), digest=k)
            self.known[k] = body
        self.used[k] = body
        return body

    def keep(self) -> None:
        """Store exactly the bodies of this build (old versions are dropped)."""
        self.cache.replace(NAMESPACE, self.used)
        self.cache.replace(SOURCES, {k: v for k, v in self.noted.items() if v[1] in self.used})
