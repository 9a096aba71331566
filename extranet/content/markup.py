"""Markdown to HTML, once per source, keeping `::: internal` passages and links apart.

A body is first cut at its container lines (`split_internal`): every line that opens or
closes a fenced container is either a known block or an error, so a typo never publishes
what it meant to hide. Each passage is rendered with markdown-it (CommonMark: linear time
on any input), sanitised with nh3, and then its relative links become `extranet-link:N`
placeholders that each zone resolves on its own (site/links.py). The placeholders are made
after sanitising, from attributes of real tags only, so no source can write one.
"""

from __future__ import annotations

import html as htmlmod
import posixpath
import re
import unicodedata
from urllib.parse import unquote, urlsplit

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.attrs import attrs_block_plugin, attrs_plugin
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.footnote import footnote_plugin

from .model import Body, Link, Segment

PLACEHOLDER = "extranet-link:"
MAX_BODY = 500_000  # characters of one body: rendering is linear, this bounds its time
INTERNAL_NAMES = ("internal", "interne")  # the one known container, in English and French

# A container line: any indentation, inside any block quotes, three colons or more.
_CONTAINER = re.compile(r"^[ \t]*(?:>[ \t]*)*(:{3,})(.*)$")

_TAGS = set(nh3.ALLOWED_TAGS) | {"details", "summary", "figure", "figcaption", "mark", "del", "ins", "section"}
_ATTRS = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
for _tag in ("h1", "h2", "h3", "h4", "h5", "h6", "sup", "li", "a", "div", "span", "code", "pre", "table", "td", "th",
             "section", "ol", "p", "dl", "dt", "dd"):
    _ATTRS.setdefault(_tag, set()).update({"id", "class"})
_ATTRS.setdefault("a", set()).update({"href", "title", "download"})
_ATTRS.setdefault("img", set()).update({"src", "alt", "title", "width", "height"})
# no `extranet-link` scheme: a placeholder written in a source never survives sanitising
_CLEANER = nh3.Cleaner(tags=_TAGS, attributes=_ATTRS, url_schemes={"http", "https", "mailto"},
                       link_rel=None, strip_comments=True)
# a start tag of sanitised HTML (attribute values are always double-quoted there)
_START_TAG = re.compile(r'<(a|img)((?:\s+[^\s=>/]+(?:="[^"]*")?)*)\s*(/?)>')
_URL_ATTR = re.compile(r'(\s(?:href|src)=")([^"]*)(")')


