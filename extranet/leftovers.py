"""What a crashed command leaves behind, removed when the next command starts.

A process killed while it publishes leaves a staging tree (with a keyring, in
`.extranet/staging/`, or in `public/` from versions that staged there) or an `.old-*` tree; one
killed while it writes a file atomically leaves an empty `.<name>.<random>.tmp` beside it (in
`content/`, or beside `people.toml`). Nothing reads them, but a staging tree in `public/` would
be uploaded with it. They are removed only when no other command runs (the site lock and the
gateway's spool lock are both free): a running build or gateway may be writing them.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from .output import OLD_PREFIX, STAGING_PREFIX

log = logging.getLogger("extranet")
_TEMP_FILE = re.compile(r"^\..+\.tmp$")  # output.atomic_write's temporary files


def clean_leftovers(root: Path) -> list[Path]:
    """Remove the crash leftovers of the site at `root` (see the module docstring); returns
    what was removed, nothing when another command holds the site."""
    state = root / ".extranet"
    if not state.is_dir():
        return []
    with _unless_busy(state / "site.lock") as free, _unless_busy(state / "spool" / "lock") as idle:
        if not (free and idle):
            return []
        found = [p for folder in (state / "staging", root / "public", root)
                 for p in _entries(folder) if p.name.startswith((STAGING_PREFIX, OLD_PREFIX))]
        found += [p for p in _entries(state / "staging")]
        found += [p for p in _entries(root) if _TEMP_FILE.match(p.name) and p.is_file()]
        found += list(_temp_files(root / "content"))
        removed = []
        for path in dict.fromkeys(found):
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue
            removed.append(path)
    if removed:
        log.info("removed %d leftover(s) of an interrupted command: %s", len(removed),
                 ", ".join(str(p.relative_to(root)) for p in removed[:5]) + (" ..." if len(removed) > 5 else ""))
    return removed


@contextlib.contextmanager
def _unless_busy(lock: Path) -> Iterator[bool]:
    """Hold `lock` if nobody does (True), else yield False at once; an absent lock is free."""
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _entries(folder: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(folder)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _temp_files(folder: Path) -> Iterator[Path]:
    for parent, _, names in os.walk(folder):
        for name in names:
            if name.startswith(".") and _TEMP_FILE.match(name):
                yield Path(parent) / name
