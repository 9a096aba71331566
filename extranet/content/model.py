"""Immutable records of a site's content: pages, projects, posts, attachments.

Bodies are parsed once (see markup.py) into segments, each public or internal, with their
links kept symbolic so that every zone resolves them on its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..config import People, Settings


@dataclass(frozen=True)
class Link:
    """A link written in a source, resolved to a content key (e.g. 'projects/a/posts/x.md')."""

    target: str | None  # content key, or None when the target does not exist
    fragment: str
    written: str  # as written in the source, for messages
    line: int | None


@dataclass(frozen=True)
class Segment:
    """A run of rendered HTML; `internal` when it came from a `::: internal` block."""

    html: str
    internal: bool


@dataclass(frozen=True)
class Body:
    """A Markdown body rendered once; links are `extranet-link:N` placeholders into `links`."""

    segments: tuple[Segment, ...]
    links: tuple[Link, ...]
    text: str  # the Markdown source (for excerpts and mail)
    digest: str = field(default="", compare=False)  # hash of what it was rendered from (cache key)
    notes: tuple[str, ...] = ()  # what rendering changed and the author should know (e.g. an image dropped)

    def has_internal(self) -> bool:
        """Whether any passage is internal-only."""
        return any(s.internal for s in self.segments)


@dataclass(frozen=True)
class Attachment:
    """A file under content/projects/<p>/files/."""

    key: str  # 'projects/<p>/files/<name>'
    project: str
    name: str  # path below files/
    size: int
    sha256: str


@dataclass(frozen=True)
class Post:
    """A dated post of a project (written by staff or arrived by email)."""

    key: str  # 'projects/<p>/posts/<id>.md'
    project: str
    id: str  # '<YYYY-MM-DD>-<slug>'
    title: str
    date: dt.datetime
    author: str | None
    visibility: str
    in_reply_to: str | None
    tags: tuple[str, ...]
    draft: bool
    pending: bool  # email post waiting for a staff approval
    message_id: str | None
    source: str  # 'file' | 'email'
    original: str | None  # full original text of an email post (internal only)
    body: Body
    defect: str | None = None  # an email post that failed to load: why (it is held, internal only)
    digest: str = field(default="", compare=False, repr=False)  # of what every field above comes from
    pending_reason: str | None = None  # why the gateway holds an email post for moderation


@dataclass(frozen=True)
class Project:
    """A project page with its posts and files."""

    key: str  # 'projects/<p>/index.md'
    id: str
    title: str
    summary: str
    status: str
    orgs: tuple[str, ...]
    members: tuple[str, ...]
    moderation: str
    body: Body
    posts: tuple[Post, ...]
    files: tuple[Attachment, ...]
    visibility: str  # of the page body; title and summary are shared with the members
    digest: str = field(default="", compare=False, repr=False)  # of its index.md (posts and files apart)


@dataclass(frozen=True)
class Page:
    """A site-wide page under content/pages/."""

    key: str  # 'pages/<name>.md'
    name: str
    title: str
    visibility: str
    body: Body


@dataclass(frozen=True)
class Site:
    """Everything the build needs: settings, people and the parsed content."""

    settings: Settings
    people: People
    pages: tuple[Page, ...]
    projects: tuple[Project, ...]
    by_key: dict[str, object] = field(default_factory=dict, compare=False)
