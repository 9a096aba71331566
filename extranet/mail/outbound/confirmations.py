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
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ...config import Person
from ...content.model import Post
from ...site.urls import Urls
from ...zones import Rules
from ..inbound.spool import Spool
from .composer import Composer
from .post_mail import page_url
from .relay import Transport, deliver
from .sent_log import Outgoing, SentLog

log = logging.getLogger("extranet")
CURSOR = "confirmations"
LATER = "later"
"""What a confirmation writer returns for a confirmation it cannot write yet (the post is not
published yet): the cursor stops there, and the next pass starts again from it."""

Confirm = Callable[[Mapping[str, Any]], "Outgoing | None | str"]
"""A posted record (its "ref" and "person") -> the confirmation, None (nobody to confirm to:
the post or the person is gone), or LATER."""


def confirmation_of(composer: Composer, rules: Rules, urls: Mapping[str, Urls], post: Post, person: Person) -> Outgoing:
    """The confirmation of `post` to its author, with a link to the page the zone rules let
    them open (none while the post waits for moderation)."""
    zone = rules.confirmation_zone(person, post)
    link = None if zone is None else page_url(rules.settings, zone, urls[zone].post(post))
    return composer.confirmation(post_ref=post.key, person=person.id, to=person.email, title=post.title, link=link)


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

    def send(self, confirm: Confirm) -> int:
        """Queue the confirmations of the posts recorded since the cursor, up to the first one
        that must wait, then send what the queue holds; returns how many were queued."""
        with SentLog.open(self.state_dir) as sent:
            position = sent.cursor(CURSOR) or 0
            outgoing: list[Outgoing] = []
            for record, after in self.spool.records_from(position):
                if record.get("outcome") == "posted":
                    made = confirm(record)
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
