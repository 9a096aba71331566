"""The build cache: pure results keyed by content hashes, kept in .extranet/cache/.

Nothing here is keyed by modification time: every entry is found by a SHA-256 of all the
inputs of the function whose result it holds (source bytes, settings, people, theme files,
tool version). A missing, damaged or other-version cache is simply empty: the build then
does everything again. Each namespace is one pickle file, rewritten atomically; when a build
changed only a few of a namespace's entries, only those are written, to a small delta file
beside it (applied in order on load; the whole file is rewritten, and the deltas dropped,
when they add up). Every file is written atomically, and a delta names the generation of the
file it applies to, so a crash at any point leaves a consistent, at worst older, cache.
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
FORMAT = f"extranet-cache/2/{__version__}"
MAX_DELTAS = 24  # delta files per namespace before the whole namespace is rewritten
_MISSING = object()


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
        self._disk: dict[str, tuple[int, int, dict]] = {}  # namespace -> (generation, next delta, entries on disk)

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
            if not (isinstance(stored, tuple) and len(stored) == 3 and stored[0] == FORMAT
                    and isinstance(stored[2], dict)):
                return {}
            generation, data = stored[1], stored[2]
            seq = 0
            for delta in self._deltas(namespace, generation):
                with open(delta, "rb") as f:
                    fmt, gen, number, changed, dropped = pickle.load(f)
                if fmt != FORMAT or gen != generation or number != seq:
                    break
                data.update(changed)
                for key in dropped:
                    data.pop(key, None)
                seq += 1
            self._disk[namespace] = (generation, seq, dict(data))
            return data
        except FileNotFoundError:
            return {}
        except Exception as e:  # noqa: BLE001 - any damage means: start again
            log.info("cache %s ignored (%s)", path, e)
        return {}

    def _deltas(self, namespace: str, generation: int | None = None) -> list[Path]:
        """The delta files of a namespace (of one generation), in the order they apply."""
        assert self.folder is not None
        found = []
        for name in os.listdir(self.folder):
            parts = name.split(".")
            if len(parts) == 4 and parts[0] == namespace and parts[3] == "delta" and parts[1].isdigit() \
                    and parts[2].isdigit() and (generation is None or int(parts[1]) == generation):
                found.append((int(parts[1]), int(parts[2]), self.folder / name))
        return [path for _, _, path in sorted(found)]

    def save(self) -> None:
        """Write every changed namespace atomically (only its changes when they are few)."""
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for namespace in sorted(self._dirty):
            data = self._data[namespace]
            disk = self._disk.get(namespace)
            if disk is not None and disk[1] < MAX_DELTAS:
                generation, seq, before = disk
                changed = {k: v for k, v in data.items() if before.get(k, _MISSING) is not v}
                dropped = [k for k in before if k not in data]
                if (len(changed) + len(dropped)) * 8 <= len(data):
                    if changed or dropped:
                        self._write(f"{namespace}.{generation}.{seq}.delta",
                                    (FORMAT, generation, seq, changed, dropped))
                        self._disk[namespace] = (generation, seq + 1, dict(data))
                    continue
            generation = int.from_bytes(os.urandom(7), "big")  # never one an old delta names
            self._write(f"{namespace}.pickle", (FORMAT, generation, data))
            for old in self._deltas(namespace):
                old.unlink(missing_ok=True)
            self._disk[namespace] = (generation, 0, dict(data))
        self._dirty.clear()

    def _write(self, name: str, value: object) -> None:
        """Pickle `value` to a file of the cache folder, atomically."""
        assert self.folder is not None
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.folder / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def open_cache(state_dir: Path, enabled: bool = True) -> Cache:
    """The cache of a site (state_dir/cache), or a disabled one."""
    return Cache(state_dir / "cache" if enabled else None)


def stat_key(path: str | Path) -> tuple[int, int, int] | None:
    """(size, mtime_ns, inode) of a file we wrote, to notice if someone replaced it since
    (a str path is fine and cheaper on hot loops: no Path arithmetic)."""
    try:
        return stat_fields(os.stat(path))
    except OSError:
        return None


def stat_fields(st: os.stat_result) -> tuple[int, int, int]:
    """The (size, mtime_ns, inode) of a stat result (see stat_key)."""
    return (st.st_size, st.st_mtime_ns, st.st_ino)

