"""MIME decoding for reply extraction: body parts, charsets, attachments, subject.

Reads the message's one parse (``InboundMessage.tree``, ``email.policy.default``). Walking it is
bounded by a maximum number of parts and a maximum nesting depth, and never raises on a
malformed message: what cannot be decoded is decoded leniently (``errors="replace"``).
"""

from __future__ import annotations

import codecs
import email.header
import email.policy
import re
from dataclasses import dataclass, field
from email.message import Message

from .message import InboundMessage


@dataclass(frozen=True)
class ExtractedAttachment:
    """A file carried by the message; ``filename`` is raw (the gateway sanitises it)."""

    filename: str
    content_type: str
    data: bytes
    inline: bool
    content_id: str | None


@dataclass(frozen=True)
class MimeBody:
    """The decoded text parts of a message, its attachments and its subject."""

    plain: str | None
    html: str | None
    attachments: tuple[ExtractedAttachment, ...]
    subject: str
    truncated: bool


_KNOWN = re.compile(
    rb"^(?:content-type|mime-version|message-id|received|return-path|delivered-to|date|"
    rb"x-mailer|user-agent|dkim-signature|content-transfer-encoding|from|to|subject|cc)[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)


def looks_like_message(raw: bytes) -> bool:
    """True when ``raw`` starts with an RFC 5322 header block, False for a bare body."""
    head = raw[:65536].replace(b"\r\n", b"\n")
    end = head.find(b"\n\n")
    block = head if end < 0 else head[:end]
    lines = block.split(b"\n")
    if not lines or not re.match(rb"^[!-9;-~]+:", lines[0]):
        return False
    if not all(re.match(rb"^(?:[!-9;-~]+:|[ \t])", ln) for ln in lines if ln):
        return False
    return bool(_KNOWN.search(block))


def parse_message(message: InboundMessage, *, max_parts: int = 100, max_depth: int = 10) -> MimeBody:
    """Decode a message (or a bare text body) into text parts and attachments."""
    if not looks_like_message(message.raw):
        return MimeBody(decode_bytes(message.raw, "utf-8"), None, (), "", False)
    msg = message.tree
    walker = _Walker(max_parts, max_depth)
    walker.walk(msg, 0)
    plain = "\n\n".join(walker.plains) if walker.plains else None
    html = "\n".join(walker.htmls) if walker.htmls else None
    return MimeBody(plain, html, tuple(walker.attachments), header_text(msg, "subject"), walker.truncated)


def header_text(msg: Message, name: str) -> str:
    """A header decoded from RFC 2047, unfolded; '' when missing or undecodable."""
    try:
        value = msg.get(name)
        text = "" if value is None else str(value)
    except Exception:  # malformed header: decode what can be decoded
        raw = msg.get_all(name, failobj=[""])[0] if hasattr(msg, "get_all") else ""
        try:
            text = str(email.header.make_header(email.header.decode_header(str(raw))))
        except Exception:
            text = str(raw)
    return " ".join(text.split())


@dataclass
class _Walker:
    max_parts: int
    max_depth: int
    count: int = 0
    truncated: bool = False
    plains: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[ExtractedAttachment] = field(default_factory=list)

    def walk(self, part: Message, depth: int) -> None:
        if self.count >= self.max_parts:
            self.truncated = True
            return
        self.count += 1
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            self._attach_message(part)
            return
        if part.is_multipart():
            if depth >= self.max_depth:
                self.truncated = True
                return
            payload = part.get_payload()
            for sub in payload if isinstance(payload, list) else []:
                self.walk(sub, depth + 1)
            return
        disposition = part.get_content_disposition()
        filename = _filename(part)
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
            text = decode_part(part)
            (self.plains if ctype == "text/plain" else self.htmls).append(text)
            return
        self._attach(part, ctype, disposition, filename)

    def _attach(self, part: Message, ctype: str, disposition: str | None, filename: str | None) -> None:
        try:
            data = part.get_payload(decode=True) or b""
        except Exception:
            data = b""
        cid = part.get("content-id")
        cid = str(cid).strip().strip("<>") if cid else None
        inline = disposition == "inline" or (disposition is None and cid is not None)
        name = filename or f"part-{len(self.attachments) + 1}{_extension(ctype)}"
        self.attachments.append(ExtractedAttachment(name, ctype, data, inline, cid))

    def _attach_message(self, part: Message) -> None:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        try:
            data = inner.as_bytes(policy=email.policy.SMTP) if inner is not None else b""
        except Exception:
            data = b""
        subject = header_text(inner, "subject") if inner is not None else ""
        name = _filename(part) or f"{subject or 'message'}.eml"
        self.attachments.append(ExtractedAttachment(name, "message/rfc822", data, False, None))


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    return str(name) if name else None


def _extension(ctype: str) -> str:
    return {
        "image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "application/pdf": ".pdf",
        "text/plain": ".txt", "text/html": ".html", "text/calendar": ".ics",
    }.get(ctype, ".bin")


def decode_part(part: Message) -> str:
    """Text of a text/* part: transfer encoding and charset decoded, format=flowed undone."""
    try:
        data = part.get_payload(decode=True) or b""
    except Exception:
        data = str(part.get_payload()).encode("utf-8", "replace")
    text = decode_bytes(data, part.get_content_charset() or "us-ascii")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if part.get_content_type() == "text/plain" and str(part.get_param("format", "")).lower() == "flowed":
        text = unflow(text, str(part.get_param("delsp", "")).lower() == "yes")
    return text


_ALIASES = {"us-ascii": "utf-8", "ascii": "utf-8", "iso-8859-1": "cp1252", "latin1": "cp1252",
            "latin-1": "cp1252", "iso8859-1": "cp1252", "unknown-8bit": "utf-8", "x-unknown": "utf-8",
            "ks_c_5601-1987": "cp949", "gb2312": "gb18030", "gbk": "gb18030"}


def decode_bytes(data: bytes, charset: str) -> str:
    """Decode with the declared charset, falling back to UTF-8, Windows-1252, Latin-1.

    US-ASCII is read as UTF-8 and ISO-8859-1 as its superset Windows-1252, because mail
    clients mislabel them so often.
    """
    name = _ALIASES.get(charset.strip().strip('"').lower(), charset.strip().strip('"').lower())
    try:
        codecs.lookup(name)
    except LookupError:
        name = "utf-8"
    for candidate in (name, "utf-8", "cp1252"):
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("latin-1")


def unflow(text: str, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed: join soft-broken lines of the same quote depth."""
    out: list[str] = []
    buf: str | None = None
    depth = 0

    def flush() -> None:
        nonlocal buf
        if buf is not None:
            out.append((">" * depth + " " if depth else "") + buf)
            buf = None

    for line in text.split("\n"):
        d = len(line) - len(line.lstrip(">"))
        content = line[d:]
        if content.startswith(" "):
            content = content[1:]
        if content == "-- " or buf is not None and d != depth:
            flush()
        if content == "-- ":
            out.append((">" * d + " " if d else "") + content)
            continue
        flowed = content.endswith(" ")
        if delsp and flowed:
            content = content[:-1]
        buf, depth = (content if buf is None else buf + content), d
        if not flowed:
            flush()
    flush()
    return "\n".join(out)
