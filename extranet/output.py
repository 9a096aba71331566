"""Atomic output: every zone is written to a staging folder, then swapped in at once.

A web server serving public/<zone>/ sees either the previous build or the new one, never a
half-written tree. On Linux the swap is one renameat2(RENAME_EXCHANGE) call.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

WRITERS = 4  # creating a file waits on the disk, not the CPU: a few threads overlap the waits
_THREADED = 64  # below this many new files, threads cost more than they save
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def safe_relpath(rel: str) -> PurePosixPath:
    """Refuse absolute paths and `..`: output never escapes its folder."""
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts or rel.startswith("/"):
        raise ValueError(f"unsafe output path {rel!r}")
    return p


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths; False when the platform cannot."""
    fn = getattr(_LIBC, "renameat2", None) if _LIBC else None
    if fn is None:
        return False
    res = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return res == 0


def write_tree(folder: Path, files: Mapping[str, bytes], previous: Path | None = None) -> None:
    """Write `files` (relative path -> bytes) below `folder`.

    A value that is not bytes stands for "unchanged": the file of the `previous` tree at the
    same path is hard-linked (never modified: the live tree is only ever swapped out whole).
    New files are written by a few threads (file creation is bound by disk latency).
    """
    made: set[str] = set()
    base, old = str(folder), str(previous) if previous is not None else None
    new: list[tuple[str, bytes]] = []
    for rel, data in files.items():
        if not rel or rel[0] == "/" or ".." in rel.split("/"):
            safe_relpath(rel)  # raises
        target = f"{base}/{rel}"
        parent = target.rsplit("/", 1)[0]
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        if isinstance(data, bytes):
            new.append((target, data))
            continue
        if old is None:
            raise ValueError(f"{rel}: unchanged file without a previous output")
        source = f"{old}/{rel}"
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    if len(new) < _THREADED:
        for item in new:
            _write(item)
        return
    with ThreadPoolExecutor(WRITERS) as pool:
        for _ in pool.map(_write_many, [new[i::WRITERS] for i in range(WRITERS)]):
            pass


def _write_many(items: list[tuple[str, bytes]]) -> None:
    """One writer thread's share."""
    for item in items:
        _write(item)


def _write(item: tuple[str, bytes]) -> None:
    """Create one file with its bytes (unbuffered: three system calls)."""
    target, data = item
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def stage(out_dir: Path, name: str, files: Mapping[str, bytes]) -> Path:
    """Write one zone into a fresh staging folder next to its final place."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".staging-{name}-", dir=out_dir))
    try:
        write_tree(tmp, files, out_dir / name)
        os.chmod(tmp, 0o755)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def swap(staged: Path, final: Path, trash: Path | None = None) -> None:
    """Put `staged` at `final` atomically and delete what was there (see `discard`)."""
    if final.exists() and _exchange(staged, final):
        discard(staged, trash)
        return
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.rename(final, old)
        os.rename(staged, final)
        discard(old, trash)
    else:
        os.rename(staged, final)


_CLEANERS: list[subprocess.Popen] = []


def discard(tree: Path, trash: Path | None = None) -> None:
    """Delete a swapped-out tree. With a `trash` folder on the same file system (never a
    served one), the tree is moved there at once and deleted by a separate process: the
    build does not wait for thousands of unlinks. What a deleting process left (it is not
    waited for when the build's process ends) is deleted with the next tree."""
    if trash is not None:
        try:
            trash.mkdir(parents=True, exist_ok=True)
            os.rename(tree, trash / f"{tree.name}-{os.getpid()}-{time.monotonic_ns()}")
            command = ([rm, "-rf", "--", *[str(trash / e) for e in os.listdir(trash)]] if (rm := shutil.which("rm"))
                       else [sys.executable, "-c", _EMPTY, str(trash)])
            if ionice := shutil.which("ionice"):  # the disk's idle time only: the next build goes first
                command = [ionice, "-c", "3", *command]
            _CLEANERS[:] = [p for p in _CLEANERS if p.poll() is None]  # reap those done (a gateway runs for months)
            _CLEANERS.append(subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL, start_new_session=True,
                                              preexec_fn=_lowest_priority))
            return
        except OSError:
            pass
    shutil.rmtree(tree, ignore_errors=True)


def _lowest_priority() -> None:
    """In a deleting process, before it starts: the lowest CPU priority."""
    os.nice(19)


_EMPTY = ("import os, shutil, sys\n"
          "for e in os.listdir(sys.argv[1]): shutil.rmtree(os.path.join(sys.argv[1], e), ignore_errors=True)")


def settle() -> None:
    """Wait for background deletions (a test, or a build that is about to fork workers)."""
    while _CLEANERS:
        _CLEANERS.pop().wait()


def publish(out_dir: Path, trees: Mapping[str, Mapping[str, bytes]], trash: Path | None = None) -> None:
    """Stage every tree first (any failure leaves the old output untouched), then swap each in
    (`trash`: where the previous trees go to be deleted in the background, see `discard`)."""
    staged: dict[str, Path] = {}
    try:
        for name, files in trees.items():
            staged[name] = stage(out_dir, name, files)
    except BaseException:
        for path in staged.values():
            shutil.rmtree(path, ignore_errors=True)
        raise
    for name, path in staged.items():
        swap(path, out_dir / name, trash)


def fsync_dir(path: Path) -> None:
    """Flush a directory so that a rename or creation inside it survives a power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` durably: readers see the old file or the new one, whole.

    Temporary file in the same folder (created with `mode`), fsync, rename, fsync the folder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)
