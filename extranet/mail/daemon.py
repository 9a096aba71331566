"""``extranet gateway``: the SMTP listener and/or IMAP watcher feeding one spool processor.

Transports only spool and wake the processor; the processor runs in the calling thread,
so a crash or stop anywhere leaves the spool as the single source of truth. The transports
start first: mail is accepted into the spool from the first second, while the processor
warms up and works through a backlog.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .inbound.gateway import Gateway
from .inbound.imap import ImapSettings, ImapSource
from .inbound.outcomes import Outcome
from .inbound.smtp import SmtpListener, SpoolingHandler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transports:
    """Which inbound transports to run: SMTP ``(host, port)``, IMAP settings, or both."""

    smtp: tuple[str, int] | None = None
    imap: ImapSettings | None = None
    imap_checkpoint: Path | None = None  # default: <spool>/imap-checkpoint.json


def run_gateway(gateway: Gateway, transports: Transports, stop: threading.Event, interval: float = 5.0,
                prepare: Callable[[], None] | None = None,
                after: Callable[[list[Outcome]], None] | None = None) -> None:
    """Run the configured transports and process the spool until ``stop`` is set; ``prepare``
    (a first build, say) runs once the transports accept mail, before the first pass, and
    ``after`` is given the outcomes of each batch (see Gateway.run)."""
    if transports.smtp is None and transports.imap is None:
        raise ValueError("no inbound transport configured: set [mail.smtp] and/or [mail.imap]")
    wake = lambda entry_id: gateway.wake.set()  # noqa: E731
    listener: SmtpListener | None = None
    imap_thread: threading.Thread | None = None
    try:
        if transports.smtp is not None:
            host, port = transports.smtp
            listener = SmtpListener(
                SpoolingHandler(gateway.spool, gateway.check_recipient, wake, gateway.screen),
                host, port, max_size=gateway.policy.max_size,
            )
            listener.start()
            log.info("SMTP listening on %s:%s", host, listener.port)
        if transports.imap is not None:
            checkpoint = transports.imap_checkpoint or gateway.spool.root / "imap-checkpoint.json"
            source = ImapSource(transports.imap, gateway.spool, checkpoint, wake)
            imap_thread = threading.Thread(target=source.run, args=(stop,), name="imap", daemon=True)
            imap_thread.start()
            log.info("IMAP watching %s@%s/%s", transports.imap.user, transports.imap.host, transports.imap.folder)
        stop_waker = threading.Thread(target=lambda: (stop.wait(), gateway.wake.set()), daemon=True)
        stop_waker.start()
        if prepare is not None:
            prepare()
        gateway.run(stop, interval=interval, after=after)
    finally:
        stop.set()
        if listener is not None:
            listener.stop()
        if imap_thread is not None:
            imap_thread.join(timeout=30)
