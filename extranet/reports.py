"""Telling people by mail what needs a person: a deploy that keeps failing, a git pull that conflicts.

The message goes to the addresses configured for it, else to the site's active staff; it is
marked automatic (no auto-reply, and the gateway drops any reply to it as a loop). Sending
goes through the relay, or into the outbox when none is set; a failure is logged, never raised.
"""

from __future__ import annotations

import datetime as dt
import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from . import config
from .content.model import Site
from .mail.outbound.relay import send_now
from .zones import Rules

log = logging.getLogger("extranet")


def recipients(root: Path, configured: tuple[str, ...]) -> list[str]:
    """The configured addresses, else the email of every active staff member."""
    if configured:
        return list(configured)
    settings, people = config.load(root)
    rules = Rules(Site(settings, people, (), ()), dt.datetime.now())
    return sorted(p.email for p in rules.staff())


def tell(root: Path, configured: tuple[str, ...], subject: str, text: str) -> None:
    """Mail `text` to the people who should act on it (logged as an error too)."""
    log.error("%s: %s", subject, text.splitlines()[0] if text else "")
    try:
        settings, _ = config.load(root)
        to = recipients(root, configured)
    except Exception as e:  # noqa: BLE001 - a report never stops the gateway
        log.warning("could not tell staff (%s): %s", subject, e)
        return
    for address in to:
        msg = EmailMessage()
        msg["From"] = settings.mail.from_addr or "extranet@localhost"
        msg["To"] = address
        msg["Subject"] = f"[{settings.title}] {subject}"
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain=settings.mail.reply_domain or "localhost")
        msg["Auto-Submitted"] = "auto-generated"
        if settings.mail.reply_domain:
            msg["X-Extranet-Loop"] = settings.mail.reply_domain
        msg.set_content(text)
        try:
            send_now(settings, msg, label="report")
        except Exception as e:  # noqa: BLE001
            log.warning("could not send a report to %s: %s", address, e)
