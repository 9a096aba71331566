"""Handing queued messages over: an SMTP relay, or the local outbox folder when none is set.

`deliver()` walks the queue of the sent log. Each message is marked `sending` (committed)
before it is handed over and `sent` right after the relay's 250, so a run killed at any
point resumes with the messages it had not finished. The only window that can duplicate a
message is between the relay's 250 and our commit (a few milliseconds; RFC 1047): the resent
copy carries the same Message-ID, which mail clients and most stores fold into one.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import os
import random
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ...config import Relay, Settings
from ...errors import ExtranetError
from ...output import atomic_write
from .sent_log import Queued, SentLog

PASSWORD_ENV = "EXTRANET_RELAY_PASSWORD"
GIVE_UP_AFTER = dt.timedelta(days=3)


class TemporaryFailure(Exception):
    """The relay said 4xx or could not be reached: try again later.

    `whole_relay` is True when no message can go through now (connection refused, login
    failed, ...), so the run stops instead of trying every queued message in turn."""

    def __init__(self, message: str, whole_relay: bool = False) -> None:
        super().__init__(message)
        self.whole_relay = whole_relay


class PermanentFailure(Exception):
    """The relay refused the message for good (5xx): never tried again."""


class Transport(Protocol):
    """Where messages go; `send` raises TemporaryFailure or PermanentFailure."""

    description: str

    def send(self, item: Queued) -> None: ...

    def close(self) -> None: ...


class OutboxTransport:
    """No relay configured: one `.eml` file per message in `.extranet/outbox/`, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = f"outbox {folder}"

    def send(self, item: Queued) -> None:
        """Write the message under a name fixed by its queue entry (a resumed run rewrites the same file)."""
        name = f"{item.queued_at:%Y%m%d-%H%M%S}-{item.id:06d}.eml"
        atomic_write(self.folder / name, item.raw, mode=0o600)

    def close(self) -> None:
        """Nothing to close."""


class SmtpTransport:
    """An SMTP relay (STARTTLS, TLS or plain), one connection reused for the whole run."""

    def __init__(self, relay: Relay, password: str | None, timeout: float = 60.0) -> None:
        if relay.user and not password:
            raise ExtranetError(f"[mail.relay] user is set but ${PASSWORD_ENV} is empty")
        self.relay = relay
        self.password = password
        self.timeout = timeout
        self.smtp: smtplib.SMTP | None = None
        self.description = f"relay {relay.host}:{relay.port}"

    def _connect(self) -> smtplib.SMTP:
        r = self.relay
        try:
            if r.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(r.host, r.port, timeout=self.timeout,
                                                      context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(r.host, r.port, timeout=self.timeout)
                if r.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if r.user:
                smtp.login(r.user, self.password or "")
        except smtplib.SMTPAuthenticationError as e:
            raise TemporaryFailure(f"{self.description}: login refused ({e.smtp_code})", whole_relay=True) from None
        except (OSError, smtplib.SMTPException) as e:
            raise TemporaryFailure(f"{self.description}: {_reason(e)}", whole_relay=True) from None
        return smtp

    def check(self) -> None:
        """Connect and log in as a run would, then say QUIT (extranet doctor)."""
        self.smtp = self._connect()
        self.close()

    def send(self, item: Queued) -> None:
        """Send one message to its one recipient; SMTP codes become Temporary/PermanentFailure."""
        for again in (True, False):
            if self.smtp is None:
                self.smtp = self._connect()
            try:
                self.smtp.sendmail(item.sender, [item.recipient], item.raw)
                return
            except smtplib.SMTPServerDisconnected as e:
                self.smtp = None  # the relay closed an idle connection: reconnect once
                if not again:
                    raise TemporaryFailure(f"{self.description}: {_reason(e)}", whole_relay=True) from None
            except smtplib.SMTPRecipientsRefused as e:
                code, text = next(iter(e.recipients.values()))
                raise _by_code(code, text) from None
            except smtplib.SMTPResponseException as e:
                self._reset()
                raise _by_code(e.smtp_code, e.smtp_error) from None
            except (OSError, smtplib.SMTPException) as e:
                self.close()
                raise TemporaryFailure(f"{self.description}: {_reason(e)}", whole_relay=True) from None

    def _reset(self) -> None:
        try:
            if self.smtp is not None:
                self.smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self) -> None:
        """Say QUIT (or just drop the connection if the relay is gone)."""
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                self.smtp.close()
            self.smtp = None


