"""Incremental builds: which pages of the previous output are still valid, and recording the new one.

A page is reused only when its page key (a hash of everything it is rendered from, see
render/fingerprint.py) is the one its previous output file was made from, that file is the
very one we wrote (same size, mtime and inode), and, when encrypted, it was sealed with the
content key its scope has now. The mixed zone's audit is memoised the same way: a reused page
was checked against a set of canaries; if the build has a canary outside that set, every
mixed page is rendered again and checked in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .cache import Cache, digest, stat_key
from .render.pages import Deferred, Memo, ZoneOutput

NAMESPACE = "outputs"
PLAIN = "plain"


def seal_id(secret: bytes) -> str:
    """How the memo names a content key (a hash of it, never the key itself)."""
    return digest("seal", secret)


class OutputMemo:
    """The previous build's output, page by page: (page key, seal id, file stat, warnings)."""

    def __init__(self, cache: Cache, out_dir: Path, encrypt: bool) -> None:
        self.cache = cache
        self.out_dir = out_dir
        self.encrypt = encrypt
        stored = cache.get(NAMESPACE)
        self.entries: dict[str, dict[str, tuple]] = stored.get("zones", {}) if stored.get("out") == str(out_dir) else {}
        self.checked: frozenset[str] = stored.get("canaries", frozenset()) if self.entries else frozenset()

    def for_zone(self, zone: str) -> Memo:
        """The renderer's question: may the page at `path` with this key keep its previous output?"""
        entries = self.entries.get(zone, {})
        folder = self.out_dir / zone

        def known(path: str, key: str) -> tuple[str, ...] | None:
            entry = entries.get(path)
            if entry is None or entry[0] != key or (entry[1] == PLAIN) == self.encrypt:
                return None
            return entry[3] if stat_key(folder / path) == entry[2] else None

        return known

    def reusable(self, zone: str, path: str, secret: bytes) -> bool:
        """Whether the previous output of a deferred page was sealed with this content key."""
        entry = self.entries.get(zone, {}).get(path)
        return entry is not None and entry[1] == seal_id(secret)

    def audited(self, canaries: Mapping[str, str]) -> bool:
        """Whether every reused mixed page was already checked against all of these canaries."""
        return {digest(c) for c in canaries} <= self.checked

    def record(self, rendered: Mapping[str, ZoneOutput], trees: Mapping[str, Mapping[str, object]],
               keys: Mapping[str, Mapping[str, bytes]], canaries: Mapping[str, str]) -> None:
        """Remember the pages just published (`keys`: zone -> scope -> content key, empty when plain)."""
        zones: dict[str, dict[str, tuple]] = {}
        for zone, out in rendered.items():
            folder = self.out_dir / zone
            entries = {}
            for path, (key, warnings) in out.keys.items():
                if path not in trees.get(zone, {}):
                    continue
                secret = keys.get(zone, {}).get(out.scopes.get(path, ""))
                if self.encrypt and secret is None:
                    continue
                stat = stat_key(folder / path)
                if stat is not None:
                    entries[path] = (key, seal_id(secret) if secret else PLAIN, stat, warnings)
            zones[zone] = entries
        self.cache.replace(NAMESPACE, {"out": str(self.out_dir), "zones": zones,
                                       "canaries": frozenset(digest(c) for c in canaries)})


def render_deferred(out: ZoneOutput) -> None:
    """Render every deferred page of a zone now (its bytes are needed, e.g. for a full audit)."""
    for path, data in list(out.files.items()):
        if isinstance(data, Deferred):
            out.files[path] = data.render()


def plain_files(tree: Mapping[str, object]) -> dict[str, bytes]:
    """The files of a tree that were produced in this build (deferred ones left out)."""
    return {p: d for p, d in tree.items() if isinstance(d, bytes)}
