"""One writer at a time: commands that change the output or the secrets hold the site lock.

A build, a password reset, a moderation decision and the gateway's rebuild all read and
write `.extranet/secrets.json` and `public/`; two of them at once could lose an update (a
password reset overwritten by a build that loaded the secrets before it). The lock is an
flock on `.extranet/site.lock`: released by the kernel if the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def site_lock(root: Path) -> Iterator[None]:
    """Hold the site's lock (waiting for another command to finish)."""
    with file_lock(root / ".extranet" / "site.lock"):
        yield


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created, with its private folder, if needed)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
