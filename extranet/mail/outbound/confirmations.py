"""Confirmations ("Posted: ..."): one to the sender of each posted message, never lost, never twice.

The spool's processed index is the durable record of every posted message. A cursor kept in
the sent log says how far into it confirmations were queued; it moves in the same
transaction that queues them (SentLog.queue_from). Each confirmation's Message-ID is fixed by
its post and person, and the outgoing queue holds a (Message-ID, recipient) pair once, so a
crash at any point queues each confirmation exactly once; sending it is the queue's
(relay.deliver: queued -> sending -> sent, resumed after a crash), like every notification.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from .relay import Transport, deliver
from ..inbound.screening import LOOP_HEADER
from .sent_log import Outgoing, SentLog
from ..inbound.spool import Spool

log = logging.getLogger("extranet")
CURSOR = "confirmations"
LATER = "later"
"""What a composer returns for a confirmation it cannot write yet (the post is not published
yet): the cursor stops there, and the next pass starts again from it."""

Composer = Callable[[Mapping[str, Any]], "Outgoing | None | str"]
"""A posted record (its "ref" and "person") -> the confirmation, None (nobody to confirm to:
the post or the person is gone), or LATER."""

TEXTS = {
    "fr": {"subject": "Publié : {title}", "posted": "Votre message a été publié sur {site} :",
           "pending": "Votre message a bien été reçu ; il sera publié sur {site} après validation par l'équipe."},
    "en": {"subject": "Posted: {title}", "posted": "Your message is now on {site}:",
           "pending": "Your message was received; it will appear on {site} once the team approves it."},
}


def confirmation_id(post_ref: str, person: str, domain: str) -> str:
    """The Message-ID of the confirmation of one post to one person: the same every time."""
    digest = hashlib.sha256(f"confirm\0{post_ref}\0{person}".encode()).hexdigest()[:32]
    return f"<confirm-{digest}@{domain}>"


def confirmation(*, post_ref: str, person: str, to: str, title: str, link: str | None, language: str,
                 site: str, from_addr: str, domain: str) -> Outgoing:
    """The confirmation of a post (``link`` None: it waits for moderation), ready to queue."""
    texts = TEXTS.get(language, TEXTS["en"])
    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = to
    msg["Subject"] = texts["subject"].format(title=title)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = confirmation_id(post_ref, person, domain)
    msg["Auto-Submitted"] = "auto-replied"
    msg[LOOP_HEADER] = domain
    if link is None:
        msg.set_content(texts["pending"].format(site=site) + "\n")
    else:
        msg.set_content(texts["posted"].format(site=site) + f"\n{link}\n")
    return Outgoing(str(msg["Message-ID"]), person, from_addr, to, f"confirmation of {post_ref}", bytes(msg))


class Confirmations:
    """Queues the confirmations of newly posted messages and sends the queue."""

    def __init__(self, spool: Spool, state_dir: Path, transport: Callable[[], Transport]) -> None:
        self.spool = spool
        self.state_dir = state_dir
        self.transport = transport

    def start(self) -> None:
        """On first use, confirm only what is posted from now on (not a site's whole history)."""
        with SentLog.open(self.state_dir) as sent:
            if sent.cursor(CURSOR) is None:
                sent.queue_from(dt.datetime.now(), [], CURSOR, self.spool.index_size())

    def send(self, compose: Composer) -> int:
        """Queue the confirmations of the posts recorded since the cursor, up to the first one
        that must wait, then send what the queue holds; returns how many were queued."""
        with SentLog.open(self.state_dir) as sent:
            position = sent.cursor(CURSOR) or 0
            outgoing: list[Outgoing] = []
            for record, after in self.spool.records_from(position):
                if record.get("outcome") == "posted":
                    made = compose(record)
                    if made == LATER:
                        break
                    if isinstance(made, Outgoing):
                        outgoing.append(made)
                position = after
            sent.queue_from(dt.datetime.now(), outgoing, CURSOR, position)
            done = deliver(sent, self.transport(), delays=())
        for line in done.deferred + done.failed:
            log.warning("confirmation or notification not sent: %s", line)
        return len(outgoing)
