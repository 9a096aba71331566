"""Watch a site's sources and call back once they have been quiet for a moment (debounced).

Sources are `content/`, `themes/`, `extranet.toml` and `people.toml`; the output (`public/`),
the local state (`.extranet/`) and editors' temporary files are ignored, and so are the
open/read events the build itself causes (otherwise every build would trigger the next).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path, PurePath

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

SOURCE_DIRS = ("content", "themes")
SOURCE_FILES = ("extranet.toml", "people.toml")
_QUIET_EVENTS = {"opened", "closed_no_write"}


def is_source(root: Path, path: str | bytes) -> bool:
    """True when `path` is one of the site's sources (not output, state or an editor's temp file)."""
    if isinstance(path, bytes):
        path = path.decode("utf-8", "replace")
    try:
        rel = PurePath(path).relative_to(root)
    except ValueError:
        return False
    if not rel.parts:
        return False
    name = rel.parts[-1]
    if name.startswith((".", "#")) or name.endswith(("~", ".swp", ".swx", ".tmp")) or name == "4913":
        return False
    return rel.parts[0] in SOURCE_DIRS or (len(rel.parts) == 1 and name in SOURCE_FILES)


class Watcher:
    """Calls `on_change()` (in its own thread) `delay` seconds after the last change to a source."""

    def __init__(self, root: Path, on_change: Callable[[], None], delay: float = 0.2) -> None:
        self.root = root.resolve()
        self.on_change = on_change
        self.delay = delay
        self._observer = Observer()
        self._watched: set[str] = set()
        self._last = 0.0
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="extranet-watch", daemon=True)

    def start(self) -> None:
        """Start watching."""
        handler = _Handler(self)
        self._handler = handler
        self._observer.schedule(handler, str(self.root), recursive=False)
        for name in SOURCE_DIRS:
            self._watch_dir(self.root / name)
        self._observer.start()
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and wait for a running callback to finish."""
        self._stop.set()
        self._dirty.set()
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def poke(self, path: str | bytes) -> None:
        """Note a change to `path` (ignored unless it is a source)."""
        if not is_source(self.root, path):
            return
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        if PurePath(path).parent == self.root and PurePath(path).name in SOURCE_DIRS:
            self._watch_dir(Path(path))  # content/ or themes/ created after the start
        with self._lock:
            self._last = time.monotonic()
        self._dirty.set()

    def _watch_dir(self, folder: Path) -> None:
        key = str(folder)
        if folder.is_dir() and key not in self._watched:
            self._watched.add(key)
            self._observer.schedule(self._handler, key, recursive=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._dirty.wait(0.5):
                continue
            while True:  # debounce: wait until nothing changed for `delay` seconds
                with self._lock:
                    quiet = self.delay - (time.monotonic() - self._last)
                if quiet <= 0:
                    break
                if self._stop.wait(quiet):
                    return
            if self._stop.is_set():
                return
            self._dirty.clear()
            self.on_change()


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _QUIET_EVENTS or (event.is_directory and event.event_type == "modified"):
            return  # a folder's "modified" only echoes the events of the files inside
        self.watcher.poke(event.src_path)
        dest = getattr(event, "dest_path", "")
        if dest:
            self.watcher.poke(dest)
