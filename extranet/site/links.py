"""Resolve the symbolic links of a body for one zone: rewrite, or remove with a warning.

Which targets a link may keep is the zone's decision (zones.View.link_target); here the
placeholders are turned into URLs, and every link the zone refuses is rendered the same
way, its text kept, whether its target exists or not.
"""

from __future__ import annotations

import html as htmlmod
import logging
import re
from collections.abc import Callable

from ..content.markup import PLACEHOLDER
from ..content.model import Attachment, Body, Post
from ..zones import SITE_SCOPE, View, scope_of
from .urls import Urls, relative

log = logging.getLogger("extranet")
_A = re.compile(r'<a\b[^>]*?\bhref="' + re.escape(PLACEHOLDER) + r'(\d+)"[^>]*>(.*?)</a>', re.S)
_IMG = re.compile(r'<img\b[^>]*?\bsrc="' + re.escape(PLACEHOLDER) + r'(\d+)"[^>]*>')
_SRC = re.compile(r'\bsrc="' + re.escape(PLACEHOLDER) + r'\d+"')
_LINK = re.compile(re.escape(PLACEHOLDER) + r"(\d+)")


class LinkResolver:
    """Rewrites placeholders in one zone; reports the links of staff sources it cannot keep.

    Pages link relatively (`url_of` None); mail links absolutely to the zone's base URL
    (`url_of` maps an output path to a URL) and stays `quiet`: the build already warned.
    """

    def __init__(self, view: View, urls: Urls, *, url_of: Callable[[str], str] | None = None,
                 quiet: bool = False) -> None:
        self.view = view
        self.urls = urls
        self.url_of = url_of
        self.quiet = quiet

    def target(self, body: Body, index: int, source: str) -> tuple[object | None, str]:
        """The item link `index` of `body` (written in the source `source`) points to on this
        zone's pages, and its fragment; (None, "") when the link is removed."""
        link = body.links[index]
        item = self.view.link_target(source, link.target)
        if item is None and not self.quiet and not self._from_email(source):
            target = self.view.item(link.target)
            if target is None:
                if self.view.complete:
                    log.warning("%s: broken link '%s'", source, link.written)
            elif not self.view.complete:
                what = "internal content" if scope_of(target.key) in (scope_of(source), SITE_SCOPE) else \
                    "another project's content"  # type: ignore[attr-defined]
                log.warning("%s: link to %s '%s' removed from the mixed site", source, what, link.written)
        return (item, link.fragment) if item is not None else (None, "")

    def _from_email(self, source: str) -> bool:
        """Whether the source arrived by email (its links are an external's: nothing to warn about)."""
        item = self.view.site.by_key.get(source)
        return isinstance(item, Post) and item.source == "email"

    def linked(self, html: str, body: Body, source: str) -> list[object]:
        """The items a passage links to that this zone keeps (e.g. attachments to mail)."""
        return [item for m in _LINK.finditer(html)
                if (item := self.target(body, int(m.group(1)), source)[0]) is not None]

    def _url(self, here: str, item: object) -> str:
        path = self.urls.for_item(item)
        return self.url_of(path) if self.url_of else relative(here, path)

    def signature(self, body: Body, source: str) -> tuple:
        """What resolving `body` depends on in this zone: each link's kept target and its name."""
        out = []
        for link in body.links:
            item = self.view.link_target(source, link.target)
            key = getattr(item, "key", None)
            name = getattr(item, "name", None) if isinstance(item, Attachment) else None
            known = self.view.item(link.target) is not None  # (what the warnings say)
            out.append((key, name, type(item).__name__, known))
        return tuple(out)

    def resolve(self, html: str, body: Body, here: str, source: str) -> str:
        """Rewrite the placeholders of `html` (a passage of `body`, written in `source`) for
        the page at `here`."""
        if PLACEHOLDER not in html:
            return html

        def anchor(m: re.Match) -> str:
            item, fragment = self.target(body, int(m.group(1)), source)
            inner = m.group(2)
            if item is None:
                return f'<span class="link-removed">{inner}</span>'
            url = self._url(here, item) + (f"#{fragment}" if fragment else "")
            extra = ""
            if isinstance(item, Attachment):
                extra = f' download="{htmlmod.escape(item.name.rsplit("/", 1)[-1])}"'
            return f'<a href="{htmlmod.escape(url)}"{extra}>{inner}</a>'

        def image(m: re.Match) -> str:
            item, _ = self.target(body, int(m.group(1)), source)
            if item is None:
                return ""
            url = self._url(here, item)
            return _SRC.sub(f'src="{htmlmod.escape(url)}"', m.group(0))

        return _IMG.sub(image, _A.sub(anchor, html))
