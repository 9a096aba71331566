"""One source file's bytes to a parsed record: front matter checked, body rendered (pure).

`parse_source` is a function of the source's kind, content key, bytes and the renderer's
options alone, so its result can be kept by the hash of those (records.py) and computed in
any process. Checks that need the rest of the site (people, organisations, replies) are the
loader's.
"""

from __future__ import annotations

import html as htmlmod
from dataclasses import dataclass
from typing import Any

from ..errors import Problems
from ..schema import Field, check
from .frontmatter import FrontMatterError, parse
from .markup import MarkupError, Renderer
from .model import Body, Segment

PROJECT_FIELDS = (
    Field("title", "line", "Project title (shared with the project's members).", required=True),
    Field("summary", "str", "One-paragraph summary (shared with the project's members).", ""),
    Field("status", "choice", "active or closed.", "active", choices=("active", "closed")),
    Field("orgs", "ids", "External organisations taking part.", ()),
    Field("members", "ids", "Extra people taking part, by id.", ()),
    Field("moderation", "choice", "Which email posts wait for a staff approval.", "none",
          choices=("none", "external", "all")),
    Field("visibility", "choice", "Visibility of the page body.", "internal", choices=("internal", "mixed")),
)
POST_FIELDS = (
    Field("title", "line", "Post title.", required=True),
    Field("date", "datetime", "Publication date (and time); defaults to the file name's date.", None),
    Field("author", "id", "Author, by person id.", None),
    Field("visibility", "choice", "internal (default) or mixed.", "internal", choices=("internal", "mixed")),
    Field("in_reply_to", "str", "Id of the post this one answers.", None),
    Field("tags", "lines", "Tags.", ()),
    Field("draft", "bool", "A draft is never published.", False),
    Field("pending", "bool", "An email post waiting for moderation (internal site only).", False),
    Field("pending_reason", "str", "Why the gateway holds an email post for moderation.", None),
    Field("message_id", "str", "Message-ID of the email this post came from.", None),
    Field("source", "choice", "file or email.", "file", choices=("file", "email")),
)
PAGE_FIELDS = (
    Field("title", "line", "Page title.", required=True),
    Field("visibility", "choice", "internal (default) or mixed.", "internal", choices=("internal", "mixed")),
)
FIELDS = {"page": PAGE_FIELDS, "project": PROJECT_FIELDS, "post": POST_FIELDS}
Problem = tuple[int | None, str]  # (line in the file, message)


@dataclass(frozen=True)
class Parsed:
    """A source as parsed: its checked front matter values, each key's line, its body, and
    (for an email post its body could not be rendered) why it was set aside."""

    values: dict[str, Any]
    lines: dict[str, int]
    body: Body
    defect: str | None = None

    def line_of(self, key: str) -> int:
        """The line of a front matter key (the front matter's first line when absent)."""
        return self.lines.get(key, 1)


def decode(raw: bytes) -> str | Problem:
    """The text of a source's bytes, or the problem (invalid UTF-8, with its line)."""
    try:
        return raw.decode("utf-8").replace("\r\n", "\n").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        return raw[: e.start].count(b"\n") + 1, "invalid UTF-8"


def parse_source(kind: str, key: str, raw: bytes, renderer: Renderer) -> Parsed | list[Problem]:
    """Parse a source of `kind` (page, project or post) stored at the content key `key`."""
    text = decode(raw)
    if isinstance(text, tuple):
        return [text]
    try:
        fm = parse(text)
    except FrontMatterError as e:
        return [(e.line, str(e))]
    found = Problems(None)
    fields = FIELDS[kind]
    values = check(fm.data, fields, found, key, fm.line_of, f"{kind} front matter")
    if values is None:
        return [(p.line, p.message) for p in found.items]
    lines = {f.name: fm.line_of(f.name) for f in fields}
    email = values.get("source") == "email"
    try:
        return Parsed(values, lines, renderer.render(key, fm.body, fm.body_line, email=email))
    except MarkupError as e:
        if not email:
            return [(e.line, str(e))]
        # what arrived by email never stops a build: the post is set aside, internal only
        return Parsed(values, lines, set_aside(fm.body), f"line {e.line}: {e}")


def set_aside(text: str) -> Body:
    """The body of an email post that could not be rendered: its text as written, one
    internal passage (for staff to see what arrived)."""
    return Body((Segment(f"<pre>{htmlmod.escape(text)}</pre>", True),), (), text)
