"""SMTP transport: an aiosmtpd listener that answers 250 only once a message is spooled.

Unknown recipients are refused at RCPT time (550), oversized data by aiosmtpd itself
(552, from ``data_size_limit``), empty data (554), and every refusal known before the 250
(sender, person, authentication: ``screen``) in the session, so that the sending MTA tells
its sender and nothing is accepted only to be dropped. Any failure to store answers 451 so
that the sending MTA keeps the message and retries. SMTPUTF8 is advertised (RFC 6531/6532)
and lines of any length are accepted (as Postfix does): a line can be as long as a message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from ...messages import refusal_reason
from .outcomes import Refused, TemporaryFailure
from .spool import Spool

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 2525


Screen = Callable[[bytes, dict[str, Any]], "Refused | TemporaryFailure | None"]
_SMTP_CODES = {
    "oversize": "552 5.3.4",
    "unknown_recipient": "550 5.1.1",
    "bad_token": "550 5.1.1",
    "unknown_person": "550 5.1.1",
    "malformed": "550 5.6.0",
}


def smtp_reply(reason: str) -> str:
    """The SMTP reply refusing a message in the session, with the English explanation."""
    return f"{_SMTP_CODES.get(reason, '550 5.7.1')} {refusal_reason(reason, 'en')}"


class SpoolingHandler:
    """aiosmtpd handler: check recipients with ``accepts``, refuse what ``screen`` refuses,
    spool DATA, then ``on_accepted``."""

    def __init__(
        self,
        spool: Spool,
        accepts: Callable[[str], bool],
        on_accepted: Callable[[str], None] = lambda entry_id: None,
        screen: Screen | None = None,
    ) -> None:
        """``screen`` (Gateway.screen): the refusal known before the 250, run in a worker
        thread (it may look DKIM keys up); it may add to the metadata spooled with the message."""
        self.spool = spool
        self.accepts = accepts
        self.on_accepted = on_accepted
        self.screen = screen

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        """Accept only reply addresses whose token verifies."""
        try:
            ok = self.accepts(address)
        except Exception:
            log.exception("recipient check failed for %s", address)
            return "451 4.3.0 Temporary failure checking the recipient"
        if not ok:
            return "550 5.1.1 No such reply address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Store the message durably; answer 250 only after the spool has it on disk."""
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):  # only if someone configures decode_data=True
            raw = raw.encode("utf-8", "surrogateescape")
        if not raw.strip():
            return "554 5.6.0 Empty message"
        meta: dict[str, Any] = {
            "transport": "smtp",
            "return_path": envelope.mail_from or "",
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": str(session.peer[0]) if session.peer else "",
            "helo": session.host_name or "",
            "received_at": time.time(),
        }
        if self.screen is not None:
            try:
                verdict = await asyncio.get_running_loop().run_in_executor(None, self.screen, raw, meta)
            except Exception:
                log.exception("screening a message from %s failed", envelope.mail_from)
                return "451 4.3.0 Temporary failure checking the message, try again later"
            if isinstance(verdict, TemporaryFailure):
                return f"451 4.7.0 {verdict.reason[:200]}, try again later"
            if isinstance(verdict, Refused):
                log.info("refused in the session, from %s: %s", envelope.mail_from, verdict.reason)
                return smtp_reply(verdict.reason)
        try:
            # Blocking disk I/O on the loop thread is deliberate: fsync is short, and
            # answering before it completes would break the durability promise.
            entry_id = self.spool.accept(raw, meta)
        except Exception:
            log.exception("could not spool a message from %s", envelope.mail_from)
            return "451 4.3.0 Could not store the message, try again later"
        try:
            self.on_accepted(entry_id)
        except Exception:
            log.exception("on_accepted callback failed")  # the message is safe anyway
        return f"250 2.0.0 Queued as {entry_id}"


class LongLineSMTP(SMTP):
    """aiosmtpd's SMTP with a line length limit of our choosing (RFC 5321 says 1,000 bytes,
    but real mail breaks it and MTAs accept it: refusing would lose the message)."""

    def __init__(self, handler: Any, *, line_length_limit: int, **kwargs: Any) -> None:
        self.line_length_limit = line_length_limit  # read by SMTP.__init__ for its stream
        super().__init__(handler, **kwargs)


class SmtpListener(Controller):
    """A threaded aiosmtpd controller; ``port=0`` picks a free port (see ``self.port``)."""

    def __init__(
        self,
        handler: SpoolingHandler,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        max_size: int = 25 * 1024 * 1024,
        server_hostname: str | None = None,
        **smtp_kwargs: Any,
    ) -> None:
        super().__init__(
            handler,
            hostname=host,
            port=port,
            server_hostname=server_hostname,
            data_size_limit=max_size,
            enable_SMTPUTF8=True,
            **smtp_kwargs,
        )
        self.max_line = max_size + 2

    def factory(self) -> SMTP:
        """The SMTP protocol instance of one connection."""
        return LongLineSMTP(self.handler, line_length_limit=self.max_line, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        if self.server is not None and self.server.sockets:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def parse_listen(value: str) -> tuple[str, int]:
    """Split a ``host:port`` setting (``[::1]:2525`` for IPv6)."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"listen must be host:port, not {value!r}")
    return host.strip("[]"), int(port)
