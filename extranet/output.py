"""Atomic output: every zone is written to a staging folder, then swapped in at once.

A web server serving public/<zone>/ sees either the previous build or the new one, never a
half-written tree. On Linux the swap is one renameat2(RENAME_EXCHANGE) call. Staging trees
live outside the output folder (in the site's `.extranet/staging/` when it is on the same file
system), so that nothing half-written, nor a crash's leftover, is ever uploaded with it;
`extranet.leftovers` removes what a crash left.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
_EXCHANGE_WORKS = getattr(_LIBC, "renameat2", None) is not None


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
    _write_all(new)


def _write_all(new: list[tuple[str, bytes]]) -> None:
    """Create files (target, bytes): a few threads when there are many."""
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


STAGING_PREFIX = ".staging-"
OLD_PREFIX = ".old-"


def staging_folder(out_dir: Path, staging: Path | None) -> Path:
    """Where to stage a tree for `out_dir`: `staging` when it is on the same file system (a
    rename must put it in place), else the folder holding `out_dir`; `out_dir` itself only
    when no staging folder is given (or neither is on its file system)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if staging is None:
        return out_dir
    device = os.stat(out_dir).st_dev
    for candidate in (staging, out_dir.resolve().parent):
        try:
            candidate.mkdir(parents=True, exist_ok=True, mode=0o700)
            if os.stat(candidate).st_dev == device:
                return candidate
        except OSError:
            continue
    return out_dir


def stage(out_dir: Path, name: str, files: Mapping[str, bytes], staging: Path | None = None) -> Path:
    """Write one zone into a fresh staging folder (see `staging_folder`), ready to swap in."""
    folder = staging_folder(out_dir, staging)
    tmp = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{name}-", dir=folder))
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
        old = staged.with_name(f"{OLD_PREFIX}{final.name}-{os.getpid()}")  # beside the staged tree
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


def can_fork() -> bool:
    """Whether this process may fork workers now. Forking copies only the calling thread: never
    with other threads running (a preview server, the gateway), whose locks the child would
    inherit held; our own background deletions end first."""
    settle()
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def publish(out_dir: Path, trees: Mapping[str, Mapping[str, bytes]], trash: Path | None = None,
            spare: "Spare | None" = None, staging: Path | None = None,
            check: Callable[[dict[str, Path]], None] | None = None,
            early: Callable[[str, Path], None] | None = None) -> None:
    """Stage every tree first, then swap each in; any failure, and any exception `check`
    raises when given the staged folders (name -> folder), leaves the old output untouched
    (`trash`: where the previous trees go to be deleted in the background, see `discard`;
    `spare`: the trees the last publish swapped out, see Spare; `staging`: where to stage, see
    `staging_folder`; `early`: told of each tree once it is staged, in the order of `trees`,
    so that what checks it may start while the others are written)."""
    staged: dict[str, Path] = {}
    new_folder = not out_dir.exists()
    try:
        for name, files in trees.items():
            path = None
            if spare is not None and spare.usable(name, out_dir / name):
                try:
                    path = spare.update(name, files, out_dir / name)
                except (OSError, SpareMismatch):
                    spare.drop(name, trash)  # whatever happened to it: a fresh staging tree instead
            staged[name] = path if path is not None else stage(out_dir, name, files, staging)
            if early is not None:
                early(name, staged[name])
        if check is not None:
            check(dict(staged))
    except BaseException:
        for name, path in staged.items():
            if spare is not None and spare.holds(name, path):
                spare.drop(name, trash)  # half brought up to date: no longer what it is known to be
            else:
                shutil.rmtree(path, ignore_errors=True)
        if new_folder:
            shutil.rmtree(out_dir, ignore_errors=True)  # (made for the staging trees only)
        raise
    for name, path in staged.items():
        if spare is not None and spare.holds(name, path):
            spare.swap_in(name, out_dir / name, trees[name])
        elif spare is not None:
            spare.keep(name, path, out_dir / name, trees[name], trash)
        else:
            swap(path, out_dir / name, trash)


def same_files(folder: Path, files: Mapping[str, bytes]) -> bool:
    """Whether `folder` holds exactly `files` (names and bytes): a small tree then need not be
    published again."""
    try:
        names = _names(str(folder))
        if names != files.keys():
            return False
        for rel, data in files.items():
            with open(folder / rel, "rb") as f:
                if f.read() != data:
                    return False
    except OSError:
        return False
    return True


class SpareMismatch(Exception):
    """A spare tree brought up to date does not hold exactly the files of the new output."""


@dataclass(frozen=True)
class _Pair:
    """One zone's two trees as the last publish left them."""

    live: tuple[int, ...] | None  # identity of the served tree's folder (see folder_identity)
    spare: tuple[int, ...] | None  # identity of the spare tree's folder
    live_files: frozenset[str]
    spare_files: frozenset[str]
    differs: frozenset[str]  # paths at which the spare's file is not the served one (another inode)


