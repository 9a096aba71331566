"""Pure classification of inbound mail: automated or looping mail, the sender, the reply address.

No I/O here: each function takes a message's header (``InboundMessage.header``) and returns
a value, so every refusal rule is a one-line unit test.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

from .. import LOOP_HEADER
from ..tokens import Kind, address_domain, parse_address

Automation = Literal["auto_reply", "bounce", "list", "loop"]


@dataclass(frozen=True)
class Screened:
    """Why a message is automated (no human to answer), or None for a human message."""

    kind: Automation
    detail: str


def classify(
    msg: EmailMessage,
    *,
    return_path: str | None,
    own_addresses: Iterable[str],
    loop_id: str,
) -> Screened | None:
    """Tell auto-replies, bounces, mailing lists and our own mail coming back apart
    from human mail; None means "a human wrote this".

    ``return_path`` is the envelope sender (SMTP MAIL FROM, or the Return-Path header);
    ``""`` is the null sender ``<>`` used by bounces and auto-replies; None means unknown.
    """
    own = {a.lower() for a in own_addresses}
    for value in msg.get_all(LOOP_HEADER, []):
        if str(value).strip().lower() == loop_id.lower():
            return Screened("loop", f"{LOOP_HEADER}: {value}")
    from_addrs = [addr.lower() for _, addr in email.utils.getaddresses([str(v) for v in msg.get_all("From", [])])]
    if any(addr in own for addr in from_addrs):
        return Screened("loop", "From is our own address")
    if msg.get_content_type() == "multipart/report":
        return Screened("bounce", "multipart/report")
    local_parts = [addr.partition("@")[0] for addr in from_addrs]
    if return_path is not None:
        local_parts.append(return_path.strip("<>").partition("@")[0].lower())
    if any(part in {"mailer-daemon", "postmaster"} for part in local_parts if part):
        return Screened("bounce", "from MAILER-DAEMON")
    auto = str(msg.get("Auto-Submitted", "")).split(";")[0].strip().lower()
    if auto and auto != "no":
        return Screened("auto_reply", f"Auto-Submitted: {auto}")
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if name in msg:
            return Screened("auto_reply", name)
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return Screened("list" if precedence == "list" else "auto_reply", f"Precedence: {precedence}")
    if "List-Id" in msg or "List-Unsubscribe" in msg:
        return Screened("list", "List-Id")
    if return_path is not None and return_path.strip() in {"", "<>"}:
        return Screened("auto_reply", "null return path <>")
    return None


def sender_address(msg: EmailMessage) -> str | None:
    """The single From address, lowercased, or None if From is missing, ambiguous or malformed.

    Two parsers must agree (the structured ``headerregistry`` one and the legacy
    ``getaddresses``): a header that parsers read differently is how forged senders slip
    past a check, so disagreement is a refusal.
    """
    values = msg.get_all("From", [])
    if len(values) != 1:
        return None
    header = values[0]
    try:
        addresses = header.addresses  # type: ignore[union-attr]
    except AttributeError:
        return None
    if len(addresses) != 1 or getattr(header, "defects", ()):
        return None
    structured = addresses[0].addr_spec
    legacy = email.utils.getaddresses([str(header)])
    if len(legacy) != 1 or legacy[0][1] != structured:
        return None
    local, at, domain = structured.rpartition("@")
    if not at or not local or "." not in domain or any(c in structured for c in " \t\r\n<>,;\"\\"):
        return None
    return structured.lower()


def same_address(a: str, b: str) -> bool:
    """Compare two email addresses case-insensitively (local parts in practice are)."""
    return a.strip().lower() == b.strip().lower()


RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")


def reply_address(
    msg: EmailMessage, rcpt_tos: Iterable[str], reply_domain: str
) -> tuple[str, Kind, str] | None:
    """Find the reply address a message was sent to: (address, kind, token).

    The envelope recipients (SMTP RCPT TO, or an MTA pipe argument) are trusted first;
    headers (as left by IMAP delivery) are the fallback.
    """
    candidates = list(rcpt_tos)
    for name in RECIPIENT_HEADERS:
        values = [str(v) for v in msg.get_all(name, [])]
        candidates.extend(addr for _, addr in email.utils.getaddresses(values))
    for addr in candidates:
        parsed = parse_address(addr)
        if parsed and address_domain(addr) == reply_domain.lower():
            return addr.strip().strip("<>").lower(), parsed[0], parsed[1]
    return None
