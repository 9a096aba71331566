"""Markdown to HTML, once per source, keeping `::: internal` passages and links apart.

The body is cut into segments at `::: internal` fences (outside code fences); each segment
is rendered and sanitised once. Relative links become `extranet-link:N` placeholders that
each zone resolves later (site/links.py), so a zone never sees a target it may not show.
"""

from __future__ import annotations

import functools
import html as htmlmod
import posixpath
import re
import xml.etree.ElementTree as etree
from urllib.parse import unquote, urlsplit

import markdown
import nh3
from markdown.extensions import Extension, toc
from markdown.treeprocessors import InlineProcessor, Treeprocessor

from .model import Body, Link, Segment

PLACEHOLDER = "extranet-link:"
_OPEN = re.compile(r"^\s{0,3}:::\s*internal\s*$")
_CLOSE = re.compile(r"^\s{0,3}:::\s*$")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")

_TAGS = set(nh3.ALLOWED_TAGS) | {"details", "summary", "figure", "figcaption", "mark", "del", "ins"}
_ATTRS = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
for _tag in ("h1", "h2", "h3", "h4", "h5", "h6", "sup", "li", "a", "div", "span", "code", "pre", "table", "td", "th"):
    _ATTRS.setdefault(_tag, set()).update({"id", "class"})
_ATTRS.setdefault("a", set()).update({"href", "title", "download"})
_ATTRS.setdefault("img", set()).update({"src", "alt", "title", "width", "height"})
_SCHEMES = {"http", "https", "mailto", "extranet-link"}
_CLEANER = nh3.Cleaner(tags=_TAGS, attributes=_ATTRS, url_schemes=_SCHEMES, link_rel=None, strip_comments=True)
_HEADING = re.compile("[Hh][123456]")
TOC_MARKER = "[TOC]"


