"""A received message, parsed once for everything that reads it.

The gateway's checks read its header, the spool's duplicate check its content digest, the
extractor its MIME parts: all from one parse (``email.policy.default``). The header is read
as UTF-8, as RFC 6532 allows (an SMTPUTF8 message carries raw UTF-8 in its header); bytes that
are not UTF-8 stay as they were (surrogate escapes).
"""

from __future__ import annotations

import hashlib
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import cached_property

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_IDENTITY_HEADERS = ("From", "Subject", "In-Reply-To")  # not Date: a resend may refresh it


class InboundMessage:
    """The raw bytes of a message and what is read from them, each computed once, when first asked."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    @cached_property
    def tree(self) -> EmailMessage:
        """The whole message, parsed (read its header fields from ``header``)."""
        msg = BytesParser(policy=policy.default).parsebytes(self.raw)
        assert isinstance(msg, EmailMessage)
        return msg

    @cached_property
    def header(self) -> EmailMessage:
        """The header fields of the message, read as UTF-8 (the parser reads bytes as ASCII)."""
        head = EmailMessage(policy=policy.default)
        for name, value in self.tree.raw_items():
            head.set_raw(name, value.encode("ascii", "surrogateescape").decode("utf-8", "surrogateescape"))
        return head

    @cached_property
    def message_id(self) -> str | None:
        """The Message-ID (see ``message_id_of``)."""
        return message_id_of(self.raw)

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the raw bytes (the key for messages without Message-ID)."""
        return hashlib.sha256(self.raw).hexdigest()

    @cached_property
    def content(self) -> str:
        """Hex SHA-256 of what the sender wrote: a few of their headers and every part's decoded
        content, line endings normalised. Copies of one message agree whatever the transports
        added or changed on the way (Received headers, CRLF or LF, a body re-encoded in transit);
        another message with the same Message-ID does not."""
        digest = hashlib.sha256()
        try:
            for name in _IDENTITY_HEADERS:
                value = " ".join(str(self.header.get(name, "")).split())
                digest.update(f"{name}:{value}\n".encode("utf-8", "surrogateescape"))
            for part in self.tree.walk():
                if part.is_multipart():
                    continue
                payload = part.get_payload(decode=True) or b""
                lines = payload.replace(b"\r\n", b"\n").replace(b"\r", b"\n").rstrip(b"\n")
                digest.update(f"{part.get_content_type()}:{len(lines)}\n".encode() + lines + b"\n")
        except Exception:  # noqa: BLE001 - an unparsable message: its normalised bytes
            digest.update(self.raw.replace(b"\r\n", b"\n"))
        return digest.hexdigest()


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID of a raw message (angle brackets and folding removed), if any: read from
    the bytes, so that every version of the gateway names a message alike."""
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    match = _MESSAGE_ID.search(head)
    if not match:
        return None
    value = re.sub(rb"\s+", b"", match.group(1)).decode("ascii", "replace").strip("<>")
    return value or None
