"""Incremental builds: which pages of the previous output are still valid, and recording the new one.

A page is reused only when its page key (a hash of everything it is rendered from, see
render/fingerprint.py) is the one its previous output file was made from, that file is the
very one we wrote (same size, mtime and inode), and, when encrypted, it was sealed with the
content key its scope has now.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .cache import Cache, digest, stat_key
from .inputs import Snapshot
from .render.pages import Deferred, Memo, ZoneOutput

NAMESPACE = "outputs"  # the output folder and its zones
PAGES = "output-pages"  # one namespace per zone: path -> entry (one entry each: the cache writes only changes)
GROUPS = "output-groups"  # one namespace per zone: group key -> its pages' paths
BUILD = ""  # an entry of each of them (never a path nor a group key): the build that wrote it, as a
# crash between their files must not mix entries of two builds
PLAIN = "plain"
MOVED = "moved"  # a page the protect stage placed elsewhere (a person's home): entry[2] lists where


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
        build = stored.get(BUILD) if stored.get("out") == str(out_dir) else None
        self.entries: dict[str, dict[str, tuple]] = {}
        self.groups: dict[str, dict[str, tuple[str, ...]]] = {}
        for zone in stored.get("zones", ()) if build else ():
            pages, groups = cache.get(f"{PAGES}-{zone}"), cache.get(f"{GROUPS}-{zone}")
            if pages.get(BUILD) == build and groups.get(BUILD) == build:  # written by the same build
                self.entries[zone] = {k: v for k, v in pages.items() if k != BUILD}
                self.groups[zone] = {k: v for k, v in groups.items() if k != BUILD}
        self._targets = {zone: {t for e in entries.values() if e[1] == MOVED for t in e[2]}
                         for zone, entries in self.entries.items()}
        self._approved: dict[tuple[str, str], str] = {}  # (zone, placed path) -> page key it may keep
        self._seals: dict[bytes, str] = {}

    def for_zone(self, zone: str) -> Memo:
        """The renderer's question: may the page at `path` with this key keep its previous output?"""
        entries = self.entries.get(zone, {})
        folder = self.out_dir / zone

        def known(path: str, key: str) -> tuple[str, ...] | None:
            entry = entries.get(path)
            if entry is None or entry[0] != key:
                return None
            if entry[1] == MOVED:  # every place it was put holds the output of this key
                base = str(folder) + "/"
                for target in entry[2]:
                    placed = entries.get(target)
                    if (placed is None or placed[0] != key or (placed[1] == PLAIN) == self.encrypt
                            or stat_key(base + target) != placed[2]):
                        return None
                self._approved.update(((zone, target), key) for target in entry[2])
                return entry[3]
            if (entry[1] == PLAIN) == self.encrypt:
                return None
            return entry[3] if stat_key(folder / path) == entry[2] else None

        def group(gkey: str) -> list[tuple[str, str, tuple[str, ...]]] | None:
            """(path, page key, warnings) of every page of a group the previous build rendered
            from the same group key, when each output file is still the one it wrote."""
            paths = self.groups.get(zone, {}).get(gkey)
            if paths is None:
                return None
            out = []
            base = str(folder) + "/"
            for path in paths:
                entry = entries.get(path)
                if entry is None or (entry[1] == PLAIN) == self.encrypt or stat_key(base + path) != entry[2]:
                    return None
                out.append((path, entry[0], entry[3]))
            return out

        known.group = group  # type: ignore[attr-defined]
        return known

    def _seal(self, secret: bytes) -> str:
        """seal_id, once per content key and build (a few hundred keys seal 22,000 files)."""
        seal = self._seals.get(secret)
        if seal is None:
            seal = self._seals[secret] = seal_id(secret)
        return seal

    def reusable(self, zone: str, path: str, secret: bytes) -> bool:
        """Whether the previous output of a deferred page was sealed with this content key."""
        entry = self.entries.get(zone, {}).get(path)
        if entry is None or entry[1] != self._seal(secret):
            return False
        # a placed page (a person's home) only where its page was found unchanged in this build
        return path not in self._targets.get(zone, ()) or self._approved.get((zone, path)) == entry[0]

    def record(self, rendered: Mapping[str, ZoneOutput], trees: Mapping[str, Mapping[str, object]],
               keys: Mapping[str, Mapping[str, bytes]], snapshot: Snapshot | None = None) -> None:
        """Remember the pages just published (`keys`: zone -> scope -> content key, empty when
        plain; `snapshot`: inputs.output_snapshot of the published zones, to save a stat per file)."""
        stats = snapshot.stats if snapshot is not None else None
        build = os.urandom(8).hex()
        for zone, out in rendered.items():
            base = f"{self.out_dir / zone}/"
            tree = trees.get(zone, {})
            before, before_groups = self.entries.get(zone, {}), self.groups.get(zone, {})
            entries = {}
            for path, (key, warnings) in out.keys.items():
                targets = out.moved.get(path, (path,))
                if not targets or any(t not in tree for t in targets):
                    continue
                secret = keys.get(zone, {}).get(out.scopes.get(path, ""))
                if self.encrypt and secret is None:
                    continue
                old = before.get(path)
                if (old is not None and path not in out.moved and not isinstance(tree[path], bytes)
                        and old[0] == key and old[3] == warnings):
                    entries[path] = old  # a reused page: the file whose key, seal and stat were checked
                    continue
                seal = PLAIN
                if secret:
                    seal = self._seal(secret)
                for target in targets:
                    stat = stats.get(base + target) if stats is not None else stat_key(base + target)
                    if stat is not None:
                        entries[target] = _same((key, seal, stat, warnings), before.get(target))
                if path in out.moved and all(t in entries for t in targets):
                    entries[path] = _same((key, MOVED, targets, warnings), before.get(path))
            groups = {g: _same(paths, before_groups.get(g)) for g, paths in out.groups.items()
                      if all(p in entries for p in paths)}
            self.cache.replace(f"{PAGES}-{zone}", entries | {BUILD: build})
            self.cache.replace(f"{GROUPS}-{zone}", groups | {BUILD: build})
        self.cache.replace(NAMESPACE, {"out": str(self.out_dir), "zones": tuple(sorted(rendered)), BUILD: build})


def _same(value: tuple, before: tuple | None) -> tuple:
    """`before` when it equals `value` (the same object: the cache then writes nothing for it)."""
    return before if before == value else value