class MarkupError(ValueError):
    """A structural problem in a body (e.g. an unclosed `::: internal`); line is in the file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def split_internal(text: str, first_line: int = 1) -> list[tuple[str, bool]]:
    """Cut Markdown at `::: internal` ... `:::` fences: a list of (markdown, internal)."""
    parts: list[tuple[str, bool]] = []
    current: list[str] = []
    internal = False
    opened_at = 0
    fence: str | None = None
    for n, line in enumerate(text.split("\n")):
        m = _FENCE.match(line)
        if m:
            mark = m.group(1)
            if fence is None:
                fence = mark
            elif mark[0] == fence[0] and len(mark) >= len(fence):
                fence = None
            current.append(line)
            continue
        if fence is None and not internal and _OPEN.match(line):
            parts.append(("\n".join(current), False))
            current, internal, opened_at = [], True, first_line + n
            continue
        if fence is None and internal and _CLOSE.match(line):
            parts.append(("\n".join(current), True))
            current, internal = [], False
            continue
        if fence is None and _OPEN.match(line):
            raise MarkupError(first_line + n, "'::: internal' inside another '::: internal' block")
        current.append(line)
    if internal:
        raise MarkupError(opened_at, "'::: internal' block is never closed with ':::'")
    parts.append(("\n".join(current), False))
    return [(md, inner) for md, inner in parts if md.strip()]


class _LinkCollector(Treeprocessor):
    """Replaces relative hrefs/srcs with placeholders and records their resolved targets."""

    def __init__(self, md: markdown.Markdown, owner: "Renderer") -> None:
        super().__init__(md)
        self.owner = owner

    def run(self, root: etree.Element) -> None:
        for el in root.iter():
            attr = "href" if el.tag == "a" else "src" if el.tag == "img" else None
            if attr is None or el.get(attr) is None:
                continue
            url = el.get(attr, "")
            index = self.owner.link(url)
            if index is not None:
                el.set(attr, f"{PLACEHOLDER}{index}")


class _HeadingIds(Treeprocessor):
    """The heading ids of Python-Markdown's `toc` extension, without building a table of
    contents nobody asked for (a third of the Markdown time): same names, same order, same
    de-duplication. A body that holds the `[TOC]` marker is rendered with the extension itself."""

    def run(self, root: etree.Element) -> None:
        used = {el.attrib["id"] for el in root.iter() if "id" in el.attrib}
        counters: dict[str, int] = {}
        for el in root.iter():
            if isinstance(el.tag, str) and _HEADING.match(el.tag):
                if "id" not in el.attrib:
                    name = toc.strip_tags(toc.render_inner_html(toc.remove_fnrefs(el), self.md))
                    el.attrib["id"] = toc.unique(toc.slugify(htmlmod.unescape(name), "-"), used, counters)
                el.attrib.pop("data-toc-label", None)


# What a text must contain for each inline pattern of this set-up to match in it (each
# pattern's regular expression starts with, or needs, one of these).
_NEEDS: dict[str, tuple[str, ...]] = {
    "backtick": ("`",), "escape": ("\\",), "reference": ("[",), "link": ("[",), "image_link": ("[",),
    "image_reference": ("[",), "short_reference": ("[",), "short_image_ref": ("[",), "footnote": ("[",),
    "autolink": ("<",), "automail": ("<",), "html": ("<",), "entity": ("&",), "linebreak": ("  \n",),
    "em_strong": ("*", "_"), "nl": ("\n",),
    "smarty-ellipses": ("...",), "smarty-em-dashes": ("---",), "smarty-en-dashes": ("--",),
}


@functools.lru_cache(maxsize=None)
def _needs_of(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """One search for everything these patterns need (None: a pattern of unknown needs)."""
    if any(name not in _NEEDS for name in names):
        return None
    return re.compile("|".join(re.escape(n) for name in names for n in _NEEDS[name]) or "(?!)")


class _QuickInline(InlineProcessor):
    """Python-Markdown's inline pass, handing back at once a text in which none of its
    patterns can match (most of a body's text: plain words). Such a text is what the pass
    itself would return after trying each pattern in turn; anything else takes that path."""

    def run(self, tree: etree.Element, ancestors: list[str] | None = None) -> etree.Element:
        self.needs = _needs_of(tuple(item.name for item in self.inlinePatterns._priority))
        return super().run(tree, ancestors)

    def _InlineProcessor__handleInline(self, data: str, patternIndex: int = 0) -> str:  # noqa: N802
        if patternIndex == 0 and self.needs is not None and self.needs.search(data) is None:
            return data
        return InlineProcessor._InlineProcessor__handleInline(self, data, patternIndex)  # type: ignore[attr-defined]


def _quicken(md: markdown.Markdown) -> None:
    """Give the inline passes of `md` (its own and smarty's) the quick way out above (with
    Python-Markdown 3, whose patterns the list above was made from and the tests check)."""
    if markdown.__version_info__[0] != 3:
        return
    for name in ("inline", "smarty"):
        if name in md.treeprocessors and type(md.treeprocessors[name]) is InlineProcessor:
            md.treeprocessors[name].__class__ = _QuickInline


def _extensions(more: list[str]) -> list[Extension]:
    """Python-Markdown's "extra" (its parts, in its order), "sane_lists", "smarty" without smart
    quotes, and `more` ("toc", "nl2br"), as instances: named, each one is looked up among the
    installed packages' entry points first (35 ms the first time, in every process)."""
    from markdown.extensions import (abbr, attr_list, def_list, fenced_code, footnotes, md_in_html, nl2br,
                                     sane_lists, smarty, tables)

    named = {"toc": toc.TocExtension, "nl2br": nl2br.Nl2BrExtension}
    return [fenced_code.FencedCodeExtension(), footnotes.FootnoteExtension(), attr_list.AttrListExtension(),
            def_list.DefListExtension(), tables.TableExtension(), abbr.AbbrExtension(),
            md_in_html.MarkdownInHtmlExtension(), sane_lists.SaneListExtension(),
            smarty.SmartyExtension(smart_quotes=False), *(named[name]() for name in more)]


class Renderer:
    """Renders bodies of one source after another; keep one per process (Markdown is not cheap)."""

    def __init__(self, quick: bool = True) -> None:
        self.quick = quick  # the inline passes' quick way out (tests compare without it)
        self.md = self._markdown([])
        self.mail_md = self._markdown(["nl2br"])  # email posts: one line per line break, as written
        self._with_toc: dict[bool, markdown.Markdown] = {}
        self._links: list[Link] = []
        self._base = ""

    def _markdown(self, extra: list[str], with_toc: bool = False) -> markdown.Markdown:
        md = markdown.Markdown(extensions=_extensions([*(["toc"] if with_toc else []), *extra]), output_format="html")
        if not with_toc:
            md.treeprocessors.register(_HeadingIds(md), "toc", 5)  # where the extension puts its own
        md.treeprocessors.register(_LinkCollector(md, self), "extranet_links", 1)
        if self.quick:
            _quicken(md)
        return md

    def _converter(self, text: str, email: bool) -> markdown.Markdown:
        """The Markdown instance for a body (the full `toc` extension only where `[TOC]` is written)."""
        if TOC_MARKER not in text:
            return self.mail_md if email else self.md
        if email not in self._with_toc:
            self._with_toc[email] = self._markdown(["nl2br"] if email else [], with_toc=True)
        return self._with_toc[email]

    def link(self, url: str) -> int | None:
        """Record a link found in the current source; return its index, or None if external."""
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or url.startswith(("#", "/")) or not parts.path:
            return None
        target = posixpath.normpath(posixpath.join(posixpath.dirname(self._base), unquote(parts.path)))
        if target.startswith("../") or target == "..":
            target = ""
        self._links.append(Link(target or None, parts.fragment, url, None))
        return len(self._links) - 1

    def render(self, key: str, text: str, first_line: int = 1, *, email: bool = False) -> Body:
        """Render a Markdown body of the source `key` (e.g. 'projects/a/posts/x.md')."""
        self._links = []
        self._base = key
        segments = []
        for md_text, internal in split_internal(text, first_line):
            md = self._converter(md_text, email)
            md.reset()
            html = _CLEANER.clean(md.convert(md_text))
            segments.append(Segment(html, internal))
        return Body(tuple(segments), tuple(self._links), text)
