"""Resolve the symbolic links of a body for one zone: rewrite, or remove with a warning."""

from __future__ import annotations

import html as htmlmod
import logging
import re

from ..content.markup import PLACEHOLDER
from ..content.model import Attachment, Body
from ..zones import INTERNAL, View
from .urls import Urls, relative

log = logging.getLogger("extranet")
_A = re.compile(r'<a\b[^>]*?\bhref="' + re.escape(PLACEHOLDER) + r'(\d+)"[^>]*>(.*?)</a>', re.S)
_IMG = re.compile(r'<img\b[^>]*?\bsrc="' + re.escape(PLACEHOLDER) + r'(\d+)"[^>]*>')
_SRC = re.compile(r'\bsrc="' + re.escape(PLACEHOLDER) + r'\d+"')


class LinkResolver:
    """Rewrites placeholders in one zone; reports links the zone cannot keep."""

    def __init__(self, view: View, urls: Urls, source_of: dict[int, str] | None = None) -> None:
        self.view = view
        self.urls = urls

    def _target(self, body: Body, index: int, where: str) -> tuple[object | None, str]:
        link = body.links[index]
        item = self.view.site.by_key.get(link.target or "")
        if item is None and link.target and not link.target.endswith(".md"):
            item = self.view.site.by_key.get(link.target.rstrip("/") + "/index.md")
        if item is None:
            if self.view.zone == INTERNAL:
                log.warning("%s: broken link '%s'", where, link.written)
            return None, ""
        key = getattr(item, "key")
        if key not in self.view.keys:
            if self.view.zone != INTERNAL:
                log.warning("%s: link to internal content '%s' removed from the mixed site", where, link.written)
            return None, ""
        return item, link.fragment

    def signature(self, body: Body) -> tuple:
        """What resolving `body` depends on in this zone: each link's target and whether it is shown."""
        out = []
        for link in body.links:
            item = self.view.site.by_key.get(link.target or "")
            if item is None and link.target and not link.target.endswith(".md"):
                item = self.view.site.by_key.get(link.target.rstrip("/") + "/index.md")
            key = getattr(item, "key", None)
            name = getattr(item, "name", None) if isinstance(item, Attachment) else None
            out.append((key, key in self.view.keys if key else False, name, type(item).__name__))
        return tuple(out)

    def resolve(self, html: str, body: Body, here: str, where: str) -> str:
        """Rewrite the placeholders of `html` (a passage of `body`) for the page at `here`."""
        if PLACEHOLDER not in html:
            return html

        def anchor(m: re.Match) -> str:
            item, fragment = self._target(body, int(m.group(1)), where)
            inner = m.group(2)
            if item is None:
                return f'<span class="link-removed">{inner}</span>'
            url = relative(here, self.urls.for_item(item)) + (f"#{fragment}" if fragment else "")
            extra = ""
            if isinstance(item, Attachment):
                extra = f' download="{htmlmod.escape(item.name.rsplit("/", 1)[-1])}"'
            return f'<a href="{htmlmod.escape(url)}"{extra}>{inner}</a>'

        def image(m: re.Match) -> str:
            item, _ = self._target(body, int(m.group(1)), where)
            if item is None:
                return ""
            url = relative(here, self.urls.for_item(item))
            return _SRC.sub(f'src="{htmlmod.escape(url)}"', m.group(0))

        return _IMG.sub(image, _A.sub(anchor, html))
