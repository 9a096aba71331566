"""What a deploy publishes: the files of one built zone, each with its hashes and HTTP headers.

Only regular files below the zone folder are taken; hidden names (".htaccess", ".staging-…",
rsync's temporary files) and symbolic links never are, at any depth. The headers are a
pure function of the path and the bytes: pages and the keyring must never be served stale
(`no-cache`: revalidated at every use), a file whose name carries its own content hash never
changes (`immutable`), the theme's static files may be kept an hour.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

NO_CACHE = "no-cache"
STATIC = "public, max-age=3600"
IMMUTABLE = "public, max-age=31536000, immutable"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".conf": "text/plain; charset=utf-8",
    ".htpasswd": "text/plain; charset=utf-8",
}
BINARY = "application/octet-stream"  # encrypted attachments (.bin) and anything unknown
_HASHED = re.compile(r"[.-]([0-9a-f]{8,64})\.[A-Za-z0-9]+$")


@dataclass(frozen=True)
class LocalFile:
    """One file to publish: its key (relative POSIX path), where it is, and what it holds."""

    key: str
    path: Path
    size: int
    sha256: str
    md5: str  # what S3 reports as the ETag of an object uploaded in one part
    content_type: str
    cache_control: str
    stat_key: tuple[int, int, int]  # (inode, size, mtime_ns): the bytes are the same while it is

    @property
    def is_page(self) -> bool:
        """Pages point to other files: they are uploaded after them."""
        return self.key.endswith(".html")


def headers_for(key: str, sha256: str, static_prefix: str = "static/") -> tuple[str, str]:
    """(Content-Type, Cache-Control) of a published file."""
    name = key.rsplit("/", 1)[-1]
    ext = os.path.splitext(name)[1].lower()
    content_type = TYPES.get(ext, BINARY)
    hashed = _HASHED.search(name)
    if hashed and sha256.startswith(hashed.group(1)):
        return content_type, IMMUTABLE
    if key.startswith(static_prefix) and ext not in (".html", ".json"):
        return content_type, STATIC
    return content_type, NO_CACHE


def hidden(key: str) -> bool:
    """Whether any part of a relative path is a hidden name (never published, never deleted)."""
    return any(part.startswith(".") for part in key.split("/"))


def scan(folder: Path, known: Mapping[tuple[int, int, int], tuple[str, str]] | None = None) -> dict[str, LocalFile]:
    """Every publishable file below `folder`, by key. `known` maps a stat key to the
    (sha256, md5) computed earlier: a file of the build is never modified in place, so the
    same inode, size and mtime mean the same bytes, and it is not read again."""
    known = known or {}
    out: dict[str, LocalFile] = {}
    base = str(folder)
    todo = [base]
    while todo:
        with os.scandir(todo.pop()) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue  # symbolic links, sockets: never published
                st = entry.stat(follow_symlinks=False)
                stat_key = (st.st_ino, st.st_size, st.st_mtime_ns)
                sums = known.get(stat_key) or _hash(entry.path)
                key = entry.path[len(base) + 1:].replace(os.sep, "/")
                content_type, cache = headers_for(key, sums[0])
                out[key] = LocalFile(key, Path(entry.path), st.st_size, sums[0], sums[1], content_type, cache,
                                     stat_key)
    return out


def _hash(path: str) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()
