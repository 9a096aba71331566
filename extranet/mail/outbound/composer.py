"""Every message the site sends, in one shape: notifications, digests, confirmations, refusal notices.

From the site (its title and `[mail] from`), to one person, dated, with a Message-ID, marked
automatic (RFC 3834 `Auto-Submitted`, `X-Auto-Response-Suppress`) and with the loop header,
so that vacation responders stay quiet and the gateway drops whatever comes back. Lines end in
CRLF, as on the wire. A message with an HTML alternative has both parts quoted-printable
(HTML lines may exceed SMTP's line limit); a plain message is left to the library's choice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid

from ...config import Settings
from .. import LOOP_HEADER
from ...messages import refusal_reason, texts
from .sent_log import Outgoing


@dataclass(frozen=True)
class Sender:
    """The site as the author of its mail: its title, address, reply domain and language."""

    title: str
    address: str  # [mail] from
    domain: str  # [mail] reply_domain: Message-IDs, and the loop header's value
    language: str

    @classmethod
    def of(cls, settings: Settings) -> Sender:
        """The sender a site's settings name."""
        return cls(settings.title, settings.mail.from_addr, settings.mail.reply_domain, settings.language)


@dataclass(frozen=True)
class File:
    """An attachment: its name as shown, and its bytes."""

    name: str
    data: bytes


class Composer:
    """Writes the site's messages; `message` is the one envelope all of them share."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender

    def message(self, to: str, subject: str, message_id: str, *, text: str, html: str | None = None,
                date: dt.datetime | None = None, auto_submitted: str = "auto-generated",
                references: Sequence[str] = (), reply_to: str | None = None,
                files: Iterable[File] = ()) -> EmailMessage:
        """One message to `to` (an address, maybe with a name); `references`: the Message-IDs it
        answers, oldest first (the last one is its In-Reply-To)."""
        msg = EmailMessage(policy=SMTP)
        msg["From"] = formataddr((self.sender.title, self.sender.address))
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = format_datetime((date or dt.datetime.now()).astimezone())
        msg["Message-ID"] = message_id
        msg["Auto-Submitted"] = auto_submitted
        msg[LOOP_HEADER] = self.sender.domain
        msg["X-Auto-Response-Suppress"] = "All"
        if references:
            msg["In-Reply-To"] = references[-1]
            msg["References"] = " ".join(references)
        if reply_to:
            msg["Reply-To"] = reply_to
        if html is None:
            msg.set_content(text)
        else:
            msg.set_content(text, cte="quoted-printable")
            msg.add_alternative(html, subtype="html", cte="quoted-printable")
        for file in files:
            maintype, subtype = (mimetypes.guess_type(file.name)[0] or "application/octet-stream").split("/", 1)
            msg.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=file.name)
        return msg

    def outgoing(self, msg: EmailMessage, person: str, recipient: str, label: str) -> Outgoing:
        """A composed message, ready for the outgoing queue."""
        return Outgoing(str(msg["Message-ID"]), person, self.sender.address, recipient, label, msg.as_bytes())

    def confirmation(self, *, post_ref: str, person: str, to: str, title: str, link: str | None) -> Outgoing:
        """The confirmation to the sender of a post (`link` None: it waits for moderation); its
        Message-ID is fixed by the post and the person, so the queue holds it once."""
        words = texts("confirmation", self.sender.language)
        digest = hashlib.sha256(f"confirm\0{post_ref}\0{person}".encode()).hexdigest()[:32]
        text = (words["pending"].format(site=self.sender.title) + "\n" if link is None
                else words["posted"].format(site=self.sender.title) + f"\n{link}\n")
        msg = self.message(to, words["subject"].format(title=title), f"<confirm-{digest}@{self.sender.domain}>",
                           text=text, auto_submitted="auto-replied")
        return self.outgoing(msg, person, to, f"confirmation of {post_ref}")

    def refusal(self, to: str, reason: str, *, subject: str = "", in_reply_to: str | None = None) -> EmailMessage:
        """The explanation of one refusal, answering the refused message (`in_reply_to`, its
        Message-ID without brackets)."""
        words = texts("refusal", self.sender.language)
        text = (f"{words['intro'].format(site=self.sender.title)}\n\n{refusal_reason(reason, self.sender.language)}"
                f"\n\n-- \n{words['outro']}\n")
        return self.message(to, words["subject"].format(subject=" ".join(subject.split())[:120] or "—"),
                            make_msgid(domain=self.sender.address.rpartition("@")[2] or None), text=text,
                            auto_submitted="auto-replied", references=(f"<{in_reply_to}>",) if in_reply_to else ())