def folder_identity(path: Path) -> tuple[int, ...] | None:
    """Device, inode, modification and change times of a folder: another build's swap, or
    anything renamed in its place, changes them."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


class Spare:
    """The trees the last publish swapped out, kept for the next one.

    Staging a new tree costs a hard link per unchanged file and a folder per project, and the
    old tree's thousands of files are then deleted (which, on ext4, also slows the next
    build's file creation). Instead, the tree swapped out by the last publish is kept in
    `folder` (beside the build state, never served) with what is known of it: its files, and
    at which paths its file is not the served one. The next publish brings it up to date at
    those paths and at the paths that change now (a changed file is replaced, never written
    into: it may be the served file's other link), checks that it holds exactly the new
    output's file names, and swaps it in; the served tree becomes the spare. Used only when the
    spare and the served folder are exactly as the last publish left them (identity of both
    folders); otherwise, or on any error, the spare is discarded and a fresh tree staged."""

    def __init__(self, folder: Path, pairs: dict[str, _Pair] | None = None) -> None:
        """`pairs`: what the last publish left, zone -> _Pair (kept by the caller from one
        process to the next: the build keeps it in its cache, and marks it changed after each
        publish)."""
        self.folder = folder
        self.pairs: dict[str, _Pair] = pairs if pairs is not None else {}

    def holds(self, name: str, path: Path) -> bool:
        """Whether `path` is the spare tree of `name`."""
        return path == self.folder / name

    def usable(self, name: str, final: Path) -> bool:
        """Whether the spare of `name` and the served tree are the ones the last publish left."""
        pair = self.pairs.get(name)
        return (pair is not None and _EXCHANGE_WORKS and folder_identity(self.folder / name) == pair.spare
                and folder_identity(final) == pair.live)

    def update(self, name: str, files: Mapping[str, bytes], final: Path) -> Path:
        """Bring the spare of `name` to `files` (a value that is not bytes: the served file)."""
        pair = self.pairs[name]
        tree = self.folder / name
        base, live = str(tree), str(final)
        os.rmdir(tempfile.mkdtemp(dir=tree))  # (its folder's times move: a crash from here on leaves it unusable)
        for rel in pair.spare_files - files.keys():
            os.unlink(f"{base}/{rel}")
        made: set[str] = set()
        new: list[tuple[str, bytes]] = []
        for rel, data in files.items():
            fresh = isinstance(data, bytes)
            present = rel in pair.spare_files
            if not fresh and present and rel not in pair.differs:
                continue  # the spare's file is the served one
            if not rel or rel[0] == "/" or ".." in rel.split("/"):
                safe_relpath(rel)  # raises
            target = f"{base}/{rel}"
            if present:
                os.unlink(target)
            else:
                parent = target.rsplit("/", 1)[0]
                if parent not in made:
                    os.makedirs(parent, exist_ok=True)
                    made.add(parent)
            if fresh:
                new.append((target, data))
            else:
                os.link(f"{live}/{rel}", target)
        _write_all(new)
        for folder in sorted({rel.rsplit("/", 1)[0] for rel in pair.spare_files - files.keys() if "/" in rel},
                             key=len, reverse=True):
            while folder:  # folders left empty go too
                try:
                    os.rmdir(f"{base}/{folder}")
                except OSError:
                    break
                folder = folder.rpartition("/")[0]
        if _names(base) != files.keys():
            raise SpareMismatch(f"{tree} does not hold the new output's files")
        return tree

    def swap_in(self, name: str, final: Path, files: Mapping[str, bytes]) -> None:
        """Serve the spare brought up to date; the served tree becomes the spare."""
        tree = self.folder / name
        if not _exchange(tree, final):
            raise OSError(f"cannot exchange {tree} and {final}")
        self._swapped(name, final, files, self.pairs[name].live_files)

    def keep(self, name: str, staged: Path, final: Path, files: Mapping[str, bytes], trash: Path | None) -> None:
        """Serve a freshly staged tree and keep the one it replaces as the spare."""
        if not (final.exists() and _exchange(staged, final)):
            swap(staged, final, trash)
            return
        self.drop(name, trash)
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.rename(staged, self.folder / name)
        except OSError:  # another file system: no spare
            discard(staged, trash)
            return
        self._swapped(name, final, files, frozenset(_names(str(self.folder / name))))

    def _swapped(self, name: str, final: Path, files: Mapping[str, bytes], before: frozenset[str]) -> None:
        written = {rel for rel, data in files.items() if isinstance(data, bytes)}
        now = frozenset(files)
        self.pairs[name] = _Pair(folder_identity(final), folder_identity(self.folder / name), now, before,
                                 frozenset(written | (now ^ before)))

    def drop(self, name: str, trash: Path | None) -> None:
        """Forget the spare of `name` and delete it."""
        self.pairs.pop(name, None)
        if (self.folder / name).exists():
            discard(self.folder / name, trash)


def _names(base: str) -> set[str]:
    """The paths (relative to `base`) of every file below it."""
    out: set[str] = set()
    cut = len(base) + 1
    todo = [base]
    while todo:
        with os.scandir(todo.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
                else:
                    out.add(entry.path[cut:])
    return out


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
