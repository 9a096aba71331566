"""HTML mail to Markdown, with the quote and signature containers of known clients marked.

The HTML is parsed with BeautifulSoup (markdownify's own parser), scripts, styles and
comments are dropped, and the containers that mail clients use for the quoted original
(Outlook's ``divRplyFwdMsg``, Zimbra's ``zwchr`` rule, Yahoo's ``yahoo_quoted``...) or the
signature (Gmail's ``gmail_signature``...) get a sentinel line before them, which
``quotes.trim_reply`` treats as a cut. Quotes that a sender may answer between
(``blockquote``, Gmail's ``gmail_quote``) are left to the text rules.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Comment, Tag
from markdownify import MarkdownConverter

from extranet.mail.quotes import SENTINEL_CUT, SENTINEL_SIG, header_key_kind, probe

_DROP_TAGS = ["script", "style", "head", "title", "meta", "link", "noscript", "template",
              "iframe", "object", "embed", "form", "svg", "button", "input", "select", "textarea"]

_CUT_SELECTORS = (
    "div#appendonsend", "div#divRplyFwdMsg", "hr#zwchr", "div.yahoo_quoted",
    "div[id^=yahoo_quoted]", "div#OLK_SRC_BODY_SECTION", "div.protonmail_quote",
    "div#mail-editor-reference-message-container", "div#Zm-_Id_-Sgn1", "div.zmail_extra",
    "blockquote#mt-quote", "div.ms-outlook-mobile-reference-message",
)
_SIG_SELECTORS = (
    "div.gmail_signature", "div.moz-signature", "div.protonmail_signature_block",
    "div#Signature", "div.ms-outlook-mobile-signature", "div#divtagdefaultwrapper-signature",
)


class _Converter(MarkdownConverter):
    """markdownify with e-mail friendly links and images (no remote images, no JS links)."""

    def convert_a(self, el, text, parent_tags):  # noqa: D102 (markdownify hook)
        href = (el.get("href") or "").strip()
        label = text.strip()
        if not label:
            return ""
        plain = label.replace("\\_", "_")
        if (not href or href.lower().startswith(("javascript:", "data:", "vbscript:"))
                or plain == href or href.lower() == f"mailto:{plain.lower()}"):
            return text
        href = href.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
        return f"[{label}]({href})"

    def convert_div(self, el, text, parent_tags):  # noqa: D102 (markdownify hook)
        # Mail clients write one <div> per line and <div><br></div> for an empty line.
        if "_inline" in parent_tags:
            return " " + text.strip() + " "
        body = text.strip()
        if not body:
            return "\n\n" if el.find("br") is not None else ""
        return f"\n{body}\n"

    def convert_img(self, el, text, parent_tags):  # noqa: D102 (markdownify hook)
        alt = (el.get("alt") or "").strip().replace("[", "(").replace("]", ")")
        src = (el.get("src") or "").strip()
        if src.lower().startswith("cid:") and "_inline" not in parent_tags:
            return f"![{alt}]({src.replace(' ', '%20')})"
        return alt  # remote images (and tracking pixels) are not fetched: keep the alt text


def html_to_markdown(html: str) -> str:
    """Convert an HTML mail body to Markdown; quote and signature containers get sentinels."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    _flatten(soup, MAX_NESTING)
    _mark(soup)
    md = _Converter(heading_style="ATX", bullets="-", escape_misc=False).convert_soup(soup)
    md = md.replace("\u00a0", " ")
    return re.sub(r"\n{3,}", "\n\n", md).strip("\n")


MAX_NESTING = 80
"""Elements nested deeper than this are unwrapped (the converter recurses per level)."""


def _flatten(soup: BeautifulSoup, limit: int) -> None:
    depth: dict[int, int] = {id(soup): 0}
    too_deep = []
    for tag in soup.find_all(True):
        d = depth.get(id(tag.parent), 0) + 1
        depth[id(tag)] = d
        if d > limit:
            too_deep.append(tag)
    for tag in reversed(too_deep):
        tag.unwrap()


def _mark(soup: BeautifulSoup) -> None:
    for selector, sentinel in [(s, SENTINEL_CUT) for s in _CUT_SELECTORS] + [
        (s, SENTINEL_SIG) for s in _SIG_SELECTORS
    ]:
        for tag in soup.select(selector):
            _sentinel_before(soup, tag, sentinel)
    # Outlook desktop: the original's header sits in a div with a top border.
    for tag in soup.find_all("div", style=re.compile(r"border-top:\s*solid", re.I)):
        first = probe(tag.get_text(" ", strip=True)[:80])
        if header_key_kind(first) in ("from", "date"):
            _sentinel_before(soup, tag, SENTINEL_CUT)


def _sentinel_before(soup: BeautifulSoup, tag: Tag, sentinel: str) -> None:
    marker = soup.new_tag("p")
    marker.string = sentinel
    tag.insert_before(marker)


def escape_html(markdown: str) -> str:
    """Escape every '<' so that no raw HTML survives in the Markdown text."""
    return re.sub(r"(\\*)<", lambda m: m.group(1) + ("\\" if len(m.group(1)) % 2 == 0 else "") + "<", markdown)