class MarkupError(ValueError):
    """A structural problem in a body (an unknown or unclosed container, a body too long);
    `line` is the line in the file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def container_line(line: str) -> str | None:
    """The name written after the colons when `line` is a container line ("" for a closing
    line), or None when it is not one."""
    m = _CONTAINER.match(line)
    return None if m is None else m.group(2).strip()


def split_internal(text: str, first_line: int = 1) -> list[tuple[str, bool]]:
    """Cut Markdown at its container lines: a list of (markdown, internal).

    Fails closed: a container line anywhere (any indentation, in a list item or a block
    quote, inside a code block too) must open a known block (`internal`, alias `interne`, in
    any case) or close the open one; anything else is a MarkupError naming the line."""
    parts: list[tuple[str, bool]] = []
    current: list[str] = []
    opened_at = 0
    for n, line in enumerate(text.split("\n")):
        name = container_line(line)
        if name is None:
            current.append(line)
            continue
        here = first_line + n
        if name == "":
            if not opened_at:
                raise MarkupError(here, f"'{line.strip()}' closes no block (write '\\:::' for the text itself)")
            parts.append(("\n".join(current), True))
            current, opened_at = [], 0
        elif name.lower() in INTERNAL_NAMES:
            if opened_at:
                raise MarkupError(here, f"'{line.strip()}' inside the block opened at line {opened_at}")
            parts.append(("\n".join(current), False))
            current, opened_at = [], here
        else:
            raise MarkupError(here, f"unknown block '{line.strip()}': the only block is '::: internal' "
                                    "(or '::: interne')")
    if opened_at:
        raise MarkupError(opened_at, "'::: internal' block is never closed with ':::'")
    parts.append(("\n".join(current), False))
    return [(md, inner) for md, inner in parts if md.strip()]


def heading_id(title: str) -> str:
    """The id of a heading: its text in ASCII lower case, words joined by dashes (never one
    of the page's own `xn-` ids)."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", text).strip().lower())
    return f"h-{slug}" if slug.startswith("xn-") else slug or "section"


def _markdown(email: bool) -> MarkdownIt:
    """The Markdown dialect of staff sources, or of email posts: no raw HTML (shown as text),
    no attributes, footnotes or definition lists, one line break per line as written."""
    if email:
        md = MarkdownIt("commonmark", {"html": False, "breaks": True, "typographer": True})
        md.enable(["table", "strikethrough", "replacements"])
    else:
        md = MarkdownIt("commonmark", {"html": True, "typographer": True})
        md.enable(["table", "strikethrough", "replacements"])
        md.use(footnote_plugin).use(deflist_plugin).use(attrs_plugin).use(attrs_block_plugin)
    md.core.ruler.push("heading_ids", _heading_ids)
    return md


def _heading_ids(state) -> None:
    """Give each heading without one an id from its text; a repeated one gets -1, -2, … (a
    counter per text: linear, however many headings repeat)."""
    used = {t.attrGet("id") for t in state.tokens if t.type == "heading_open" and t.attrGet("id")}
    counters: dict[str, int] = {}
    for i, token in enumerate(state.tokens):
        if token.type != "heading_open" or token.attrGet("id"):
            continue
        inline = state.tokens[i + 1]
        base = heading_id("".join(c.content for c in inline.children or () if c.type in ("text", "code_inline")))
        slug, n = base, counters.get(base, 0)
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        counters[base] = n
        used.add(slug)
        token.attrSet("id", slug)


class Renderer:
    """Renders bodies of one source after another (keep one per process).

    `remote_images`: keep images from other sites in staff sources (an email post never
    keeps one); dropped ones are noted on the body, for the build to warn."""

    def __init__(self, remote_images: bool = False) -> None:
        self.remote_images = remote_images
        self._md = {False: _markdown(False), True: _markdown(True)}

    def render(self, key: str, text: str, first_line: int = 1, *, email: bool = False) -> Body:
        """Render a Markdown body of the source `key` (e.g. 'projects/a/posts/x.md')."""
        if len(text) > MAX_BODY:
            raise MarkupError(first_line, f"body too long: {len(text):,} characters (at most {MAX_BODY:,})")
        links: list[Link] = []
        notes: list[str] = []
        segments = []
        for md_text, internal in split_internal(text, first_line):
            html = _CLEANER.clean(self._md[email].render(md_text)).rstrip("\n")
            html = self._resolve_urls(html, key, links, notes, keep_remote=self.remote_images and not email)
            segments.append(Segment(html, internal))
        return Body(tuple(segments), tuple(links), text, notes=tuple(notes))

    @staticmethod
    def _resolve_urls(html: str, key: str, links: list[Link], notes: list[str], keep_remote: bool) -> str:
        """Relative link targets of `<a>` and `<img>` become placeholders into `links`;
        images from other sites are dropped unless `keep_remote`."""

        def tag(m: re.Match) -> str:
            name, attrs = m.group(1), m.group(2)
            if name == "img":
                src = re.search(r'\ssrc="([^"]*)"', attrs)
                url = htmlmod.unescape(src.group(1)) if src else ""
                parts = urlsplit(url)
                if (parts.scheme or parts.netloc) and not keep_remote:
                    notes.append(f"image from another site dropped: {url}")
                    return ""

            def attr(a: re.Match) -> str:
                index = _link(htmlmod.unescape(a.group(2)), key, links)
                return a.group(0) if index is None else f"{a.group(1)}{PLACEHOLDER}{index}{a.group(3)}"

            return f"<{name}{_URL_ATTR.sub(attr, attrs)}{m.group(3)}>"

        return _START_TAG.sub(tag, html)


def _link(url: str, base: str, links: list[Link]) -> int | None:
    """Record a relative link of the source `base`; its index, or None when it is external
    (another site, a mail address, an anchor in the page or a path from the server root)."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith(("#", "/")) or not parts.path:
        return None
    target = posixpath.normpath(posixpath.join(posixpath.dirname(base), unquote(parts.path)))
    if target.startswith("../") or target == "..":
        target = ""
    links.append(Link(target or None, parts.fragment, url, None))
    return len(links) - 1
