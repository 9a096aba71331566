"""The page memo: which pages of the previous output are still valid (the email case).

A page is kept — its previous output file linked into the new tree instead of rendering and
sealing it again — only when all of these hold, each stated in its entry:
- its page key (the hash of everything it is rendered from, see context.py) is the one the
  file was made from;
- the file is the very one the build wrote (same size, modification time and inode);
- when encrypted, it was sealed with the content key its scope has now.
A project whose group key (the hash of everything all its pages are rendered from) is the
one of the last build has its pages taken over without computing each page's key. People's
home pages are never kept: they are sealed to one common size at every build.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..cache import Cache, digest, stat_key
from .output import ZoneOutput

NAMESPACE = "pages"  # the output folder, its zones, and the build that wrote the entries below
ENTRIES = "page-entries"  # per zone: path -> (page key, seal id, file stat, warnings)
GROUPS = "page-groups"  # per zone: group key -> its pages' paths
BUILD = ""  # an entry of each namespace: the build that wrote it (a crash between files mixes no builds)
PLAIN = "plain"


def seal_id(secret: bytes) -> str:
    """How the memo names a content key (a hash of it, never the key itself)."""
    return digest("seal", secret)


class PageMemo:
    """The previous build's pages, zone by zone."""

    def __init__(self, cache: Cache, out_dir: Path, encrypt: bool) -> None:
        self.cache = cache
        self.out_dir = out_dir
        self.encrypt = encrypt
        stored = cache.get(NAMESPACE)
        build = stored.get(BUILD) if stored.get("out") == str(out_dir) else None
        self.entries: dict[str, dict[str, tuple]] = {}
        self.groups: dict[str, dict[str, tuple[str, ...]]] = {}
        for zone in stored.get("zones", ()) if build else ():
            pages, groups = cache.get(f"{ENTRIES}-{zone}"), cache.get(f"{GROUPS}-{zone}")
            if pages.get(BUILD) == build and groups.get(BUILD) == build:
                self.entries[zone] = {k: v for k, v in pages.items() if k != BUILD}
                self.groups[zone] = {k: v for k, v in groups.items() if k != BUILD}
        self._seals: dict[bytes, str] = {}
        self._bases = {zone: f"{out_dir / zone}/" for zone in self.entries}

    def _valid(self, zone: str, path: str, entry: tuple | None) -> bool:
        """Whether an entry's file is the one written, in this build's mode."""
        return (entry is not None and (entry[1] == PLAIN) != self.encrypt
                and stat_key(self._bases[zone] + path) == entry[2])

    def for_zone(self, zone: str):
        """The renderer's question for one zone: may the page at `path` with this key keep
        its previous output? (its warnings to replay, or None); `.group(gkey)`: the pages of
        a kept project as (path, page key, warnings), or None."""
        entries = self.entries.get(zone, {})

        def known(path: str, key: str) -> tuple[str, ...] | None:
            entry = entries.get(path)
            return entry[3] if entry is not None and entry[0] == key and self._valid(zone, path, entry) else None

        def group(gkey: str) -> list[tuple[str, str, tuple[str, ...]]] | None:
            paths = self.groups.get(zone, {}).get(gkey)
            if paths is None or not all(self._valid(zone, p, entries.get(p)) for p in paths):
                return None
            return [(p, entries[p][0], entries[p][3]) for p in paths]

        known.group = group  # type: ignore[attr-defined]
        return known

    def _seal(self, secret: bytes) -> str:
        seal = self._seals.get(secret)
        if seal is None:
            seal = self._seals[secret] = seal_id(secret)
        return seal

    def reusable(self, zone: str, path: str, secret: bytes) -> bool:
        """Whether the previous output of a kept page was sealed with this content key."""
        entry = self.entries.get(zone, {}).get(path)
        return entry is not None and entry[1] == self._seal(secret)

    def record(self, rendered: Mapping[str, ZoneOutput], trees: Mapping[str, Mapping[str, object]],
               keys: Mapping[str, Mapping[str, bytes]]) -> None:
        """Remember the pages just published (`keys`: zone -> scope -> content key, empty
        when the output is not encrypted)."""
        build = os.urandom(8).hex()
        for zone, out in rendered.items():
            base = f"{self.out_dir / zone}/"
            tree = trees.get(zone, {})
            before = self.entries.get(zone, {})
            entries = {}
            for path, (key, warnings) in out.keys.items():
                secret = keys.get(zone, {}).get(out.scopes.get(path, ""))
                if path not in tree or (self.encrypt and secret is None):
                    continue
                old = before.get(path)
                if old is not None and not isinstance(tree[path], bytes) and old[0] == key and old[3] == warnings:
                    entries[path] = old  # kept: the file whose key, seal and stat were checked
                    continue
                stat = stat_key(base + path)
                if stat is not None:
                    entry = (key, self._seal(secret) if secret else PLAIN, stat, warnings)
                    entries[path] = old if old == entry else entry
            groups = {g: paths for g, paths in out.groups.items() if all(p in entries for p in paths)}
            self.cache.replace(f"{ENTRIES}-{zone}", entries | {BUILD: build})
            self.cache.replace(f"{GROUPS}-{zone}", groups | {BUILD: build})
        self.cache.replace(NAMESPACE, {"out": str(self.out_dir), "zones": tuple(sorted(rendered)), BUILD: build})