def _reason(e: BaseException) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "timed out"
    return str(e) or type(e).__name__


def _by_code(code: int, text: bytes | str) -> Exception:
    msg = f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}".strip()
    return TemporaryFailure(msg) if 400 <= code < 500 else PermanentFailure(msg)


def transport_for(settings: Settings) -> Transport:
    """The configured relay, or the outbox folder when there is none."""
    if settings.mail.relay is None:
        return OutboxTransport(settings.state_dir / "outbox")
    return SmtpTransport(settings.mail.relay, os.environ.get(PASSWORD_ENV))


@dataclass
class Delivered:
    """What one pass over the queue did."""

    sent: int = 0
    resumed: int = 0  # messages a previous run had started to send
    deferred: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    waiting: int = 0  # left in the queue because the relay is unreachable


def deliver(log: SentLog, transport: Transport, *, now: Callable[[], dt.datetime] = dt.datetime.now,
            delays: Sequence[float] = (2.0, 10.0), sleep: Callable[[float], None] = time.sleep,
            progress: Callable[[str], None] | None = None) -> Delivered:
    """Send every due message of the queue; retry temporary failures after `delays` seconds."""
    out = Delivered()
    due = log.due(now())
    try:
        for n, item in enumerate(due):
            if item.state == "sending":
                out.resumed += 1
            log.mark_sending(item, now())
            error: TemporaryFailure | None = None
            for delay in (0.0, *delays):
                if delay:
                    sleep(delay)
                try:
                    transport.send(item)
                except TemporaryFailure as e:
                    error = e
                    continue
                except PermanentFailure as e:
                    log.mark_failed(item, str(e), now())
                    out.failed.append(f"{item.recipient} ({item.label}): refused: {e}")
                    error = None
                    break
                log.mark_sent(item, now())
                out.sent += 1
                error = None
                if progress:
                    progress(f"sent {n + 1}/{len(due)}")
                break
            if error is None:
                continue
            first = item.first_try or now()
            if now() - first > GIVE_UP_AFTER:
                log.mark_failed(item, f"gave up after {GIVE_UP_AFTER.days} days: {error}", now())
                out.failed.append(f"{item.recipient} ({item.label}): gave up after {GIVE_UP_AFTER.days} days: {error}")
            else:
                wait = min(dt.timedelta(minutes=5) * 2 ** max(item.attempts, 0), dt.timedelta(hours=1))
                log.mark_deferred(item, str(error), now() + wait)
                out.deferred.append(f"{item.recipient} ({item.label}): {error}; next try after {now() + wait:%H:%M}")
            if error.whole_relay:
                out.waiting = len(due) - n - 1
                break
    finally:
        transport.close()
    return out


def send_now(settings: Settings, msg, *, label: str = "notice") -> None:
    """Send one message right away (refusal notices, reports to staff), not through the queue.

    A failure is logged by the caller: such messages are courtesy, never worth retrying
    forever, and never a reason to lose or repeat a post.
    """
    raw = bytes(msg)
    recipient = email.utils.parseaddr(str(msg["To"]))[1]
    now = dt.datetime.now()
    item = Queued(random.getrandbits(31), str(msg.get("Message-ID", "")), "", settings.mail.from_addr,
                  recipient, label, raw, "sending", 0, now, now)
    transport = transport_for(settings)
    try:
        transport.send(item)
    finally:
        transport.close()
