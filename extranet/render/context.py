"""What each page is rendered from, declared: small frozen records and the page's key.

A template is given only these records (never a whole project or site), so a page is a pure
function of its template set, the zone-wide values and its context; the page's key is the
hash of exactly those. A kept page whose key is the one its file was made from is still
valid, and a reader can see why: nothing else reaches the template.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass

from markupsafe import Markup

from ..cache import digest


@dataclass(frozen=True)
class PostLink:
    """A post as a link shows it (parent, replies, previous and next)."""

    key: str
    id: str
    project: str
    title: str
    date: dt.datetime


@dataclass(frozen=True)
class PostCard(PostLink):
    """A post as a listing or its own page header shows it."""

    author: str | None
    source: str
    pending: bool
    shared: bool  # (internal zone) whether the mixed zone shows it too
    tags: tuple[str, ...]
    excerpt: str


@dataclass(frozen=True)
class ProjectHeader:
    """A project as every page of it shows it."""

    key: str
    id: str
    title: str
    summary: str
    status: str
    shared: bool


@dataclass(frozen=True)
class PageHeader:
    """A site-wide page as the navigation shows it."""

    key: str
    name: str
    title: str
    shared: bool


@dataclass(frozen=True)
class ProjectCard:
    """A project on a home page."""

    project: ProjectHeader
    url: str
    count: int
    last: dt.datetime | None


@dataclass(frozen=True)
class Thread:
    """A post with its visible replies, for the project's timeline."""

    post: PostCard
    replies: tuple["Thread", ...]


@dataclass(frozen=True)
class FileLink:
    """An attachment in a project's file list."""

    name: str
    url: str
    download: str
    size: str
    shared: bool


@dataclass(frozen=True)
class Participants:
    """An organisation and its people taking part in a project."""

    org: str
    kind: str
    people: tuple[str, ...]


class Lazy:
    """A value computed only when the page is rendered, standing in the key for its inputs."""

    __slots__ = ("key", "compute")

    def __init__(self, key: str, compute: Callable[[], object]) -> None:
        self.key = key
        self.compute = compute


def fingerprint(value: object) -> str:
    """A text standing for a context value exactly (records by their fields)."""
    if value is None or isinstance(value, (bool, int, float, dt.date)):
        return repr(value)
    if isinstance(value, Markup):
        return "m" + digest(str(value))
    if isinstance(value, str):
        return repr(value) if len(value) < 200 else "s" + digest(value)
    if isinstance(value, Lazy):
        return "l" + value.key
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(fingerprint(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{fingerprint(k)}:{fingerprint(v)}" for k, v in value.items()) + "}"
    if is_dataclass(value) and not isinstance(value, type):
        return type(value).__name__ + "(" + ",".join(fingerprint(getattr(value, f.name)) for f in fields(value)) + ")"
    raise TypeError(f"a page context holds a {type(value).__name__}: declare it as a record of render/context.py")


def page_key(zone_key: str, template: str, path: str, scope: str | None, context: dict) -> str:
    """The key of one page: its zone's values, template, place, scope and context."""
    return digest(zone_key, template, path, scope or "", fingerprint(context))
