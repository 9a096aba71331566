"""The deploy manifest: what was uploaded to one destination, kept in .extranet/deploy/.

It records, per file, the SHA-256 and headers it was uploaded with and the destination's
fingerprint of it right after (S3 ETag, folder mtime), plus the hashes of the local files
by (inode, size, mtime) so that an unchanged file is not read again. It only ever records
what the destination confirmed, and is written atomically at checkpoints: a deploy killed
at any point leaves a manifest that is true, at worst missing the last uploads (which the
next deploy makes again).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..output import atomic_write
from .files import LocalFile
from .plan import Entry

FORMAT = "extranet-deploy-manifest-1"


@dataclass
class Manifest:
    """The manifest of one destination; `save` writes it (atomically)."""

    path: Path
    destination: str
    files: dict[str, Entry] = field(default_factory=dict)
    hashes: dict[tuple[int, int, int], tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path, name: str, destination: str) -> "Manifest":
        """The manifest of `destination` (empty when missing, unreadable or for another place)."""
        slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower())
        digest = hashlib.sha256(destination.encode()).hexdigest()[:12]
        path = state_dir / "deploy" / f"{slug}-{digest}.json"
        manifest = cls(path, destination)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT or data.get("destination") != destination:
                return manifest
            manifest.files = {k: Entry(*v) for k, v in data["files"].items()}
            manifest.hashes = {tuple(int(x) for x in k.split(":")): tuple(v) for k, v in data["hashes"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            return cls(path, destination)
        return manifest

    def uploaded(self, f: LocalFile, fingerprint: str | None) -> None:
        """Record a file the destination has confirmed."""
        self.files[f.key] = Entry.of(f, fingerprint)

    def deleted(self, key: str) -> None:
        """Forget a file deleted from the destination."""
        self.files.pop(key, None)

    def keep_hashes(self, local: dict[str, LocalFile]) -> None:
        """Remember the hashes of the files scanned now (and only those)."""
        self.hashes = {f.stat_key: (f.sha256, f.md5) for f in local.values()}

    def save(self) -> None:
        """Write the manifest atomically (mode 600: it lists the zone's file names)."""
        data = {
            "format": FORMAT,
            "destination": self.destination,
            "files": {k: [e.sha256, e.content_type, e.cache_control, e.fingerprint] for k, e in sorted(self.files.items())},
            "hashes": {":".join(map(str, k)): list(v) for k, v in self.hashes.items()},
        }
        atomic_write(self.path, json.dumps(data, separators=(",", ":")).encode(), mode=0o600)
