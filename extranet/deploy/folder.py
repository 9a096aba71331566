"""A local or mounted folder as a deploy destination (a web server's root, an SMB/NFS share).

Each file is written to a hidden temporary name beside its place, then renamed over it: a
web server reading the folder serves the old file or the new one, whole. The destination
folder itself may be created, its parent must exist (an unmounted share is an error, not a
new folder on the local disk).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .destination import Destination
from .files import LocalFile, hidden
from .plan import Remote
from .targets import PROBE, DeployError, Done


class FolderTarget:
    """Deploys into a folder of this machine."""

    def __init__(self, destination: Destination) -> None:
        self.folder = Path(destination.path)
        self.description = destination.text

    def _ready(self) -> None:
        if not self.folder.parent.is_dir():
            raise DeployError(f"{self.folder.parent}: no such folder (is the share mounted?)")
        self.folder.mkdir(mode=0o755, exist_ok=True)

    def list(self) -> dict[str, Remote]:
        """Every visible file below the folder (none if it does not exist yet)."""
        if not self.folder.exists():
            if not self.folder.parent.is_dir():
                raise DeployError(f"{self.folder.parent}: no such folder (is the share mounted?)")
            return {}
        out: dict[str, Remote] = {}
        base = str(self.folder)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                full = os.path.join(dirpath, name)
                key = full[len(base) + 1:].replace(os.sep, "/")
                if hidden(key) or os.path.islink(full):
                    continue
                st = os.stat(full)
                out[key] = Remote(st.st_size, str(st.st_mtime_ns))
        return out

    def same(self, f: LocalFile, remote: Remote) -> bool:
        """Whether the folder's file holds the same bytes (read and hashed: no manifest entry)."""
        digest = hashlib.sha256()
        with open(self.folder / f.key, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest() == f.sha256

    def upload(self, files: Sequence[LocalFile], done: Done) -> None:
        """Copy each file to a temporary name beside its place, then rename it over the old one."""
        self._ready()
        for f in files:
            target = self.folder / f.key
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as out, open(f.path, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            done(f, str(target.stat().st_mtime_ns))

    def delete(self, keys: Sequence[str]) -> None:
        """Delete files, then the folders they leave empty."""
        folders: set[Path] = set()
        for key in keys:
            path = self.folder / key
            path.unlink(missing_ok=True)
            folders.update(p for p in path.parents if self.folder in p.parents)
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty (or gone)

    def probe(self) -> None:
        """Write and delete a hidden file: the folder exists and is writable."""
        self._ready()
        path = self.folder / PROBE
        path.write_bytes(b"extranet doctor\n")
        path.unlink()
