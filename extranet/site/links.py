"""Resolve the symbolic links of a body for one zone: rewrite, or remove with a warning."""

from __future__ import annotations

import html as htmlmod
import logging
import re
from collections.abc import Callable

from ..content.markup import PLACEHOLDER
from ..content.model import Attachment, Body
from ..zones import INTERNAL, View
from .urls import Urls, relative

log = logging.getLogger("extranet")
_A = re.compile(r'<a\b[^>]*?\bhref="' + re.escape(PLACEHOLDER) + r'(\d+)"[^>]*>(.*?)</a>', re.S)
_IMG = re.compile(r'<img\b[^>]*?\bsrc="' + re.escape(PLACEHOLDER) + r'(\d+)"[^>]*>')
_SRC = re.compile(r'\bsrc="' + re.escape(PLACEHOLDER) + r'\d+"')
_LINK = re.compile(re.escape(PLACEHOLDER) + r"(\d+)")


class LinkResolver:
    """Rewrites placeholders in one zone; reports links the zone cannot keep.

    Pages link relatively (`url_of` None); mail links absolutely to the zone's base URL
    (`url_of` maps an output path to a URL) and stays `quiet`: the build already warned.
    """

    def __init__(self, view: View, urls: Urls, *, url_of: Callable[[str], str] | None = None,
                 quiet: bool = False) -> None:
        self.view = view
        self.urls = urls
        self.url_of = url_of
        self.quiet = quiet

    def _lookup(self, target: str | None) -> object | None:
        """The content record a link target names (a folder link means its index.md)."""
        item = self.view.site.by_key.get(target or "")
        if item is None and target and not target.endswith(".md"):
            item = self.view.site.by_key.get(target.rstrip("/") + "/index.md")
        return item

    def target(self, body: Body, index: int, where: str = "") -> tuple[object | None, str]:
        """The item link `index` of `body` points to, if this zone shows it, and its fragment."""
        link = body.links[index]
        item = self._lookup(link.target)
        if item is None:
            if self.view.zone == INTERNAL and not self.quiet:
                log.warning("%s: broken link '%s'", where, link.written)
            return None, ""
        key = getattr(item, "key")
        if key not in self.view.keys:
            if self.view.zone != INTERNAL and not self.quiet:
                log.warning("%s: link to internal content '%s' removed from the mixed site", where, link.written)
            return None, ""
        return item, link.fragment

    def linked(self, html: str, body: Body) -> list[object]:
        """The items a passage links to that this zone shows (e.g. attachments to mail)."""
        return [item for m in _LINK.finditer(html)
                if (item := self.target(body, int(m.group(1)))[0]) is not None]

    def _url(self, here: str, item: object) -> str:
        path = self.urls.for_item(item)
        return self.url_of(path) if self.url_of else relative(here, path)

    def signature(self, body: Body) -> tuple:
        """What resolving `body` depends on in this zone: each link's target and whether it is shown."""
        out = []
        for link in body.links:
            item = self._lookup(link.target)
            key = getattr(item, "key", None)
            name = getattr(item, "name", None) if isinstance(item, Attachment) else None
            out.append((key, key in self.view.keys if key else False, name, type(item).__name__))
        return tuple(out)

    def resolve(self, html: str, body: Body, here: str, where: str) -> str:
        """Rewrite the placeholders of `html` (a passage of `body`) for the page at `here`."""
        if PLACEHOLDER not in html:
            return html

        def anchor(m: re.Match) -> str:
            item, fragment = self.target(body, int(m.group(1)), where)
            inner = m.group(2)
            if item is None:
                return f'<span class="link-removed">{inner}</span>'
            url = self._url(here, item) + (f"#{fragment}" if fragment else "")
            extra = ""
            if isinstance(item, Attachment):
                extra = f' download="{htmlmod.escape(item.name.rsplit("/", 1)[-1])}"'
            return f'<a href="{htmlmod.escape(url)}"{extra}>{inner}</a>'

        def image(m: re.Match) -> str:
            item, _ = self.target(body, int(m.group(1)), where)
            if item is None:
                return ""
            url = self._url(here, item)
            return _SRC.sub(f'src="{htmlmod.escape(url)}"', m.group(0))

        return _IMG.sub(image, _A.sub(anchor, html))
