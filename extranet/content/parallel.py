"""Markdown bodies rendered once per content hash, in a process pool when there are many.

A body is a pure function of its source key (links are relative to it), its Markdown text
and its first line: the cache key is their SHA-256. On a cold build the bodies missing from
the cache are sent to worker processes as the sources are read, and the loader walks the
site meanwhile: it waits only for a body still being rendered.
"""

from __future__ import annotations

import os
from dataclasses import replace
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor

from ..cache import Cache, digest
from .markup import MarkupError, Renderer
from .model import Body

NAMESPACE = "bodies"
SOURCES = "body-sources"
POOL_THRESHOLD = 200  # below this, starting processes costs more than it saves
CHUNK = 50  # bodies per task

_worker_renderer: Renderer | None = None


def body_key(key: str, text: str, first_line: int, email: bool = False, remote_images: bool = False) -> str:
    """The cache key of a body: everything it is rendered from."""
    return digest("body", key, str(first_line), "email" if email else "file", str(remote_images), text)


def _render_chunk(items: list[tuple[str, str, int, bool]], remote_images: bool) -> list[Body | tuple[int, str]]:
    """Worker: render (key, text, first_line, email) items; a MarkupError comes back as (line, message)."""
    global _worker_renderer
    if _worker_renderer is None or _worker_renderer.remote_images != remote_images:
        _worker_renderer = Renderer(remote_images)
    out: list[Body | tuple[int, str]] = []
    for key, text, line, email in items:
        try:
            out.append(_worker_renderer.render(key, text, line, email=email))
        except MarkupError as e:
            out.append((e.line, str(e)))
    return out


class BodyStore:
    """Renders bodies through the cache; keeps only the entries this build used."""

    def __init__(self, cache: Cache, jobs: int | None = None, remote_images: bool = False) -> None:
        self.cache = cache
        self.remote_images = remote_images
        self.known: dict[str, Body] = cache.get(NAMESPACE)
        self.used: dict[str, Body] = {}
        self.sources: dict[str, tuple[str, str]] = cache.get(SOURCES)  # key -> (hash of file bytes, body key)
        self.noted: dict[str, tuple[str, str]] = {}
        self._items: dict[str, tuple[tuple[str, str, int, bool], str]] = {}  # source key -> (item, body key)
        self.jobs = jobs if jobs is not None else (os.cpu_count() or 1)
        self.renderer = Renderer(remote_images)
        self.pool: ProcessPoolExecutor | None = None
        self.pending: dict[str, tuple[Future, list[str]]] = {}  # body key -> (its task, the task's keys)

    def has_source(self, key: str, raw: bytes) -> bool:
        """Whether the source `key` with these exact bytes has its body in the cache (then
        prefetch need not parse it: its body key is the one noted when it was parsed)."""
        entry = self.sources.get(key)
        if entry is None or entry[0] != digest("source", raw) or entry[1] not in self.known:
            return False
        self.noted[key] = entry
        return True

    def note_source(self, key: str, raw: bytes, item: tuple[str, str, int, bool]) -> None:
        """Remember which body key the source `key` with these bytes has (and the item it was
        computed from: prefetch and render take it instead of hashing the same text again)."""
        k = body_key(*item, self.remote_images)
        self.noted[key] = (digest("source", raw), k)
        self._items[key] = (item, k)

    def _key(self, item: tuple[str, str, int, bool]) -> str:
        """The body key of an item (the one note_source computed for the same item)."""
        known = self._items.get(item[0])
        return known[1] if known is not None and known[0] == item else body_key(*item, self.remote_images)

    def prefetch(self, items: Iterable[tuple[str, str, int, bool]]) -> None:
        """Start rendering the missing bodies of `items` in a process pool (when there are
        enough); `render` then waits for those still in the pool. Call `finish()` after."""
        if self.jobs < 2:
            return
        chunk: dict[str, tuple[str, str, int, bool]] = {}
        waiting: dict[str, tuple[str, str, int, bool]] = {}  # until there are enough for a pool
        for item in items:
            k = self._key(item)
            if k in self.known or k in self.pending or k in chunk or k in waiting:
                continue
            if self.pool is None:
                waiting[k] = item
                if len(waiting) < POOL_THRESHOLD:
                    continue
                self.pool = ProcessPoolExecutor(self.jobs)
                chunk, waiting = waiting, {}
            else:
                chunk[k] = item
            if len(chunk) >= CHUNK:
                self._submit(chunk)
                chunk = {}
        if chunk:
            self._submit(chunk)

    def _submit(self, chunk: dict[str, tuple[str, str, int, bool]]) -> None:
        """Send bodies to the pool, CHUNK per task."""
        assert self.pool is not None
        keys = list(chunk)
        for i in range(0, len(keys), CHUNK):
            part = keys[i:i + CHUNK]
            future = self.pool.submit(_render_chunk, [chunk[k] for k in part], self.remote_images)
            for k in part:
                self.pending[k] = (future, part)

    def _collect(self, future: Future, keys: list[str]) -> None:
        """Take the bodies of a finished task (a source with a markup error comes back as
        such and is rendered again in the loader, which reports it)."""
        for k, result in zip(keys, future.result()):
            self.pending.pop(k, None)
            if isinstance(result, Body):
                self.known[k] = replace(result, digest=k)

    def finish(self) -> None:
        """Stop the pool (every body it rendered is taken); forget the items noted."""
        self._items.clear()  # (they hold every source's text)
        if self.pool is None:
            return
        try:
            for future, keys in list(self.pending.values()):
                if future.done() and not future.cancelled() and future.exception() is None:
                    self._collect(future, keys)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
            self.pending.clear()

    def render(self, key: str, text: str, first_line: int = 1, *, email: bool = False) -> Body:
        """The body of a source, from the cache, the pool or rendered now (raises MarkupError)."""
        k = self._key((key, text, first_line, email))
        body = self.known.get(k)
        if body is None and k in self.pending:
            self._collect(*self.pending[k])
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
