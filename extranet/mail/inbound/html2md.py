"""HTML mail to Markdown, with the quote and signature containers of known clients marked.

The HTML is parsed with BeautifulSoup (markdownify's own parser), scripts, styles and
comments are dropped, and the containers that mail clients use for the quoted original
(Outlook's ``divRplyFwdMsg``, Zimbra's ``zwchr`` rule, Yahoo's ``yahoo_quoted``...) or the
signature (Gmail's ``gmail_signature``...) get a sentinel line before them, which
``extract.trim_reply`` treats as a cut. Quotes that a sender may answer between
(``blockquote``, Gmail's ``gmail_quote``) are left to the text rules.
"""

from __future__ import annotations

import html as htmllib
import re

from bs4 import BeautifulSoup, Comment, Tag
from markdownify import MarkdownConverter

from .quotes import SENTINEL_CUT, SENTINEL_SIG, header_key_kind, probe

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
    "div.ms-outlook-mobile-signature", "div#ms-outlook-mobile-signature",
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
    soup = BeautifulSoup(limit_nesting(html), "html.parser")
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    _mark(soup)
    md = _Converter(heading_style="ATX", bullets="-", escape_misc=False).convert_soup(soup)
    md = md.replace("\u00a0", " ")
    return re.sub(r"\n{3,}", "\n\n", md).strip("\n")


MAX_NESTING = 60
"""Elements nested deeper than this are dropped (markdownify recurses once per level)."""

LARGE_HTML = 150_000
"""Above this size the quoted part is cut from the HTML before parsing, to bound the time."""

_TAG = re.compile(r"<(/?)([a-zA-Z][\w:-]{0,30})\b[^<>]{0,3000}?(/?)>")
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_HARD_CUT = re.compile(
    r"<(?:div|hr|blockquote)\b[^<>]{0,500}?(?:\bid\s*=\s*[\"']?(?:appendonsend|divRplyFwdMsg|zwchr"
    r"|OLK_SRC_BODY_SECTION|mail-editor-reference-message-container)\b|\bclass\s*=\s*[\"'][^\"'<>]{0,200}?"
    r"\b(?:yahoo_quoted|protonmail_quote)\b)"
    r"|<div\b[^<>]{0,300}?border-top:\s*solid[^<>]{0,300}>(?:\s|<[^<>]{0,300}>){0,12}"
    r"(?:From|De|Von|Van|Da|Fra|Fr[åa]n)(?:\s|&nbsp;|&#160;){0,3}:",
    re.IGNORECASE,
)
_SOFT_CUT = re.compile(
    r"<(?:div|blockquote)\b[^<>]{0,500}?(?:\bclass\s*=\s*[\"'][^\"'<>]{0,200}?\bgmail_quote\b"
    r"|\btype\s*=\s*[\"']?cite\b)",
    re.IGNORECASE,
)


def precut(html: str) -> tuple[str, bool]:
    """Cut a large HTML body before its quoted original; True when an answerable quote was cut.

    Containers that only ever hold the original (Outlook, Yahoo, Zimbra) are a sure cut.
    Gmail and Apple quotes may hold interleaved answers: they are cut only from large bodies.
    """
    if len(html) <= LARGE_HTML:
        return html, False
    hard = _HARD_CUT.search(html)
    head = html[: hard.start()] if hard else html
    if len(head) <= LARGE_HTML:
        return head, False
    soft = _SOFT_CUT.search(head)
    return (head[: soft.start()], True) if soft else (head, False)


def limit_nesting(html: str, limit: int = MAX_NESTING) -> str:
    """Drop the tags (not the text) of elements nested deeper than ``limit``; linear time."""
    out: list[str] = []
    stack: list[tuple[str, bool]] = []
    pos = 0
    for m in _TAG.finditer(html):
        closing, name, selfclosing = m.group(1), m.group(2).lower(), m.group(3)
        out.append(html[pos : m.start()])
        pos = m.end()
        keep = True
        if closing:
            names = [n for n, _ in stack[-limit - 5 :]]
            if name in names:
                while stack:
                    top, kept = stack.pop()
                    if top == name:
                        keep = kept
                        break
            else:
                keep = False
        elif name not in _VOID and not selfclosing:
            keep = len(stack) < limit
            stack.append((name, keep))
        out.append(m.group(0) if keep else " ")
    out.append(html[pos:])
    return "".join(out)


def html_to_text(html: str) -> str:
    """A fast, plain rendering of an HTML body (for the full original of a large message)."""
    s = _drop_blocks(html, ("script", "style", "head", "title"))
    s = re.sub(r"<br\b[^<>]{0,300}>", "\n", s, flags=re.I)
    s = re.sub(r"</?(?:p|div|tr|li|h[1-6]|blockquote|table|ul|ol|hr)\b[^<>]{0,3000}>", "\n", s, flags=re.I)
    s = htmllib.unescape(re.sub(r"<[^<>]{0,3000}>", "", s)).replace("\u00a0", " ")
    lines = [" ".join(ln.split()) for ln in s.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _drop_blocks(html: str, names: tuple[str, ...]) -> str:
    """Remove <name>...</name> blocks with str.find (linear, even when a block is unclosed)."""
    low = html.lower()
    out, pos = [], 0
    while True:
        starts = [(i, n) for n in names if (i := low.find("<" + n, pos)) >= 0]
        if not starts:
            break
        i, name = min(starts)
        end = low.find("</" + name, i)
        out.append(html[pos:i])
        if end < 0:
            return "".join(out)
        close = low.find(">", end)
        pos = len(html) if close < 0 else close + 1
    out.append(html[pos:])
    return "".join(out)


def _mark(soup: BeautifulSoup) -> None:
    for selectors, sentinel in ((_CUT_SELECTORS, SENTINEL_CUT), (_SIG_SELECTORS, SENTINEL_SIG)):
        for tag in soup.select(", ".join(selectors)):
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
    if "\\<" not in markdown:
        return markdown.replace("<", "\\<")
    return re.sub(r"(\\*)<", lambda m: m.group(1) + ("\\" if len(m.group(1)) % 2 == 0 else "") + "<", markdown)
