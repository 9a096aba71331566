"""Reply extraction: the text a sender wrote, out of a raw e-mail (a pure function).

``extract(raw)`` decodes the message (``mime``), picks the plain-text body or, when it is
missing or a poor rendering, the HTML body converted to Markdown (``html2md``), then cuts
the quoted original, quote headers, signatures, device footers and disclaimers
(``quotes``). When a cut is doubtful the result says so (``confident=False`` and
``reasons``) so that the gateway can send the post to moderation.

Run ``python -m extranet.mail.extract < message.eml`` to print the text that would be posted.
"""

from __future__ import annotations

import html
import re
import sys
from dataclasses import dataclass

from extranet.mail.html2md import escape_html, html_to_markdown
from extranet.mail.mime import ExtractedAttachment, parse_message
from extranet.mail.quotes import SENTINEL_CUT, SENTINEL_SIG, trim_reply

__all__ = ["ExtractedAttachment", "Extraction", "extract", "extract_reply"]


@dataclass(frozen=True)
class Extraction:
    """What the gateway posts (``text``) and keeps (``original``, ``attachments``)."""

    text: str
    original: str
    attachments: tuple[ExtractedAttachment, ...]
    confident: bool
    reasons: tuple[str, ...]
    subject: str


def extract(raw: bytes, *, max_parts: int = 100, max_depth: int = 10) -> Extraction:
    """Extract the reply text, the full body, the attachments and the subject of a message.

    ``raw`` is an RFC 5322 message, or a bare text body with no headers. ``text`` is
    Markdown in which no raw HTML survives (every ``<`` is escaped).
    """
    body = parse_message(raw, max_parts=max_parts, max_depth=max_depth)
    reasons: list[str] = []
    if body.html is not None and (body.plain is None or _poor_plain(body.plain, body.html)):
        source = html_to_markdown(body.html)
    else:
        source = body.plain or ""
    if body.truncated:
        reasons.append("the message has more parts or nesting than the limits allow")
    trimmed = trim_reply(source)
    reasons.extend(trimmed.reasons)
    original = "\n".join(
        ln for ln in source.replace("\r\n", "\n").split("\n") if ln.strip() not in (SENTINEL_CUT, SENTINEL_SIG)
    ).strip("\n")
    return Extraction(
        text=escape_html(trimmed.text),
        original=escape_html(original),
        attachments=body.attachments,
        confident=not reasons,
        reasons=tuple(reasons),
        subject=body.subject,
    )


def extract_reply(raw: bytes) -> str:
    """The reply text alone: ``extract(raw).text``."""
    return extract(raw).text


_TAGS = re.compile(r"<[^<>]{0,2000}>")
_INVISIBLE_BLOCKS = re.compile(r"<(style|script|head|title)\b[^>]{0,2000}>.*?</\1\s*>", re.I | re.S)


def _poor_plain(plain: str, html_body: str) -> bool:
    """True when the text/plain part is empty, a placeholder, or much shorter than the HTML."""
    plain_words = len(plain.split())
    if plain_words == 0 or _TAGS.search(plain[:2000]) and re.search(r"</?(?:html|body|div|p)\b", plain[:2000], re.I):
        return True
    visible = html.unescape(_TAGS.sub(" ", _INVISIBLE_BLOCKS.sub(" ", html_body[:2_000_000])))
    html_words = len(visible.split())
    return html_words > 30 and plain_words < 0.4 * html_words


def main() -> int:
    """Read a message on standard input and print the reply text that would be posted."""
    result = extract(sys.stdin.buffer.read())
    sys.stdout.write(result.text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
