"""Reply extraction: the text a sender wrote, out of a raw e-mail (a pure function).

``extract(message)`` decodes the message (``mime``), picks the plain-text body or, when it is
missing or a poor rendering, the HTML body converted to Markdown (``html2md``), then cuts
the quote headers and the quoted original (``quotes``), then signatures, device footers and
disclaimers (``signatures``). When a cut is doubtful the result says so (``confident=False``
and ``reasons``) so that the gateway can send the post to moderation. See docs/extraction.md.

Run ``python -m extranet.mail.inbound.extract < message.eml`` to print the text that would be posted.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from .html2md import LARGE_HTML, escape_html, html_to_markdown, html_to_text, precut
from .message import InboundMessage
from .mime import ExtractedAttachment, parse_message
from .quotes import (
    QUOTE_LINE,
    SENTINEL_CUT,
    SENTINEL_SIG,
    Scan,
    code_flags,
    header_end,
    header_key_kind,
    looks_like_header,
    probe,
)
from .signatures import PHONE, SIG_DELIMITER, WEAK_DELIMITER, trim_signature_block

__all__ = ["ExtractedAttachment", "Extraction", "Trimmed", "extract", "extract_reply", "trim_reply"]


@dataclass(frozen=True)
class Extraction:
    """What the gateway posts (``text``) and keeps (``original``, ``attachments``)."""

    text: str
    original: str
    attachments: tuple[ExtractedAttachment, ...]
    confident: bool
    reasons: tuple[str, ...]
    subject: str


def extract(message: bytes | InboundMessage, *, max_parts: int = 100, max_depth: int = 10) -> Extraction:
    """Extract the reply text, the full body, the attachments and the subject of a message.

    ``message`` is an RFC 5322 message (raw, or as the gateway parsed it), or a bare text body
    with no headers. ``text`` is Markdown in which no raw HTML survives (every ``<`` is escaped)
    and no NUL byte.
    """
    if isinstance(message, bytes):
        message = InboundMessage(message)
    body = parse_message(message, max_parts=max_parts, max_depth=max_depth)
    reasons: list[str] = []
    full: str | None = None
    if body.html is not None and (body.plain is None or _poor_plain(body.plain, body.html)):
        head, cut_answerable_quote = precut(body.html)
        # converting HTML takes time (docs/extraction.md): a body still large after the cut is read as text
        source = html_to_markdown(head) if len(head) <= LARGE_HTML else html_to_text(head)
        if head is not body.html:
            full = html_to_text(body.html)
        if cut_answerable_quote:
            reasons.append("large HTML body: its quoted part was cut before conversion")
    else:
        source = body.plain or ""
    if body.truncated:
        reasons.append("the message has more parts or nesting than the limits allow")
    trimmed = trim_reply(source)
    reasons.extend(trimmed.reasons)
    if full is None:
        full = "\n".join(
            ln for ln in source.replace("\r\n", "\n").split("\n") if ln.strip() not in (SENTINEL_CUT, SENTINEL_SIG)
        ).strip("\n")
    return Extraction(
        text=escape_html(trimmed.text).replace("\x00", ""),
        original=escape_html(full).replace("\x00", ""),
        attachments=body.attachments,
        confident=not reasons,
        reasons=tuple(reasons),
        subject=body.subject.replace("\x00", ""),
    )


def extract_reply(raw: bytes) -> str:
    """The reply text alone: ``extract(raw).text``."""
    return extract(raw).text


@dataclass(frozen=True)
class Trimmed:
    """A reply cut out of a plain-text (or Markdown) body, with the doubts met on the way."""

    text: str
    reasons: tuple[str, ...]


def trim_reply(body: str) -> Trimmed:
    """Keep what the sender wrote: drop quote headers, trailing quotes, signatures, footers.

    Quoted lines are kept only when the sender answered between them (interleaved reply).
    ``reasons`` is empty when the cut looks certain, otherwise it says why a human should look.
    """
    try:
        return _trim(body)
    finally:
        probe.cache_clear()  # the memo serves one message: a long-running gateway keeps no lines


def _trim(body: str) -> Trimmed:
    lines = [ln.rstrip() for ln in body.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    s = Scan(lines)
    start, cut, kind, top = s.find_cut()
    out, dropped = s.drop_quotes(start, cut)
    known = dict(zip(lines, s.probes))
    out = _strip_blank_ends(out)
    while out and (WEAK_DELIMITER.match(probe(out[-1])) or SIG_DELIMITER.match(probe(out[-1]))):
        out = _strip_blank_ends(out[:-1])
    out = trim_signature_block(out, [known.get(ln) or probe(ln) for ln in out])
    reasons: list[str] = []
    if top:
        reasons.append("the body starts with a quote header or forwarded message; kept the text under it")
    if kind in _CUT_NAMES and s.sender_text_after(cut):
        reasons.append(f"text the sender wrote after {_CUT_NAMES[kind]} was cut")
    if not any(ln.strip() for ln in out) and dropped and not any(
        s.probes[k] and not s.quoted[k] for k in range(len(lines))
    ):
        out = [ln for ln, q in ((d, _quote_content(d)) for d in dropped) if q and not looks_like_header(q)]
        if out:
            reasons.append("the message holds only quoted text")
    reasons.extend(_doubts(out, known))
    text = "\n".join(_strip_blank_ends(out))
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    if not text.strip():
        reasons.append("no reply text found")
    return Trimmed(text, tuple(reasons))


_CUT_NAMES = {"device": "a device footer", "delimiter": "a separator line"}  # (after "-- ", all is signature)


def _strip_blank_ends(out: list[str]) -> list[str]:
    a, b = 0, len(out)
    while a < b and not out[a].strip():
        a += 1
    while b > a and not out[b - 1].strip():
        b -= 1
    return out[a:b]


def _quote_content(line: str) -> str:
    return probe(re.sub(r"^(?:\s*[A-Z]{0,3}>)+", "", line))


def _doubts(out: list[str], known: dict[str, str]) -> list[str]:
    """Reasons to send a trimmed reply to a moderator (``known`` maps lines to their probes)."""
    code = code_flags(out)
    probes = [known.get(ln) or probe(ln) for ln, c in zip(out, code) if not c and not QUOTE_LINE.match(ln)]
    found: dict[str, bool] = {}
    for p in probes:
        kind = header_key_kind(p)
        if kind in ("from", "date", "subject"):
            found["header-like lines left in the text"] = True
        elif not kind and (header_end(p) or p[:1].isdigit()) and looks_like_header(p):
            found["a quote header or separator left in the text"] = True
        if p[:1] in "-=_*#~+" and _UNKNOWN_SEPARATOR.match(p):
            found["an unknown separator line left in the text"] = True
    tail = [p for p in probes if p][-6:]
    if any(len(p) <= 80 and PHONE.search(p) for p in tail):
        found["a signature-like block with phone numbers left in the text"] = True
    return list(found)


_UNKNOWN_SEPARATOR = re.compile(r"^[-=_*#~+]{3,}\s?\w.{0,80}?\s?[-=_*#~+]{3,}$")


def _poor_plain(plain: str, html_body: str) -> bool:
    """True when the text/plain part is empty, HTML source, or much shorter than the HTML."""
    plain_words = len(plain.split())
    if plain_words == 0 or re.search(r"<(?:html|body|div|p)\b[^<>]{0,300}>", plain[:3000], re.I):
        return True
    html_words = len(html_to_text(html_body[:2_000_000]).split())
    return html_words > 30 and plain_words < 0.4 * html_words


def main() -> int:
    """Read a message on standard input and print the reply text that would be posted."""
    result = extract(sys.stdin.buffer.read())
    sys.stdout.write(result.text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
