"""The destinations a deploy writes to: one protocol, three kinds (folder, rsync, S3)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ..errors import ExtranetError
from .files import LocalFile
from .plan import Remote

Done = Callable[[LocalFile, "str | None"], None]


class DeployError(ExtranetError):
    """The destination refused or could not be reached; the message says which and why."""


class Target(Protocol):
    """A destination: list what it holds, upload files, delete keys, and prove it is writable.

    Every upload replaces a file whole (a reader gets the old bytes or the new ones) and is
    reported through `done(file, fingerprint)` once the destination has confirmed it."""

    description: str

    def list(self) -> dict[str, Remote]:
        """Every visible file at the destination, by key (none when it does not exist yet)."""

    def same(self, f: LocalFile, remote: Remote) -> bool:
        """Without a manifest entry: whether the destination's file holds `f`'s bytes."""

    def upload(self, files: Sequence[LocalFile], done: Done) -> None:
        """Upload `files` (a batch of one step of the plan), reporting each through `done`."""

    def delete(self, keys: Sequence[str]) -> None:
        """Delete these files."""

    def probe(self) -> None:
        """Write and delete a hidden file: raise DeployError unless reachable and writable."""


PROBE = ".extranet-probe"  # the hidden file `probe` writes and deletes (hidden: never listed, never served stale)
