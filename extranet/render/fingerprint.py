"""What a rendered page is a function of, as one hash: the key of the page memo.

A page's HTML is a pure function of its template set, the zone-wide values (settings,
people, zone, output paths) and the context it is rendered with. `Fingerprint` hashes a
context value by value: records by their fields and their body's content hash, a project
with all its posts and files, a project view with everything it shows. A value of a type
not listed here cannot be fingerprinted, and that page is then always rendered (fail closed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from pathlib import Path

from markupsafe import Markup

from ..cache import digest
from ..config import Org, Person
from ..content.model import Attachment, Body, Page, Post, Project
from ..zones import ProjectView


class Unhashable(TypeError):
    """A context value the fingerprint does not know: render the page every time."""


class Lazy:
    """A value computed only when a page is rendered, fingerprinted by its inputs."""

    def __init__(self, key: str, compute: Callable[[], object]) -> None:
        self.key = key
        self.compute = compute


Kept = dict[int, tuple[object, tuple[bool, ...], str]]  # id -> (record, its shared flags, fingerprint)


class Fingerprint:
    """Hashes context values; records are hashed once per build (by identity).

    `shared`: the keys the mixed zone shows (the internal zone marks them): a content record is
    hashed with whether it is shared, so that a page listing it changes when that does.
    `kept`: fingerprints of the content records of the previous build of a long-running process
    (its `used`): a project or post that is the very same object (records are immutable, and
    kept alive by the entry, so its id is its own) with the same shared flags has the same
    fingerprint, as it is a function of nothing else."""

    def __init__(self, shared: frozenset[str] = frozenset(), kept: Kept | None = None) -> None:
        self.shared = shared
        self._memo: dict[int, str] = {}
        self._keep: list[object] = []  # keeps memoised objects alive, so ids stay unique
        self.kept = kept
        self.used: Kept = {}

    def of(self, value: object) -> str:
        """A stable text standing for `value`."""
        if value is None or isinstance(value, (bool, int, float)):
            return repr(value)
        if type(value) is str:
            return repr(value) if len(value) < 200 else "s" + digest(value)  # repr: quoted, injective
        if isinstance(value, (str, Markup)):
            return "m" + digest(str(value))
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        if isinstance(value, Lazy):
            return "l" + value.key
        if isinstance(value, (list, tuple)):
            return "[" + ",".join(self.of(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ",".join(f"{self.of(k)}:{self.of(v)}" for k, v in value.items()) + "}"
        if callable(value) and not is_dataclass(value):
            return "f" + getattr(value, "__name__", type(value).__name__)  # helpers: zone-wide (see page key)
        memo = self._memo.get(id(value))
        if memo is None:
            if self.kept is not None and type(value) in _KEPT:
                flags = self._flags(value)
                entry = self.kept.get(id(value))
                memo = entry[2] if entry is not None and entry[0] is value and entry[1] == flags else self._record(value)
                self.used[id(value)] = (value, flags, memo)
            else:
                memo = self._record(value)
            self._memo[id(value)] = memo
            self._keep.append(value)
        return memo

    def _flags(self, value: object) -> tuple[bool, ...]:
        """Whether each content key a record contains is shared (all its fingerprint reads
        besides the record itself)."""
        shared = self.shared
        if isinstance(value, ProjectView):  # the same view object holds the same records
            value = value.project  # (its posts and files are some of its project's)
        if isinstance(value, Project):
            return (value.key in shared, *(p.key in shared for p in value.posts),
                    *(a.key in shared for a in value.files))
        return (value.key in shared,)  # type: ignore[attr-defined]

    def _record(self, value: object) -> str:
        if isinstance(value, Post) and value.fingerprint:  # see Post.fingerprint
            return "r" + digest("post", value.fingerprint, str(value.key in self.shared))
        if isinstance(value, Body):
            if not value.digest:
                raise Unhashable("a body without a content hash")
            return "b" + value.digest
        if isinstance(value, (Post, Page, Project, ProjectView, Attachment, Org, Person)) or (
                is_dataclass(value) and type(value).__module__.startswith("extranet.")):
            # one repr of a list: plain values as themselves, others as the bytes of their
            # fingerprint (bytes are never a plain value, so the text stands for the record exactly)
            parts: list[object] = [type(value).__name__]
            for name in _field_names(type(value)):
                v = getattr(value, name)
                parts.append(v if _plain(v) else self.of(v).encode())
            if isinstance(value, (Post, Page, Project, Attachment)):
                parts.append(("shared", value.key in self.shared))
            return "r" + digest(repr(parts))
        raise Unhashable(f"cannot fingerprint a {type(value).__name__}")


_PLAIN = (str, int, bool, float, type(None), dt.datetime, dt.date)
_KEPT = (Post, Project, ProjectView)  # the records a long-running process keeps from one build to the next
_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """The field names of a dataclass, in order (looked up once per class)."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _plain(v: object) -> bool:
    """Whether `repr(v)` stands for `v` exactly (built-in scalars and tuples of strings)."""
    t = type(v)
    return t in _PLAIN or (t is tuple and all(type(x) is str for x in v))


def theme_digest(files: list[Path]) -> str:
    """Hash of every file of a theme (names and bytes)."""
    h = hashlib.sha256()
    for f in files:
        h.update(str(f).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()
