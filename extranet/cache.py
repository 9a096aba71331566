"""The build cache: pure results keyed by content hashes, kept in .extranet/cache/.

Nothing here is keyed by modification time: every entry is found by a SHA-256 of all the
inputs of the function whose result it holds (source bytes, settings, people, theme files,
tool version). A missing, damaged or other-version cache is simply empty: the build then
does everything again. Each namespace is one pickle file, rewritten atomically.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from pathlib import Path

from . import __version__

log = logging.getLogger("extranet")
FORMAT = f"extranet-cache/1/{__version__}"


def digest(*parts: str | bytes) -> str:
    """SHA-256 (hex) of the parts, each length-prefixed so that no two lists collide."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


class Cache:
    """Namespaced dictionaries persisted under `folder`; disabled (always empty) when folder is None."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._data: dict[str, dict] = {}
        self._dirty: set[str] = set()

    def get(self, namespace: str) -> dict:
        """The dictionary of a namespace, loaded on first use (empty when absent or unreadable)."""
        if namespace not in self._data:
            self._data[namespace] = self._load(namespace)
        return self._data[namespace]

    def replace(self, namespace: str, values: dict) -> None:
        """Set a namespace's whole content (entries not in `values` are dropped)."""
        self._data[namespace] = values
        self._dirty.add(namespace)

    def touch(self, namespace: str) -> None:
        """Mark a namespace as changed, to be written by save()."""
        self._dirty.add(namespace)

    def _load(self, namespace: str) -> dict:
        if self.folder is None:
            return {}
        path = self.folder / f"{namespace}.pickle"
        try:
            with open(path, "rb") as f:
                stored = pickle.load(f)
            if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == FORMAT and isinstance(stored[1], dict):
                return stored[1]
        except FileNotFoundError:
            return {}
        except Exception as e:  # noqa: BLE001 - any damage means: start again
            log.info("cache %s ignored (%s)", path, e)
        return {}

    def save(self) -> None:
        """Write every changed namespace atomically."""
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for namespace in sorted(self._dirty):
            path = self.folder / f"{namespace}.pickle"
            fd, tmp = tempfile.mkstemp(prefix=f".{namespace}.", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as f:
                    pickle.dump((FORMAT, self._data[namespace]), f, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        self._dirty.clear()


def open_cache(state_dir: Path, enabled: bool = True) -> Cache:
    """The cache of a site (state_dir/cache), or a disabled one."""
    return Cache(state_dir / "cache" if enabled else None)


def stat_key(path: str | Path) -> tuple[int, int, int] | None:
    """(size, mtime_ns, inode) of a file we wrote, to notice if someone replaced it since
    (a str path is fine and cheaper on hot loops: no Path arithmetic)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)

